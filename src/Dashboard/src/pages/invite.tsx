// The page an invite link opens: who invites whom to what, then sign in or create an account and accept.
import { useEffect, useState } from "preact/hooks";
import { get, post } from "../api";
import { ErrorNote, Loaded, messageOf, useAction, useAsync } from "../components";
import { session } from "../session";
import { dateTime } from "../format";
import { AuthPage } from "./auth";

interface Preview {
  invite: { id: string; email: string; role: string; status: string; expiresAt: string; invitedBy: { email: string; name: string | null } | null };
  workspace: { id: string; name: string };
}

export function InvitePage({ token }: { token: string }) {
  const preview = useAsync(() => get<Preview>(`/api/invites/${encodeURIComponent(token)}`), [token]);
  const [signedIn, setSignedIn] = useState(session.token !== null);
  useEffect(() => session.subscribe(() => setSignedIn(session.token !== null)), []);

  return (
    <main class="auth">
      <div class="auth-card">
        <p class="brand" aria-hidden="true">
          KillToken
        </p>
        <Loaded state={preview}>
          {({ invite, workspace }) => (
            <>
              <h1>Join {workspace.name}</h1>
              <p>
                {invite.invitedBy ? `${invite.invitedBy.name ?? invite.invitedBy.email} invited` : "You are invited as"} <strong>{invite.email}</strong> to
                join as <strong>{invite.role}</strong>. The invitation expires {dateTime(invite.expiresAt)}.
              </p>
              {invite.status === "expired" ? (
                <ErrorNote message="This invitation has expired. Ask whoever invited you to send it again." />
              ) : invite.status !== "pending" ? (
                <ErrorNote message="This invitation has already been used." />
              ) : signedIn ? (
                <Accept token={token} workspaceId={workspace.id} />
              ) : null}
            </>
          )}
        </Loaded>
      </div>
      {preview.data?.invite.status === "pending" && !signedIn ? (
        <AuthPage embedded email={preview.data.invite.email} intro="Sign in, or create your account, with the invited email to accept." />
      ) : null}
    </main>
  );
}

function Accept({ token, workspaceId }: { token: string; workspaceId: string }) {
  const { busy, error, run } = useAction();
  const [failed, setFailed] = useState("");
  const accept = () =>
    run(async () => {
      try {
        await post(`/api/invites/${encodeURIComponent(token)}/accept`);
      } catch (failure) {
        setFailed(messageOf(failure));
        throw failure;
      }
      session.workspaceId = workspaceId;
      location.assign("/#/overview");
    });
  return (
    <>
      <ErrorNote message={error} />
      <div class="actions">
        {failed ? null : (
          <button type="button" class="primary" disabled={busy} onClick={() => void accept()}>
            Accept invitation
          </button>
        )}
        <button type="button" onClick={() => session.end()}>
          Sign out
        </button>
      </div>
    </>
  );
}
