// Projects: spend against their limits, create (the key shown once), edit budgets and fallback, regenerate the key,
// deactivate and activate.
import { useState } from "preact/hooks";
import { get, patch, post } from "../api";
import { Confirm, CopyButton, Dialog, Empty, ErrorNote, Field, FormActions, Loaded, Page, useAction, useAsync } from "../components";
import { canManage, useApp } from "../context";
import { usd } from "../format";
import { StatusBadge } from "../projectStatus";
import { DataTable } from "../table";
import type { Project } from "../types";

interface KeyAnswer { project: Project; apiKey: string }

const spendText = (spent: number | undefined, limit: number | null) =>
  spent === undefined ? "—" : limit === null ? `${usd(spent)} · no limit` : `${usd(spent)} of ${usd(limit)}`;

export function ProjectsPage() {
  const { workspace } = useApp();
  const manage = canManage(workspace);
  const list = useAsync(() => get<{ data: Project[] }>(`/api/workspaces/${encodeURIComponent(workspace.id)}/projects`), [workspace.id]);
  const [editing, setEditing] = useState<Project | "new" | null>(null);
  const [shownKey, setShownKey] = useState<KeyAnswer | null>(null);
  const [regenerating, setRegenerating] = useState<Project | null>(null);
  const action = useAction();

  const afterKey = (answer: KeyAnswer) => {
    setEditing(null);
    setShownKey(answer);
    list.reload();
  };

  const toggle = (project: Project) =>
    action.run(async () => {
      await post(`/api/projects/${encodeURIComponent(project.id)}/${project.active ? "deactivate" : "activate"}`);
      list.reload();
    });

  return (
    <Page
      title="Projects"
      actions={
        manage ? (
          <button type="button" class="primary" onClick={() => setEditing("new")}>
            New project
          </button>
        ) : undefined
      }
    >
      {editing ? (
        <ProjectForm
          project={editing === "new" ? null : editing}
          onCancel={() => setEditing(null)}
          onCreated={afterKey}
          onSaved={() => {
            setEditing(null);
            list.reload();
          }}
        />
      ) : null}
      <ErrorNote message={action.error} />
      <Loaded state={list}>
        {({ data }) =>
          data.length === 0 ? (
            <Empty>No projects yet. Create one to get an API key.</Empty>
          ) : (
            <DataTable
              caption="Projects"
              rows={data}
              rowKey={(p) => p.id}
              columns={[
                { header: "Project", rowHeader: true, cell: (p) => p.name },
                { header: "Status", cell: (p) => <StatusBadge project={p} /> },
                { header: "Today", cell: (p) => spendText(p.spend?.today.spentUsd, p.dailyBudgetUsd) },
                { header: "This month", cell: (p) => spendText(p.spend?.month.spentUsd, p.monthlyBudgetUsd) },
                { header: "Fallback model", cell: (p) => p.fallbackModel ?? "—" },
                { header: "Key", cell: (p) => <code>{p.keyPreview}</code> },
                manage && {
                  header: "Actions",
                  className: "row-actions",
                  cell: (p) => (
                    <>
                      <button type="button" aria-label={`Edit ${p.name}`} onClick={() => setEditing(p)}>
                        Edit
                      </button>
                      <button type="button" aria-label={`Regenerate key for ${p.name}`} onClick={() => setRegenerating(p)}>
                        Regenerate key
                      </button>
                      <button
                        type="button"
                        aria-label={`${p.active ? "Deactivate" : "Activate"} ${p.name}`}
                        disabled={action.busy}
                        onClick={() => void toggle(p)}
                      >
                        {p.active ? "Deactivate" : "Activate"}
                      </button>
                    </>
                  ),
                },
              ]}
            />
          )
        }
      </Loaded>
      {regenerating ? (
        <Confirm
          title={`Regenerate the key of ${regenerating.name}?`}
          message="The current key stops working at once. Backends using it need the new one."
          confirmLabel="Regenerate"
          onClose={() => setRegenerating(null)}
          onConfirm={() =>
            void action.run(async () => afterKey(await post<KeyAnswer>(`/api/projects/${encodeURIComponent(regenerating.id)}/regenerate-key`)))
          }
        />
      ) : null}
      {shownKey ? <KeyDialog answer={shownKey} onDone={() => setShownKey(null)} /> : null}
    </Page>
  );
}

/** The one time a key is shown: copy it, then it is gone from the page. */
function KeyDialog({ answer, onDone }: { answer: KeyAnswer; onDone: () => void }) {
  return (
    <Dialog title="Your new API key" onClose={onDone}>
      <p>
        Project <strong>{answer.project.name}</strong>. <strong>Copy it now: you will not see this key again.</strong>
      </p>
      <p class="key">
        <code>{answer.apiKey}</code>
      </p>
      <div class="actions">
        <CopyButton text={answer.apiKey} label="Copy key" />
        <button type="button" class="primary" onClick={onDone}>
          Done
        </button>
      </div>
    </Dialog>
  );
}

const money = (text: string) => (text.trim() === "" ? null : Number(text));
const optional = (text: string) => (text.trim() === "" ? null : text.trim());

function ProjectForm({ project, onCancel, onCreated, onSaved }: {
  project: Project | null;
  onCancel: () => void;
  onCreated: (answer: KeyAnswer) => void;
  onSaved: () => void;
}) {
  const { workspace } = useApp();
  const [name, setName] = useState(project?.name ?? "");
  const [daily, setDaily] = useState(project?.dailyBudgetUsd?.toString() ?? "");
  const [monthly, setMonthly] = useState(project?.monthlyBudgetUsd?.toString() ?? "");
  const [fallback, setFallback] = useState(project?.fallbackModel ?? "");
  const [alertEmail, setAlertEmail] = useState(project?.alertEmail ?? "");
  const { busy, error, run } = useAction();

  const submit = (event: Event) => {
    event.preventDefault();
    void run(async () => {
      const body = {
        name: name.trim(),
        dailyBudgetUsd: money(daily),
        monthlyBudgetUsd: money(monthly),
        fallbackModel: optional(fallback),
        alertEmail: optional(alertEmail),
      };
      if (project) {
        await patch(`/api/projects/${encodeURIComponent(project.id)}`, body);
        onSaved();
      } else {
        onCreated(await post<KeyAnswer>(`/api/workspaces/${encodeURIComponent(workspace.id)}/projects`, body));
      }
    });
  };

  return (
    <form class="panel" onSubmit={submit} aria-label={project ? `Edit ${project.name}` : "New project"}>
      <h2>{project ? `Edit ${project.name}` : "New project"}</h2>
      <div class="grid">
        <Field label="Project name" value={name} onInput={setName} required />
        <Field label="Daily budget (USD)" type="number" step="any" min="0" value={daily} onInput={setDaily} hint="Empty: no daily limit." />
        <Field label="Monthly budget (USD)" type="number" step="any" min="0" value={monthly} onInput={setMonthly} hint="Empty: no monthly limit." />
        <Field label="Fallback model" value={fallback} onInput={setFallback} hint="Used from 80% of a limit, e.g. gpt-4o-mini." />
        <Field label="Alert email" type="email" value={alertEmail} onInput={setAlertEmail} hint="Told at 80% and 100% of a limit." />
      </div>
      <ErrorNote message={error} />
      <FormActions submitLabel={project ? "Save changes" : "Create project"} busy={busy} onCancel={onCancel} />
    </form>
  );
}
