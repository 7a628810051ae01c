// Requests: the trace list of the workspace, newest first, filtered and paged by cursor; each row opens every field of
// its trace (the list already carries them all: no prompt or completion text is ever stored).
import { Fragment } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { get } from "../api";
import { Empty, ErrorNote, Field, FilterActions, Loaded, Page, Select, useAction, useAsync } from "../components";
import { useApp } from "../context";
import { count, usd } from "../format";
import { DataTable } from "../table";
import type { Project } from "../types";
import type { RequestTrace, TracePage } from "../types-reports";
import { milliseconds } from "./analytics";

interface Filters { provider: string; model: string; feature: string; projectId: string; cacheStatus: string; mode: string; from: string; to: string }

const noFilters: Filters = { provider: "", model: "", feature: "", projectId: "", cacheStatus: "", mode: "", from: "", to: "" };

const cacheStatuses = [
  { value: "", label: "Any" },
  { value: "hit", label: "hit" },
  { value: "miss", label: "miss" },
  { value: "write", label: "write" },
  { value: "bypass", label: "bypass" },
  { value: "disabled", label: "disabled" },
];

const modes = [
  { value: "", label: "Any" },
  { value: "measure_only", label: "measure_only" },
  { value: "safe", label: "safe" },
];

const pageSize = 50;

/** A local calendar day's first instant (or, with <paramref name="end"/>, its last millisecond) as an ISO instant. */
function localDay(day: string, end = false): string {
  if (!day) return "";
  const date = new Date(`${day}T00:00:00`);
  if (Number.isNaN(date.getTime())) return day; // the API says what is wrong with it
  if (end) {
    date.setDate(date.getDate() + 1);
    date.setMilliseconds(-1);
  }
  return date.toISOString();
}

/** When a call was made, to the second, in the person's time zone (the From/To days are theirs too). */
const callTime = (iso: string) => {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString("en-GB", { dateStyle: "medium", timeStyle: "medium" });
};

/** The list's query: the date inputs are local days, the list takes instants — from a day's start to its last millisecond. */
function queryOf(filters: Filters) {
  return {
    provider: filters.provider.trim(),
    model: filters.model.trim(),
    feature: filters.feature.trim(),
    projectId: filters.projectId,
    cacheStatus: filters.cacheStatus,
    mode: filters.mode,
    from: localDay(filters.from),
    to: localDay(filters.to, true),
    limit: pageSize,
  };
}

const statusClass = (trace: RequestTrace) =>
  trace.errorCode === "budget_exceeded" ? "badge badge-blocked" : trace.status >= 400 ? "badge badge-fallback" : "badge badge-active";

export function RequestsPage() {
  const { workspace } = useApp();
  const path = `/api/workspaces/${encodeURIComponent(workspace.id)}/requests`;
  const [draft, setDraft] = useState<Filters>(noFilters);
  const [applied, setApplied] = useState<Filters>(noFilters);
  const [more, setMore] = useState<TracePage[]>([]);
  const [open, setOpen] = useState<RequestTrace | null>(null);
  const paging = useAction();
  const projectList = useAsync(() => get<{ data: Project[] }>(`/api/workspaces/${encodeURIComponent(workspace.id)}/projects`), [workspace.id]);
  const first = useAsync(() => {
    setMore([]);
    return get<TracePage>(path, queryOf(applied));
  }, [workspace.id, applied]);

  const names = new Map((projectList.data?.data ?? []).map((p) => [p.id, p.name]));
  const projectName = (id: string | null) => (id ? names.get(id) ?? id : "—");
  const set = (name: keyof Filters) => (value: string) => setDraft((current) => ({ ...current, [name]: value }));

  return (
    <Page title="Requests">
      <form
        class="panel filters report-filters"
        aria-label="Request filters"
        onSubmit={(event) => {
          event.preventDefault();
          setOpen(null);
          setApplied({ ...draft });
        }}
      >
        <Field label="Provider" value={draft.provider} onInput={set("provider")} placeholder="e.g. openai" />
        <Field label="Model" value={draft.model} onInput={set("model")} placeholder="exact, e.g. gpt-4o-mini" />
        <Field label="Feature" value={draft.feature} onInput={set("feature")} placeholder="exact tag" />
        <Select
          label="Project"
          value={draft.projectId}
          onChange={set("projectId")}
          options={[{ value: "", label: "All projects" }, ...(projectList.data?.data ?? []).map((p) => ({ value: p.id, label: p.name }))]}
        />
        <Select label="Cache status" value={draft.cacheStatus} onChange={set("cacheStatus")} options={cacheStatuses} />
        <Select label="Mode" value={draft.mode} onChange={set("mode")} options={modes} />
        <Field label="From" type="date" value={draft.from} onInput={set("from")} />
        <Field label="To" type="date" value={draft.to} onInput={set("to")} />
        <FilterActions
          loading={first.loading}
          reset={{
            label: "Clear",
            onClick: () => {
              setOpen(null);
              setDraft(noFilters);
              setApplied(noFilters);
            },
          }}
        />
      </form>
      <ErrorNote message={projectList.error} />
      {open ? <TraceDetails trace={open} projectName={projectName(open.projectId)} onClose={() => setOpen(null)} /> : null}
      <Loaded state={first}>
        {(page) => {
          const rows = [page, ...more].flatMap((p) => p.data);
          const next = (more.length > 0 ? more[more.length - 1] : page).nextCursor;
          return rows.length === 0 ? (
            <Empty>No requests match.</Empty>
          ) : (
            <>
              <DataTable
                caption="Requests"
                wrapClass="requests-wrap"
                tableClass="requests-table"
                busy={first.loading}
                rows={rows}
                rowKey={(trace) => trace.id}
                rowClass={(trace) => (open?.id === trace.id ? "selected" : undefined)}
                columns={[
                  { header: "Time", className: "nowrap", cell: (trace) => callTime(trace.createdAt) },
                  { header: "Project", cell: (trace) => projectName(trace.projectId) },
                  { header: "Provider", cell: (trace) => trace.finalProvider ?? trace.provider ?? "—" },
                  {
                    header: "Model",
                    className: "nowrap",
                    cell: (trace) => (
                      <>
                        {trace.finalModel ?? trace.model ?? "—"}
                        {trace.wasFallback ? <span class="badge badge-fallback report-badge">fallback</span> : null}
                      </>
                    ),
                  },
                  { header: "Feature", cell: (trace) => trace.feature },
                  {
                    header: "Status",
                    cell: (trace) => (
                      <>
                        <span class={statusClass(trace)}>{trace.status}</span>
                        {trace.errorCode ? <span class="status-code">{trace.errorCode}</span> : null}
                      </>
                    ),
                  },
                  { header: "Tokens", numeric: true, cell: (trace) => count(trace.totalTokens) },
                  { header: "Cost", numeric: true, cell: (trace) => usd(trace.costUsd) },
                  { header: "Latency", numeric: true, cell: (trace) => milliseconds(trace.latencyMs) },
                  {
                    header: "Details",
                    hideHeader: true,
                    cell: (trace) => (
                      <button
                        type="button"
                        class="small"
                        aria-label={`Details ${trace.id}`}
                        aria-expanded={open?.id === trace.id}
                        onClick={() => setOpen(open?.id === trace.id ? null : trace)}
                      >
                        Details
                      </button>
                    ),
                  },
                ]}
              />
              <ErrorNote message={paging.error} />
              <p class="muted table-note">
                {count(rows.length)} {rows.length === 1 ? "request" : "requests"} shown, newest first.
              </p>
              {next ? (
                <div class="actions">
                  <button
                    type="button"
                    disabled={paging.busy}
                    onClick={() =>
                      void paging.run(async () => {
                        const nextPage = await get<TracePage>(path, { ...queryOf(applied), cursor: next });
                        setMore((pages) => [...pages, nextPage]);
                      })
                    }
                  >
                    Load more
                  </button>
                </div>
              ) : null}
            </>
          );
        }}
      </Loaded>
    </Page>
  );
}

const yesNo = (value: boolean) => (value ? "yes" : "no");
const text = (value: string | null | undefined) => (value === null || value === undefined || value === "" ? "—" : value);

/** Every field of the trace, in the order a person reads a call: who, what, outcome, tokens, money, cache, time. */
function fieldsOf(trace: RequestTrace, projectName: string): [string, string][] {
  const known: [keyof RequestTrace, string, string][] = [
    ["id", "Request ID", trace.id],
    ["createdAt", "Time", `${callTime(trace.createdAt)} (${trace.createdAt})`],
    ["workspaceId", "Workspace ID", trace.workspaceId],
    ["projectId", "Project", trace.projectId ? `${projectName} (${trace.projectId})` : "—"],
    ["endpoint", "Endpoint", trace.endpoint],
    ["provider", "Provider (requested)", text(trace.provider)],
    ["model", "Model (requested)", text(trace.model)],
    ["finalProvider", "Provider (final)", text(trace.finalProvider)],
    ["finalModel", "Model (final)", text(trace.finalModel)],
    ["wasFallback", "Fallback used", yesNo(trace.wasFallback)],
    ["outputCapped", "Output capped", yesNo(trace.outputCapped)],
    ["outputCap", "Output cap", trace.outputCap === null || trace.outputCap === undefined ? "—" : `${count(trace.outputCap)} tokens`],
    ["optimizationMode", "Optimization mode", text(trace.optimizationMode)],
    ["feature", "Feature", text(trace.feature)],
    ["templateId", "Template", text(trace.templateId)],
    ["stream", "Streamed", yesNo(trace.stream)],
    ["status", "HTTP status", String(trace.status)],
    ["errorCode", "Error code", text(trace.errorCode)],
    ["inputTokens", "Input tokens", count(trace.inputTokens)],
    ["cachedInputTokens", "Cached input tokens", count(trace.cachedInputTokens)],
    ["outputTokens", "Output tokens", count(trace.outputTokens)],
    ["totalTokens", "Total tokens", count(trace.totalTokens)],
    ["wasteTokens", "Waste tokens", count(trace.wasteTokens)],
    ["wasteByCategory", "Waste by category", trace.wasteByCategory ? Object.entries(trace.wasteByCategory).map(([k, v]) => `${k}: ${count(v)}`).join(", ") || "—" : "—"],
    ["savedTokens", "Saved tokens", count(trace.savedTokens)],
    ["costUsd", "Cost", trace.costUsd === null ? "— (not priced)" : usd(trace.costUsd)],
    ["costStatus", "Cost status", text(trace.costStatus)],
    ["savedUsd", "Saved", usd(trace.savedUsd)],
    ["wasteUsd", "Waste cost", usd(trace.wasteUsd)],
    ["potentialSavedUsd", "Potential saving (safe mode)", usd(trace.potentialSavedUsd)],
    ["cacheStatus", "Cache status", text(trace.cacheStatus)],
    ["idempotency", "Idempotency", text(trace.idempotency)],
    ["latencyMs", "Latency", milliseconds(trace.latencyMs)],
    ["providerLatencyMs", "Provider latency", milliseconds(trace.providerLatencyMs)],
    ["overheadMs", "Gateway overhead", milliseconds(trace.overheadMs)],
  ];
  const listed = new Set<string>(known.map(([key]) => key));
  // Fields added to traces later still show, as the API names them.
  const extra = Object.entries(trace as unknown as Record<string, unknown>)
    .filter(([key]) => !listed.has(key))
    .map(([key, value]): [string, string] => [key, value === null || value === undefined ? "—" : typeof value === "object" ? JSON.stringify(value) : String(value)]);
  return [...known.map(([, label, value]): [string, string] => [label, value]), ...extra];
}

function TraceDetails({ trace, projectName, onClose }: { trace: RequestTrace; projectName: string; onClose: () => void }) {
  const heading = useRef<HTMLHeadingElement>(null);
  const opener = useRef<Element | null>(null);
  useEffect(() => {
    opener.current = document.activeElement;
    heading.current?.focus();
    heading.current?.scrollIntoView({ block: "nearest" });
  }, [trace.id]);
  const close = () => {
    const back = opener.current;
    onClose();
    if (back instanceof HTMLElement && back.isConnected) back.focus();
  };
  return (
    <section class="panel trace-details" aria-labelledby="trace-details-heading" onKeyDown={(event) => event.key === "Escape" && close()}>
      <div class="trace-details-header">
        <h2 id="trace-details-heading" ref={heading} tabIndex={-1}>
          Request {trace.id}
        </h2>
        <button type="button" onClick={close}>
          Close
        </button>
      </div>
      <dl class="details">
        {fieldsOf(trace, projectName).map(([label, value]) => (
          <Fragment key={label}>
            <dt>{label}</dt>
            <dd>{value}</dd>
          </Fragment>
        ))}
      </dl>
    </section>
  );
}
