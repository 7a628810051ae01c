// Sign in and create an account (also used by the invite page, with the invited email filled in).
import { useState } from "preact/hooks";
import { post } from "../api";
import { ErrorNote, Field, Notice, useAction } from "../components";
import { session } from "../session";
import type { User, Workspace } from "../types";

interface SignedIn { token: string; user: User; workspace?: Workspace }

/** <paramref name="embedded"/>: a card inside another page (the invite page), not a page of its own. */
export function AuthPage({ email: invitedEmail, onSignedIn, intro, embedded }: { email?: string; onSignedIn?: () => void; intro?: string; embedded?: boolean }) {
  const [mode, setMode] = useState<"signin" | "signup">("signin");
  const [email, setEmail] = useState(invitedEmail ?? "");
  const [password, setPassword] = useState("");
  const [name, setName] = useState("");
  const [ended] = useState(() => session.takeEndedMessage());
  const { busy, error, setError, run } = useAction();

  const submit = (event: Event) => {
    event.preventDefault();
    void run(async () => {
      const result =
        mode === "signin"
          ? await post<SignedIn>("/api/auth/login", { email: email.trim(), password })
          : await post<SignedIn>("/api/auth/signup", { email: email.trim(), password, name: name.trim() || undefined });
      session.start(result.token, result.workspace?.id);
      onSignedIn?.();
    });
  };

  const switchTo = (next: "signin" | "signup") => {
    setMode(next);
    setError("");
  };

  const card = (
      <div class="auth-card">
        {embedded ? null : (
          <p class="brand" aria-hidden="true">
            KillToken
          </p>
        )}
        {intro ? <p>{intro}</p> : null}
        <h1>{mode === "signin" ? "Sign in" : "Create your account"}</h1>
        <Notice message={ended} />
        <form onSubmit={submit}>
          {mode === "signup" ? <Field label="Name" value={name} onInput={setName} autoComplete="name" /> : null}
          <Field label="Email" type="email" value={email} onInput={setEmail} required autoComplete="email" />
          <Field
            label="Password"
            type="password"
            value={password}
            onInput={setPassword}
            required
            autoComplete={mode === "signin" ? "current-password" : "new-password"}
            hint={mode === "signup" ? "At least 8 characters." : undefined}
          />
          <ErrorNote message={error} />
          <button type="submit" class="primary" disabled={busy}>
            {mode === "signin" ? "Sign in" : "Create account"}
          </button>
        </form>
        {mode === "signin" ? (
          <button type="button" class="link" onClick={() => switchTo("signup")}>
            Create an account
          </button>
        ) : (
          <button type="button" class="link" onClick={() => switchTo("signin")}>
            I have an account
          </button>
        )}
      </div>
  );
  return embedded ? card : <main class="auth">{card}</main>;
}
