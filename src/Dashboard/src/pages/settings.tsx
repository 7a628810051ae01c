// Settings: the workspace's name and monthly budget, deleting it (owner only), its negotiated prices, and a test of the
// monthly digest.
import { useState } from "preact/hooks";
import { del, get, patch, post, put } from "../api";
import { Empty, ErrorNote, Field, Loaded, Page, useAction, useAsync } from "../components";
import { canManage, useApp } from "../context";
import { count, dateTime, usd } from "../format";
import type { Workspace } from "../types";
import type { DigestLeader, ModelPrice, MonthlyDigest } from "../types-admin";
import { providers } from "./credentials";

const ws = (workspaceId: string) => `/api/workspaces/${encodeURIComponent(workspaceId)}`;

/** Said once on the page the app falls back to after a delete (the page remounts for the other workspace). */
let afterDelete = "";

export function SettingsPage() {
  const { workspace } = useApp();
  const [deleted] = useState(() => {
    const message = afterDelete;
    afterDelete = "";
    return message;
  });
  return (
    <Page title="Settings">
      {deleted ? (
        <p class="notice" role="status">
          {deleted}
        </p>
      ) : null}
      <WorkspaceSection />
      {workspace.role === "owner" ? <DeleteSection /> : null}
      <PricesSection />
      <DigestSection />
    </Page>
  );
}

function WorkspaceSection() {
  const { workspace, refreshWorkspaces } = useApp();
  const owner = workspace.role === "owner";
  const details = useAsync(() => get<Workspace>(ws(workspace.id)), [workspace.id]);
  const [name, setName] = useState(workspace.name);
  const [budget, setBudget] = useState<string | null>(null);
  const [notice, setNotice] = useState("");
  const rename = useAction();
  const saveBudget = useAction();
  const budgetText = budget ?? details.data?.monthlyBudgetUsd?.toString() ?? "";

  return (
    <section class="panel settings-section" aria-labelledby="workspace-heading">
      <h2 id="workspace-heading">Workspace</h2>
      {owner ? (
        <>
          <form
            class="inline-form"
            onSubmit={(event) => {
              event.preventDefault();
              setNotice("");
              void rename.run(async () => {
                const updated = await patch<Workspace>(ws(workspace.id), { name: name.trim() });
                setName(updated.name);
                await refreshWorkspaces();
                setNotice(`The workspace is now called ${updated.name}.`);
              });
            }}
          >
            <Field label="Workspace name" value={name} onInput={setName} required />
            <button type="submit" class="primary" disabled={rename.busy || name.trim() === "" || name.trim() === workspace.name}>
              Rename
            </button>
          </form>
          <ErrorNote message={rename.error} />
          <form
            class="inline-form"
            onSubmit={(event) => {
              event.preventDefault();
              setNotice("");
              void saveBudget.run(async () => {
                const value = budgetText.trim() === "" ? null : Number(budgetText);
                if (value !== null && (!Number.isFinite(value) || value < 0)) throw new Error("The monthly budget must be a number of dollars, 0 or more.");
                const updated = await patch<Workspace>(ws(workspace.id), { monthlyBudgetUsd: value });
                setBudget(null);
                details.reload();
                setNotice(updated.monthlyBudgetUsd == null ? "The workspace has no monthly budget." : `The workspace's monthly budget is ${usd(updated.monthlyBudgetUsd)}.`);
              });
            }}
          >
            <Field
              label="Workspace monthly budget (USD)"
              type="number"
              step="any"
              min="0"
              value={budgetText}
              onInput={setBudget}
              hint="Across all projects. Empty: no workspace limit."
            />
            <button type="submit" disabled={saveBudget.busy}>
              Save budget
            </button>
          </form>
          <ErrorNote message={saveBudget.error} />
        </>
      ) : (
        <dl class="details">
          <dt>Name</dt>
          <dd>{workspace.name}</dd>
          <dt>Your role</dt>
          <dd>{workspace.role}</dd>
        </dl>
      )}
      {notice ? (
        <p class="notice" role="status">
          {notice}
        </p>
      ) : null}
      {details.data?.month ? (
        <p class="muted">
          Spent this month: {usd(details.data.month.spentUsd)}
          {details.data.month.limitUsd != null ? ` of ${usd(details.data.month.limitUsd)}` : ""}. Created {dateTime(details.data.createdAt)}.
        </p>
      ) : null}
      {owner ? null : <p class="muted">Only an owner can rename or delete this workspace.</p>}
    </section>
  );
}

function DeleteSection() {
  const { workspace, workspaces, refreshWorkspaces } = useApp();
  const [confirmName, setConfirmName] = useState("");
  const { busy, error, run } = useAction();
  return (
    <section class="panel settings-section danger-zone" aria-labelledby="delete-heading">
      <h2 id="delete-heading">Delete workspace</h2>
      <p>
        Deleting <strong>{workspace.name}</strong> removes it for every member, and its projects' API keys stop working at once.
        {workspaces.length <= 1 ? " It is your only workspace: create another one first." : ""}
      </p>
      <form
        class="inline-form"
        onSubmit={(event) => {
          event.preventDefault();
          void run(async () => {
            const name = workspace.name;
            await del(ws(workspace.id), { confirmName });
            afterDelete = `Workspace ${name} is deleted.`;
            await refreshWorkspaces();
          });
        }}
      >
        <Field label="Type the workspace name to confirm" value={confirmName} onInput={setConfirmName} required autoComplete="off" />
        <button type="submit" class="danger" disabled={busy}>
          Delete workspace
        </button>
      </form>
      <ErrorNote message={error} />
    </section>
  );
}

interface PriceRow { key: number; provider: string; model: string; input: string; output: string; cachedInput: string; cacheWrite: string }

let rowKeys = 0;
const text = (value: number | null | undefined) => (value === null || value === undefined ? "" : String(value));
const toRow = (price: ModelPrice): PriceRow => ({
  key: ++rowKeys,
  provider: price.provider,
  model: price.model,
  input: text(price.input),
  output: text(price.output),
  cachedInput: text(price.cachedInput),
  cacheWrite: text(price.cacheWrite),
});
const emptyRow = (): PriceRow => ({ key: ++rowKeys, provider: "openai", model: "", input: "", output: "", cachedInput: "", cacheWrite: "" });

/** Rows back into the API's body; the first problem, in words, if a row is not complete. */
function toPrices(rows: PriceRow[]): ModelPrice[] | string {
  const prices: ModelPrice[] = [];
  for (const [index, row] of rows.entries()) {
    const n = index + 1;
    if (row.model.trim() === "") return `Row ${n}: enter the model name.`;
    const money = (value: string, what: string, required: boolean): number | null | string => {
      if (value.trim() === "") return required ? `Row ${n}: enter the ${what} price.` : null;
      const number = Number(value);
      return Number.isFinite(number) && number >= 0 ? number : `Row ${n}: the ${what} price must be a number of dollars, 0 or more.`;
    };
    const input = money(row.input, "input", true);
    const output = money(row.output, "output", true);
    const cachedInput = money(row.cachedInput, "cache read", false);
    const cacheWrite = money(row.cacheWrite, "cache write", false);
    for (const value of [input, output, cachedInput, cacheWrite]) if (typeof value === "string") return value;
    prices.push({
      provider: row.provider,
      model: row.model.trim(),
      input: input as number,
      output: output as number,
      ...(cachedInput === null ? {} : { cachedInput: cachedInput as number }),
      ...(cacheWrite === null ? {} : { cacheWrite: cacheWrite as number }),
    });
  }
  return prices;
}

function PricesSection() {
  const { workspace } = useApp();
  const manage = canManage(workspace);
  const [rows, setRows] = useState<PriceRow[] | null>(null);
  const [notice, setNotice] = useState("");
  const prices = useAsync(async () => {
    const answer = await get<{ models: ModelPrice[] }>(`${ws(workspace.id)}/pricing`);
    setRows(answer.models.map(toRow));
    return answer;
  }, [workspace.id]);
  const save = useAction();

  const update = (key: number, change: Partial<PriceRow>) => {
    setNotice("");
    setRows((all) => (all ?? []).map((row) => (row.key === key ? { ...row, ...change } : row)));
  };

  return (
    <section class="panel settings-section" aria-labelledby="prices-heading">
      <h2 id="prices-heading">Negotiated prices</h2>
      <p class="muted">
        Your own rates, in USD per 1M tokens. They win over the gateway's price table for the models listed here; cache read (cached input) and cache
        write default to the input price.
      </p>
      <Loaded state={prices}>
        {() =>
          rows === null ? null : (
            <form
              onSubmit={(event) => {
                event.preventDefault();
                setNotice("");
                void save.run(async () => {
                  const body = toPrices(rows);
                  if (typeof body === "string") throw new Error(body);
                  const answer = await put<{ models: ModelPrice[] }>(`${ws(workspace.id)}/pricing`, { models: body });
                  setRows(answer.models.map(toRow));
                  setNotice(answer.models.length === 0 ? "Saved: no negotiated prices, the price table applies." : `Saved ${answer.models.length} negotiated ${answer.models.length === 1 ? "price" : "prices"}.`);
                });
              }}
            >
              {rows.length === 0 ? (
                <Empty>No negotiated prices: the gateway's price table applies to every model.</Empty>
              ) : (
                <div class="table-wrap flat">
                  <table class="prices">
                    <caption>Negotiated prices</caption>
                    <thead>
                      <tr>
                        <th scope="col">Provider</th>
                        <th scope="col">Model</th>
                        <th scope="col" class="num">Input</th>
                        <th scope="col" class="num">Output</th>
                        <th scope="col" class="num">Cache read</th>
                        <th scope="col" class="num">Cache write</th>
                        {manage ? <th scope="col">Actions</th> : null}
                      </tr>
                    </thead>
                    <tbody>
                      {rows.map((row, index) =>
                        manage ? (
                          <EditablePriceRow
                            key={row.key}
                            row={row}
                            n={index + 1}
                            onChange={(change) => update(row.key, change)}
                            onRemove={() => (setNotice(""), setRows(rows.filter((r) => r.key !== row.key)))}
                          />
                        ) : (
                          <tr key={row.key}>
                            <td>{row.provider}</td>
                            <th scope="row">{row.model}</th>
                            <td class="num">{row.input === "" ? "—" : usd(Number(row.input))}</td>
                            <td class="num">{row.output === "" ? "—" : usd(Number(row.output))}</td>
                            <td class="num">{row.cachedInput === "" ? "—" : usd(Number(row.cachedInput))}</td>
                            <td class="num">{row.cacheWrite === "" ? "—" : usd(Number(row.cacheWrite))}</td>
                          </tr>
                        ),
                      )}
                    </tbody>
                  </table>
                </div>
              )}
              <ErrorNote message={save.error} />
              {notice ? (
                <p class="notice" role="status">
                  {notice}
                </p>
              ) : null}
              {manage ? (
                <div class="actions">
                  <button type="button" onClick={() => (setNotice(""), setRows([...rows, emptyRow()]))}>
                    Add row
                  </button>
                  <button type="submit" class="primary" disabled={save.busy}>
                    Save prices
                  </button>
                </div>
              ) : (
                <p class="muted">Only owners and admins can change prices.</p>
              )}
            </form>
          )
        }
      </Loaded>
    </section>
  );
}

function EditablePriceRow({ row, n, onChange, onRemove }: { row: PriceRow; n: number; onChange: (change: Partial<PriceRow>) => void; onRemove: () => void }) {
  const known = providers.some((p) => p.id === row.provider);
  const money = (field: "input" | "output" | "cachedInput" | "cacheWrite", label: string, required: boolean) => (
    <td class="num">
      <input
        type="number"
        step="any"
        min="0"
        inputMode="decimal"
        class="price-input"
        aria-label={`${label} USD per 1M tokens, row ${n}`}
        required={required}
        placeholder={required ? "" : "= input"}
        value={row[field]}
        onInput={(event) => onChange({ [field]: (event.target as HTMLInputElement).value })}
      />
    </td>
  );
  return (
    <tr>
      <td>
        <select aria-label={`Provider, row ${n}`} value={row.provider} onChange={(event) => onChange({ provider: (event.target as HTMLSelectElement).value })}>
          {known ? null : <option value={row.provider}>{row.provider}</option>}
          {providers.map((p) => (
            <option key={p.id} value={p.id}>
              {p.id}
            </option>
          ))}
        </select>
      </td>
      <td>
        <input
          type="text"
          class="model-input"
          aria-label={`Model, row ${n}`}
          required
          placeholder="e.g. gpt-4o"
          value={row.model}
          onInput={(event) => onChange({ model: (event.target as HTMLInputElement).value })}
        />
      </td>
      {money("input", "Input", true)}
      {money("output", "Output", true)}
      {money("cachedInput", "Cache read", false)}
      {money("cacheWrite", "Cache write", false)}
      <td>
        <button type="button" class="danger-text" aria-label={`Remove row ${n}`} onClick={onRemove}>
          Remove
        </button>
      </td>
    </tr>
  );
}

function DigestSection() {
  const { workspace, user } = useApp();
  const manage = canManage(workspace);
  const [digest, setDigest] = useState<MonthlyDigest | null>(null);
  const { busy, error, run } = useAction();

  const delivery = (d: MonthlyDigest) =>
    d.emailDelivery === "sent"
      ? `Sent to ${user.email}.`
      : d.emailDelivery === "skipped"
        ? "Preview below (email not configured)."
        : d.emailDelivery === "failed"
          ? `Sending to ${user.email} failed: check the gateway's SMTP settings. Preview below.`
          : `Email: ${d.emailDelivery}. Preview below.`;

  return (
    <section class="panel settings-section" aria-labelledby="digest-heading">
      <h2 id="digest-heading">Monthly digest</h2>
      <p class="muted">On the 1st of each month, owners and admins get last month's spend, savings, leaders and budget warnings by email.</p>
      {manage ? (
        <div class="actions">
          <button
            type="button"
            disabled={busy}
            onClick={() =>
              void run(async () => {
                setDigest(null);
                setDigest(await post<MonthlyDigest>("/api/analytics/monthly-digest/test", {}, { workspaceId: workspace.id }));
              })
            }
          >
            {busy ? "Sending…" : "Send test digest"}
          </button>
          <span class="muted">This month so far, sent to {user.email}.</span>
        </div>
      ) : (
        <p class="muted">Only owners and admins can send a test digest.</p>
      )}
      <ErrorNote message={error} />
      {digest ? (
        <>
          <p class={digest.emailDelivery === "failed" ? "warning" : "notice"} role="status">
            {delivery(digest)}
          </p>
          <DigestPreview digest={digest} />
        </>
      ) : null}
    </section>
  );
}

const leader = (l: DigestLeader | null) => (l ? `${l.name} · ${usd(l.costUsd)} · ${count(l.requests)} requests` : "—");

function DigestPreview({ digest }: { digest: MonthlyDigest }) {
  return (
    <div class="digest">
      <h3>
        {digest.workspaceName} · {digest.month}
      </h3>
      <dl class="details">
        <dt>Period</dt>
        <dd>
          {digest.from} to {digest.to}
        </dd>
        <dt>Total spend</dt>
        <dd>{usd(digest.totalSpendUsd)}</dd>
        <dt>Requests</dt>
        <dd>{count(digest.totalRequests)}</dd>
        <dt>Blocked requests</dt>
        <dd>{count(digest.blockedRequests)}</dd>
        <dt>Realized savings</dt>
        <dd>{usd(digest.realizedSavingsUsd)}</dd>
        <dt>Top provider</dt>
        <dd>{leader(digest.topProvider)}</dd>
        <dt>Top model</dt>
        <dd>{leader(digest.topModel)}</dd>
        <dt>Top project</dt>
        <dd>{leader(digest.topProject)}</dd>
        <dt>Recommended action</dt>
        <dd>{digest.recommendedAction || "—"}</dd>
      </dl>
      {digest.budgetWarnings.length > 0 ? (
        <>
          <h3>Budget warnings</h3>
          <ul>
            {digest.budgetWarnings.map((w) => (
              <li key={w.projectId}>
                <strong>{w.projectName}</strong>: {w.message}
              </li>
            ))}
          </ul>
        </>
      ) : (
        <p class="muted">No budget warnings this month.</p>
      )}
    </div>
  );
}
