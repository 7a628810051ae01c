// The dashboard: the invite page at /invites/{token}, else sign-in, else the signed-in shell with one page per route.
import { render, type FunctionComponent } from "preact";
import { useCallback, useEffect, useState } from "preact/hooks";
import { get, post } from "./api";
import { ErrorNote, Field, Loading, messageOf, useAction } from "./components";
import { AppContext, type AppState } from "./context";
import { AnalyticsPage } from "./pages/analytics";
import { AuthPage } from "./pages/auth";
import { CredentialsPage } from "./pages/credentials";
import { InvitePage } from "./pages/invite";
import { OverviewPage } from "./pages/overview";
import { ProjectsPage } from "./pages/projects";
import { RequestsPage } from "./pages/requests";
import { SavingsPage } from "./pages/savings";
import { SettingsPage } from "./pages/settings";
import { TeamPage } from "./pages/team";
import { navigate, useRoute } from "./router";
import { session } from "./session";
import type { User, Workspace } from "./types";

const pages: { route: string; title: string; component: FunctionComponent }[] = [
  { route: "overview", title: "Overview", component: OverviewPage },
  { route: "analytics", title: "Analytics", component: AnalyticsPage },
  { route: "projects", title: "Projects", component: ProjectsPage },
  { route: "credentials", title: "Provider credentials", component: CredentialsPage },
  { route: "requests", title: "Requests", component: RequestsPage },
  { route: "savings", title: "Savings & ROI", component: SavingsPage },
  { route: "team", title: "Team", component: TeamPage },
  { route: "settings", title: "Settings", component: SettingsPage },
];

function useSessionToken(): string | null {
  const [token, setToken] = useState(session.token);
  useEffect(() => session.subscribe(() => setToken(session.token)), []);
  return token;
}

function App() {
  const token = useSessionToken();
  const invite = /^\/invites\/([^/]+)\/?$/.exec(location.pathname);
  if (invite) return <InvitePage token={decodeURIComponent(invite[1])} />;
  return token ? <SignedIn key={token} /> : <AuthPage />;
}

function SignedIn() {
  const [user, setUser] = useState<User | null>(null);
  const [workspaces, setWorkspaces] = useState<Workspace[]>([]);
  const [selected, setSelected] = useState<string | null>(session.workspaceId);
  const [error, setError] = useState("");

  const refreshWorkspaces = useCallback(async (select?: string) => {
    const me = await get<{ user: User; workspaces: Workspace[] }>("/api/me");
    setUser(me.user);
    setWorkspaces(me.workspaces);
    if (select) setSelected(select);
  }, []);

  useEffect(() => {
    refreshWorkspaces().catch((failure) => setError(messageOf(failure)));
  }, [refreshWorkspaces]);

  const workspace = workspaces.find((w) => w.id === selected) ?? workspaces[0];
  useEffect(() => {
    if (workspace) session.workspaceId = workspace.id;
  }, [workspace?.id]);

  if (error) {
    return (
      <main class="auth">
        <ErrorNote message={error} />
        <button type="button" onClick={() => session.end()}>
          Sign out
        </button>
      </main>
    );
  }
  if (!user) return <Loading />;
  if (!workspace) {
    return (
      <main class="auth">
        <div class="auth-card">
          <h1>No workspace</h1>
          <p>You are not a member of any workspace. Create one, or open an invite link you were sent.</p>
          <NewWorkspace onCreated={(id) => refreshWorkspaces(id)} />
          <button type="button" onClick={() => session.end()}>
            Sign out
          </button>
        </div>
      </main>
    );
  }
  const state: AppState = { user, workspaces, workspace, refreshWorkspaces, selectWorkspace: setSelected };
  return (
    <AppContext.Provider value={state}>
      <Shell />
    </AppContext.Provider>
  );
}

function Shell() {
  const route = useRoute();
  const [creating, setCreating] = useState(false);
  const [menuOpen, setMenuOpen] = useState(false);
  return (
    <AppContext.Consumer>
      {(state) => {
        const app = state!;
        const page = pages.find((p) => p.route === route) ?? pages[0];
        const Current = page.component;
        return (
          <div class="shell">
            <a class="skip" href="#main">
              Skip to content
            </a>
            <header class="topbar">
              <span class="brand">KillToken</span>
              <button type="button" class="menu-toggle" aria-expanded={menuOpen} aria-controls="main-nav" onClick={() => setMenuOpen(!menuOpen)}>
                Menu
              </button>
              <div class="workspace-switcher">
                <label for="workspace-select">Workspace</label>
                <select
                  id="workspace-select"
                  value={app.workspace.id}
                  onChange={(event) => app.selectWorkspace((event.target as HTMLSelectElement).value)}
                >
                  {app.workspaces.map((w) => (
                    <option key={w.id} value={w.id}>
                      {w.name}
                    </option>
                  ))}
                </select>
                <button type="button" onClick={() => setCreating(!creating)} aria-expanded={creating}>
                  New workspace
                </button>
              </div>
              <span class="who" title={app.user.email}>
                {app.user.name ?? app.user.email} · {app.workspace.role}
              </span>
              <button type="button" onClick={() => session.end()}>
                Sign out
              </button>
            </header>
            {creating ? (
              <div class="panel">
                <NewWorkspace
                  onCreated={async (id) => {
                    await app.refreshWorkspaces(id);
                    setCreating(false);
                  }}
                />
              </div>
            ) : null}
            <nav id="main-nav" aria-label="Main" class={menuOpen ? "open" : ""}>
              <ul>
                {pages.map((p) => (
                  <li key={p.route}>
                    <a href={`#/${p.route}`} aria-current={p === page ? "page" : undefined} onClick={() => setMenuOpen(false)}>
                      {p.title}
                    </a>
                  </li>
                ))}
              </ul>
            </nav>
            <main id="main" tabIndex={-1}>
              <Current key={`${page.route}:${app.workspace.id}`} />
            </main>
          </div>
        );
      }}
    </AppContext.Consumer>
  );
}

function NewWorkspace({ onCreated }: { onCreated: (id: string) => Promise<void> | void }) {
  const [name, setName] = useState("");
  const { busy, error, run } = useAction();
  return (
    <form
      class="inline-form"
      onSubmit={(event) => {
        event.preventDefault();
        void run(async () => {
          const created = await post<{ workspace?: Workspace } & Partial<Workspace>>("/api/workspaces", { name: name.trim() });
          const id = created.workspace?.id ?? created.id;
          setName("");
          if (id) await onCreated(id);
        });
      }}
    >
      <Field label="New workspace name" value={name} onInput={setName} required />
      <button type="submit" class="primary" disabled={busy}>
        Create workspace
      </button>
      <ErrorNote message={error} />
    </form>
  );
}

// A budget alert links to /projects/{id}: the same document, shown at the projects page.
if (/^\/projects\/[^/]+\/?$/.test(location.pathname)) history.replaceState(null, "", "/#/projects");
else if (!location.hash && location.pathname === "/") navigate("overview");
const root = document.getElementById("app")!;
root.replaceChildren(); // the boot message ("Loading…") of index.html
render(<App />, root);
