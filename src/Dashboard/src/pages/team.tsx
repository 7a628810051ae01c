// Team: members and their roles, invites (the link shown with a copy button), and the audit log for owners and admins.
// A member sees the members table only, with "Leave workspace" on their own row.
import { useEffect, useState } from "preact/hooks";
import { del, get, patch, post } from "../api";
import { Confirm, CopyButton, Empty, ErrorNote, Field, Loaded, Loading, Page, Select, messageOf, useAction, useAsync, type AsyncState } from "../components";
import { canManage, useApp } from "../context";
import { dateTime } from "../format";
import type { Role } from "../types";
import { auditEvents, type AuditEvent, type AuditPage, type Invite, type IssuedInvite, type Member } from "../types-admin";

const ws = (workspaceId: string) => `/api/workspaces/${encodeURIComponent(workspaceId)}`;
const roleNames: Record<Role, string> = { owner: "Owner", admin: "Admin", member: "Member" };

export function TeamPage() {
  const { workspace } = useApp();
  const manage = canManage(workspace);
  const members = useAsync(() => get<{ data: Member[] }>(`${ws(workspace.id)}/members`), [workspace.id]);
  const [issued, setIssued] = useState<IssuedInvite | null>(null);
  const [invitesRound, setInvitesRound] = useState(0);
  // Every change made on this page: the audit log re-reads so it shows the new events.
  const [changes, setChanges] = useState(0);
  const changed = () => setChanges((c) => c + 1);
  const onIssued = (answer: IssuedInvite) => {
    setIssued(answer);
    setInvitesRound((r) => r + 1);
    changed();
  };

  return (
    <Page title="Team">
      <MembersSection state={members} onChanged={changed} />
      {manage ? (
        <>
          <InviteForm onIssued={onIssued} />
          {issued ? <IssuedLink issued={issued} onDismiss={() => setIssued(null)} /> : null}
          <PendingInvites
            round={invitesRound}
            onIssued={onIssued}
            onCancelled={(invite) => {
              if (issued?.invite.id === invite.id) setIssued(null);
              changed();
            }}
          />
          <AuditLog members={members.data?.data ?? []} changes={changes} />
        </>
      ) : null}
    </Page>
  );
}

/** Who may change whom (team spec): owners anyone; admins anyone but owners, and never to owner. */
function rolesFor(callerRole: Role, target: Member): Role[] | null {
  if (callerRole === "owner") return ["owner", "admin", "member"];
  if (callerRole === "admin" && target.role !== "owner") return ["admin", "member"];
  return null;
}

function MembersSection({ state, onChanged }: { state: AsyncState<{ data: Member[] }>; onChanged: () => void }) {
  const { user, workspace, refreshWorkspaces } = useApp();
  const manage = canManage(workspace);
  const action = useAction();
  const [notice, setNotice] = useState("");
  const [removing, setRemoving] = useState<Member | null>(null);
  const [leaving, setLeaving] = useState(false);

  const changeRole = (member: Member, role: Role) =>
    action.run(async () => {
      setNotice("");
      try {
        const updated = await patch<Member>(`${ws(workspace.id)}/members/${encodeURIComponent(member.userId)}`, { role });
        setNotice(`${updated.email} is now ${roleNames[updated.role].toLowerCase()}.`);
        onChanged();
        if (member.userId === user.id) await refreshWorkspaces();
      } finally {
        state.reload();
      }
    });

  return (
    <div class="team-section">
      <ErrorNote message={action.error} />
      {notice ? (
        <p class="notice" role="status">
          {notice}
        </p>
      ) : null}
      <Loaded state={state}>
        {({ data: members }) =>
          members.length === 0 ? (
            <Empty>No members.</Empty>
          ) : (
            <div class="table-wrap">
              <table class="members">
                <caption>Members</caption>
                <thead>
                  <tr>
                    <th scope="col">Name</th>
                    <th scope="col">Email</th>
                    <th scope="col">Role</th>
                    <th scope="col">Joined</th>
                    <th scope="col">Actions</th>
                  </tr>
                </thead>
                <tbody>
                  {members.map((m) => {
                    const self = m.userId === user.id;
                    const roles = manage ? rolesFor(workspace.role, m) : null;
                    const canRemove = !self && roles !== null;
                    return (
                      <tr key={m.userId} class={self ? "self" : undefined}>
                        <th scope="row">
                          {m.name ?? <span class="muted">—</span>}
                          {self ? <span class="muted"> (you)</span> : null}
                        </th>
                        <td class="email">
                          <Email value={m.email} />
                        </td>
                        <td>
                          {manage ? (
                            <select
                              aria-label={`Role of ${m.email}`}
                              value={m.role}
                              disabled={action.busy || roles === null}
                              title={roles === null ? "Only an owner can change an owner's role." : undefined}
                              onChange={(event) => void changeRole(m, (event.target as HTMLSelectElement).value as Role)}
                            >
                              {(roles === null ? [m.role] : roles.includes(m.role) ? roles : [m.role, ...roles]).map((r) => (
                                <option key={r} value={r}>
                                  {roleNames[r]}
                                </option>
                              ))}
                            </select>
                          ) : (
                            <span class={`badge role-${m.role}`}>{roleNames[m.role]}</span>
                          )}
                        </td>
                        <td>{dateTime(m.joinedAt)}</td>
                        <td class="row-actions">
                          {self ? (
                            <button type="button" onClick={() => setLeaving(true)}>
                              Leave workspace
                            </button>
                          ) : null}
                          {canRemove ? (
                            <button type="button" class="danger-text" aria-label={`Remove ${m.email}`} onClick={() => setRemoving(m)}>
                              Remove
                            </button>
                          ) : null}
                        </td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </div>
          )
        }
      </Loaded>
      {removing ? (
        <Confirm
          title={`Remove ${removing.email}?`}
          message="They lose access to this workspace at once. You can invite them again later."
          confirmLabel="Remove"
          onAnswer={(yes) => {
            const member = removing;
            setRemoving(null);
            if (yes)
              void action.run(async () => {
                setNotice("");
                await del(`${ws(workspace.id)}/members/${encodeURIComponent(member.userId)}`);
                setNotice(`${member.email} is removed.`);
                onChanged();
                state.reload();
              });
          }}
        />
      ) : null}
      {leaving ? (
        <Confirm
          title={`Leave ${workspace.name}?`}
          message="You lose access to this workspace at once. Someone with admin rights has to invite you again to come back."
          confirmLabel="Leave"
          onAnswer={(yes) => {
            setLeaving(false);
            if (yes)
              void action.run(async () => {
                await del(`${ws(workspace.id)}/members/${encodeURIComponent(user.id)}`);
                await refreshWorkspaces();
              });
          }}
        />
      ) : null}
    </div>
  );
}

function InviteForm({ onIssued }: { onIssued: (answer: IssuedInvite) => void }) {
  const { workspace } = useApp();
  const [email, setEmail] = useState("");
  const [role, setRole] = useState<Role>("member");
  const { busy, error, run } = useAction();

  const submit = (event: Event) => {
    event.preventDefault();
    void run(async () => {
      const answer = await post<IssuedInvite>(`${ws(workspace.id)}/invites`, { email: email.trim(), role });
      setEmail("");
      onIssued(answer);
    });
  };

  return (
    <section class="panel team-invite" aria-labelledby="invite-heading">
      <h2 id="invite-heading">Invite someone</h2>
      <form class="inline-form" onSubmit={submit}>
        <Field label="Email" type="email" value={email} onInput={setEmail} required autoComplete="off" />
        <Select
          label="Role"
          value={role}
          onChange={(value) => setRole(value as Role)}
          options={[
            { value: "member", label: "Member" },
            { value: "admin", label: "Admin" },
          ]}
        />
        <button type="submit" class="primary" disabled={busy}>
          Send invite
        </button>
      </form>
      <ErrorNote message={error} />
      <p class="muted">Admins manage projects, credentials, prices and the team; members see everything and change nothing. Invites expire after 7 days.</p>
    </section>
  );
}

/** The link of an invite just sent or resent: the one place its token is shown. */
function IssuedLink({ issued, onDismiss }: { issued: IssuedInvite; onDismiss: () => void }) {
  const delivery =
    issued.emailDelivery === "queued"
      ? `An email with this link is on its way to ${issued.invite.email}.`
      : issued.emailDelivery === "skipped"
        ? `No email was sent (email is not configured on this gateway): send ${issued.invite.email} this link yourself.`
        : `Email delivery: ${issued.emailDelivery}. Send ${issued.invite.email} this link yourself.`;
  return (
    <section class="panel invite-link" aria-labelledby="invite-link-heading">
      <h2 id="invite-link-heading">Invite link</h2>
      <p role="status">
        Invited {issued.invite.email} as {issued.invite.role}. {delivery}
      </p>
      <p class="key">
        <code>{issued.inviteUrl}</code>
      </p>
      <div class="actions">
        <CopyButton text={issued.inviteUrl} label="Copy link" />
        <button type="button" onClick={onDismiss}>
          Done
        </button>
      </div>
      <p class="muted">Anyone with the link can see the invite, but only {issued.invite.email} can accept it. It expires on {dateTime(issued.invite.expiresAt)}.</p>
    </section>
  );
}

function PendingInvites({ round, onIssued, onCancelled }: { round: number; onIssued: (answer: IssuedInvite) => void; onCancelled: (invite: Invite) => void }) {
  const { workspace } = useApp();
  const invites = useAsync(() => get<{ data: Invite[] }>(`${ws(workspace.id)}/invites`), [workspace.id, round]);
  const action = useAction();
  const [notice, setNotice] = useState("");

  const resend = (invite: Invite) =>
    action.run(async () => {
      setNotice("");
      onIssued(await post<IssuedInvite>(`${ws(workspace.id)}/invites/${encodeURIComponent(invite.id)}/resend`));
    });
  const cancel = (invite: Invite) =>
    action.run(async () => {
      setNotice("");
      await del(`${ws(workspace.id)}/invites/${encodeURIComponent(invite.id)}`);
      setNotice(`The invite for ${invite.email} is cancelled; its link no longer works.`);
      onCancelled(invite);
      invites.reload();
    });

  return (
    <div class="team-section">
      <ErrorNote message={action.error} />
      {notice ? (
        <p class="notice" role="status">
          {notice}
        </p>
      ) : null}
      <Loaded state={invites}>
        {({ data }) =>
          data.length === 0 ? (
            <Empty>No pending invites.</Empty>
          ) : (
            <div class="table-wrap">
              <table class="invites">
                <caption>Pending invites</caption>
                <thead>
                  <tr>
                    <th scope="col">Email</th>
                    <th scope="col">Role</th>
                    <th scope="col">Status</th>
                    <th scope="col">Expires</th>
                    <th scope="col">Invited by</th>
                    <th scope="col">Actions</th>
                  </tr>
                </thead>
                <tbody>
                  {data.map((invite) => (
                    <tr key={invite.id}>
                      <th scope="row" class="email">
                        <Email value={invite.email} />
                      </th>
                      <td>{roleNames[invite.role] ?? invite.role}</td>
                      <td>
                        <span class={`badge ${invite.status === "expired" ? "badge-disabled" : "badge-fallback"}`}>
                          {invite.status === "expired" ? "Expired" : "Pending"}
                        </span>
                      </td>
                      <td>{dateTime(invite.expiresAt)}</td>
                      <td>{invite.invitedBy ? (invite.invitedBy.name ?? invite.invitedBy.email) : "—"}</td>
                      <td class="row-actions">
                        <button type="button" aria-label={`Resend ${invite.email}`} disabled={action.busy} onClick={() => void resend(invite)}>
                          Resend
                        </button>
                        <button
                          type="button"
                          class="danger-text"
                          aria-label={`Cancel invite for ${invite.email}`}
                          disabled={action.busy}
                          onClick={() => void cancel(invite)}
                        >
                          Cancel invite
                        </button>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )
        }
      </Loaded>
    </div>
  );
}

const eventText = (event: string) => event.replace(/_/g, " ");

/** An email that may wrap after its "@" on a narrow screen, instead of letter by letter. */
function Email({ value }: { value: string }) {
  const at = value.indexOf("@");
  return at < 0 ? <>{value}</> : (
    <>
      {value.slice(0, at + 1)}
      <wbr />
      {value.slice(at + 1)}
    </>
  );
}

function AuditLog({ members, changes }: { members: Member[]; changes: number }) {
  const { workspace } = useApp();
  const [eventFilter, setEventFilter] = useState("");
  const [round, setRound] = useState(0);
  const [events, setEvents] = useState<AuditEvent[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState("");

  const load = async (from: string | null, replace: boolean) => {
    setLoading(true);
    setError("");
    try {
      const page = await get<AuditPage>(`${ws(workspace.id)}/audit`, { event: eventFilter, cursor: from, limit: 50 });
      setEvents((all) => (replace ? page.data : [...all, ...page.data]));
      setCursor(page.nextCursor);
    } catch (failure) {
      setError(messageOf(failure));
    } finally {
      setLoading(false);
    }
  };

  useEffect(() => {
    void load(null, true);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [workspace.id, eventFilter, round, changes]);

  const emailOf = (userId: string) => members.find((m) => m.userId === userId)?.email;
  const actor = (e: AuditEvent) =>
    e.actorType === "user" ? (emailOf(e.actorId) ?? e.actorId) : e.actorType === "api_key" ? `API key of ${e.actorId}` : e.actorType === "system" ? "System" : e.actorId;
  const target = (e: AuditEvent) => (e.target ? (emailOf(e.target) ?? e.target) : "—");

  return (
    <section class="panel audit" aria-label="Audit">
      <div class="section-header">
        <p class="muted">Who did what in this workspace, newest first. Secrets never appear here.</p>
        <div class="inline-form">
          <Select
            label="Event"
            value={eventFilter}
            onChange={setEventFilter}
            options={[{ value: "", label: "All events" }, ...auditEvents.map((e) => ({ value: e, label: eventText(e) }))]}
          />
          <button type="button" onClick={() => setRound((r) => r + 1)} disabled={loading}>
            Refresh
          </button>
        </div>
      </div>
      <ErrorNote message={error} />
      {loading && events.length === 0 ? (
        <Loading />
      ) : events.length === 0 && !error ? (
        <Empty>{eventFilter ? `No ${eventText(eventFilter)} events.` : "No events yet."}</Empty>
      ) : (
        <div class="table-wrap flat">
          <table class="audit-table">
            <caption>Audit log</caption>
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Event</th>
                <th scope="col">Actor</th>
                <th scope="col">Target</th>
                <th scope="col">Details</th>
              </tr>
            </thead>
            <tbody>
              {events.map((e) => (
                <tr key={e.id}>
                  <td class="nowrap">{dateTime(e.at)}</td>
                  <td>
                    <code>{e.event}</code>
                  </td>
                  <td class="email">
                    <Email value={actor(e)} />
                    {e.clientAddress ? <small class="muted block">{e.clientAddress}</small> : null}
                  </td>
                  <td class="email">
                    <Email value={target(e)} />
                  </td>
                  <td>
                    <AuditDetails event={e} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {cursor ? (
        <div class="actions">
          <button type="button" disabled={loading} onClick={() => void load(cursor, false)}>
            {loading ? "Loading…" : "Load more"}
          </button>
        </div>
      ) : null}
    </section>
  );
}

function AuditDetails({ event }: { event: AuditEvent }) {
  const details = Object.entries(event.details ?? {}).filter(([, v]) => v !== null && v !== "");
  const changes = Object.entries(event.changes ?? {});
  if (details.length === 0 && changes.length === 0) return <span class="muted">—</span>;
  return (
    <ul class="audit-details">
      {details.map(([k, v]) => (
        <li key={`d-${k}`}>
          <span class="muted">{k}:</span> {v}
        </li>
      ))}
      {changes.map(([k, c]) => (
        <li key={`c-${k}`}>
          <span class="muted">{k}:</span> {c.before ?? "(none)"} → {c.after ?? "(none)"}
        </li>
      ))}
    </ul>
  );
}
