// What every signed-in page can read: who is signed in, their workspaces and the one they are looking at.
import { createContext } from "preact";
import { useContext } from "preact/hooks";
import type { User, Workspace } from "./types";

export interface AppState {
  user: User;
  workspaces: Workspace[];
  workspace: Workspace;
  /** Re-reads the workspace list (after a create, rename, delete or accepted invite) and optionally switches. */
  refreshWorkspaces: (select?: string) => Promise<void>;
  selectWorkspace: (id: string) => void;
}

export const AppContext = createContext<AppState | null>(null);

export function useApp(): AppState {
  const state = useContext(AppContext);
  if (!state) throw new Error("useApp outside a signed-in page");
  return state;
}

/** Owners and admins manage; members read. */
export const canManage = (workspace: Workspace) => workspace.role === "owner" || workspace.role === "admin";
