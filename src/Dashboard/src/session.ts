// The session lives in localStorage so it survives reloads; it never travels in a URL, only in the Authorization header.
const tokenKey = "killtoken.session";
const workspaceKey = "killtoken.workspace";

type Listener = () => void;
const listeners = new Set<Listener>();
let endedMessage = "";

export const session = {
  get token(): string | null {
    return localStorage.getItem(tokenKey);
  },
  get workspaceId(): string | null {
    return localStorage.getItem(workspaceKey);
  },
  set workspaceId(id: string | null) {
    if (id) localStorage.setItem(workspaceKey, id);
    else localStorage.removeItem(workspaceKey);
  },
  /** Why the last session ended (shown once on the sign-in page), or "". */
  takeEndedMessage(): string {
    const message = endedMessage;
    endedMessage = "";
    return message;
  },
  start(token: string, workspaceId?: string) {
    localStorage.setItem(tokenKey, token);
    if (workspaceId) localStorage.setItem(workspaceKey, workspaceId);
    notify();
  },
  end(message = "") {
    localStorage.removeItem(tokenKey);
    endedMessage = message;
    notify();
  },
  subscribe(listener: Listener): () => void {
    listeners.add(listener);
    return () => listeners.delete(listener);
  },
};

function notify() {
  for (const listener of listeners) listener();
}

// Another tab signing in or out changes this one too.
window.addEventListener("storage", (event) => {
  if (event.key === tokenKey) notify();
});
