// Analytics: where the money went over a range of UTC days — by provider, model, project and feature, and per day —
// with the usage log as a CSV download (through the session header, never a token in a URL).
import { useState } from "preact/hooks";
import { download, get } from "../api";
import { ChartFigure } from "../charts";
import { Empty, ErrorNote, Field, Loaded, Page, Select, useAction, useAsync } from "../components";
import { useApp } from "../context";
import { count, dateTime, daysAgo, percent, usd } from "../format";
import type { Project } from "../types";
import type { FeaturesReport, ModelsReport, ProjectsReport, ProvidersReport, TrendsReport } from "../types-reports";

interface Filters { from: string; to: string; provider: string; projectId: string; model: string }

/** The API's default range, written out so the date inputs show it: the last 30 UTC days, today included. */
const lastThirtyDays = (): Filters => ({ from: daysAgo(29), to: daysAgo(0), provider: "", projectId: "", model: "" });

export const milliseconds = (value: number | null | undefined) => (value === null || value === undefined ? "—" : `${count(Math.round(value))} ms`);

/** Chart labels must be unique (the chart's hidden table is keyed by them): the same model at two providers gets both. */
export function distinctLabels<T>(rows: T[], name: (row: T) => string, qualifier: (row: T) => string): string[] {
  const seen = new Map<string, number>();
  for (const row of rows) seen.set(name(row), (seen.get(name(row)) ?? 0) + 1);
  return rows.map((row, i) => {
    const label = (seen.get(name(row)) ?? 0) > 1 ? `${name(row)} (${qualifier(row)})` : name(row);
    return rows.slice(0, i).some((other) => name(other) === name(row) && qualifier(other) === qualifier(row)) ? `${label} #${i + 1}` : label;
  });
}

/** A period's spend against its limit: "$1.20 of $5.00 (24.0%)", or "$1.20 · no limit". */
const ofLimit = (spent: number, limit: number | null, used: number | null) =>
  limit === null || used === null ? `${usd(spent)} · no limit` : `${usd(spent)} of ${usd(limit)} (${percent(used, 1)})`;

export function AnalyticsPage() {
  const { workspace } = useApp();
  const [draft, setDraft] = useState<Filters>(lastThirtyDays);
  const [applied, setApplied] = useState<Filters>(draft);
  const exporting = useAction();
  const projectList = useAsync(() => get<{ data: Project[] }>(`/api/workspaces/${encodeURIComponent(workspace.id)}/projects`), [workspace.id]);

  const query = {
    workspaceId: workspace.id,
    from: applied.from,
    to: applied.to,
    provider: applied.provider.trim(),
    projectId: applied.projectId,
    model: applied.model.trim(),
  };
  const state = useAsync(async () => {
    const [trends, providers, models, projects, features] = await Promise.all([
      get<TrendsReport>("/api/analytics/trends", query),
      get<ProvidersReport>("/api/analytics/providers", query),
      get<ModelsReport>("/api/analytics/models", query),
      get<ProjectsReport>("/api/analytics/projects", query),
      get<FeaturesReport>("/api/analytics/features", query),
    ]);
    return { days: trends.days, providers: providers.providers, models: models.models, projects: projects.projects, features: features.features, from: trends.from, to: trends.to };
  }, [workspace.id, applied]);

  const set = (name: keyof Filters) => (value: string) => setDraft((current) => ({ ...current, [name]: value }));
  const projectOptions = [
    { value: "", label: "All projects" },
    ...(projectList.data?.data ?? []).map((p) => ({ value: p.id, label: p.active ? p.name : `${p.name} (inactive)` })),
  ];

  return (
    <Page
      title="Analytics"
      actions={
        <button
          type="button"
          disabled={exporting.busy}
          onClick={() =>
            void exporting.run(() => download("/api/analytics/export.csv", query, `killtoken-usage-${applied.from}-${applied.to}.csv`))
          }
        >
          Export CSV
        </button>
      }
    >
      <form
        class="panel filters report-filters"
        aria-label="Analytics filters"
        onSubmit={(event) => {
          event.preventDefault();
          setApplied({ ...draft });
        }}
      >
        <Field label="From" type="date" value={draft.from} onInput={set("from")} />
        <Field label="To" type="date" value={draft.to} onInput={set("to")} />
        <Field label="Provider" value={draft.provider} onInput={set("provider")} placeholder="e.g. openai" />
        <Select label="Project" value={draft.projectId} onChange={set("projectId")} options={projectOptions} />
        <Field label="Model" value={draft.model} onInput={set("model")} placeholder="part of a name, e.g. mini" />
        <div class="filter-actions">
          <button type="submit" class="primary" disabled={state.loading}>
            Apply filters
          </button>
          <button
            type="button"
            onClick={() => {
              const reset = lastThirtyDays();
              setDraft(reset);
              setApplied(reset);
            }}
          >
            Reset
          </button>
        </div>
      </form>
      <ErrorNote message={exporting.error} />
      <ErrorNote message={projectList.error} />
      <Loaded state={state}>
        {({ days, providers, models, projects, features, from, to }) => {
          const requests = days.reduce((sum, d) => sum + d.requests, 0);
          const spend = days.reduce((sum, d) => sum + d.spendUsd, 0);
          const modelLabels = distinctLabels(models, (m) => m.model, (m) => m.provider);
          const projectLabels = distinctLabels(projects, (p) => p.name, (p) => p.projectId);
          return (
            <div class="report" aria-busy={state.loading}>
              <p class="muted report-range">
                {from === to ? from : `${from} to ${to}`} (UTC days): {count(requests)} requests, {usd(spend)} spent.
              </p>
              {requests === 0 ? <Empty>No requests in this range. Change the dates or the filters, or send some traffic.</Empty> : null}
              <div class="charts">
                <ChartFigure
                  title="Spend by provider"
                  kind="doughnut"
                  labels={providers.map((p) => p.provider)}
                  series={[{ label: "Spend", unit: "usd", data: providers.map((p) => p.spendUsd) }]}
                />
                <ChartFigure
                  title="Spend by model"
                  kind="bar"
                  labels={modelLabels}
                  series={[{ label: "Spend", unit: "usd", data: models.map((m) => m.spendUsd) }]}
                />
                <ChartFigure
                  title="Spend by project"
                  kind="bar"
                  labels={projectLabels}
                  series={[{ label: "Spend", unit: "usd", data: projects.map((p) => p.spendUsd) }]}
                />
                <ChartFigure
                  title="Requests per day"
                  kind="line"
                  labels={days.map((d) => d.date)}
                  series={[
                    { label: "Requests", unit: "count", data: days.map((d) => d.requests) },
                    { label: "Errors", unit: "count", data: days.map((d) => d.errors) },
                    { label: "Blocked", unit: "count", data: days.map((d) => d.blockedRequests) },
                  ]}
                />
              </div>

              <div class="table-wrap">
                <table>
                  <caption>Providers</caption>
                  <thead>
                    <tr>
                      <th scope="col">Provider</th>
                      <th scope="col" class="num">Requests</th>
                      <th scope="col" class="num">Spend</th>
                      <th scope="col" class="num">Input tokens</th>
                      <th scope="col" class="num">Output tokens</th>
                      <th scope="col" class="num">Avg latency</th>
                      <th scope="col" class="num">Errors</th>
                      <th scope="col" class="num">Error rate</th>
                      <th scope="col" class="num">Blocked</th>
                    </tr>
                  </thead>
                  <tbody>
                    {providers.map((p) => (
                      <tr key={p.provider}>
                        <th scope="row">{p.provider}</th>
                        <td class="num">{count(p.requests)}</td>
                        <td class="num">{usd(p.spendUsd)}</td>
                        <td class="num">{count(p.inputTokens)}</td>
                        <td class="num">{count(p.outputTokens)}</td>
                        <td class="num">{milliseconds(p.avgLatencyMs)}</td>
                        <td class="num">{count(p.errors)}</td>
                        <td class="num">{percent(p.errorRate * 100, 1)}</td>
                        <td class="num">{count(p.blockedRequests)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
                {providers.length === 0 ? <Empty>No provider served a request in this range.</Empty> : null}
              </div>

              <div class="table-wrap">
                <table>
                  <caption>Models</caption>
                  <thead>
                    <tr>
                      <th scope="col">Model</th>
                      <th scope="col">Provider</th>
                      <th scope="col" class="num">Requests</th>
                      <th scope="col" class="num">Spend</th>
                      <th scope="col" class="num">Avg cost / request</th>
                      <th scope="col" class="num">Avg latency</th>
                      <th scope="col" class="num">Input tokens</th>
                      <th scope="col" class="num">Output tokens</th>
                    </tr>
                  </thead>
                  <tbody>
                    {models.map((m) => (
                      <tr key={`${m.provider}/${m.model}`}>
                        <th scope="row">{m.model}</th>
                        <td>{m.provider}</td>
                        <td class="num">{count(m.requests)}</td>
                        <td class="num">{usd(m.spendUsd)}</td>
                        <td class="num">{usd(m.avgCostPerRequestUsd)}</td>
                        <td class="num">{milliseconds(m.avgLatencyMs)}</td>
                        <td class="num">{count(m.inputTokens)}</td>
                        <td class="num">{count(m.outputTokens)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
                {models.length === 0 ? <Empty>No model answered a request in this range.</Empty> : null}
                {models.length >= 20 ? <p class="muted table-note">The 20 models with the highest spend.</p> : null}
              </div>

              <div class="table-wrap">
                <table>
                  <caption>Projects</caption>
                  <thead>
                    <tr>
                      <th scope="col">Project</th>
                      <th scope="col" class="num">Requests</th>
                      <th scope="col" class="num">Spend</th>
                      <th scope="col" class="num">Blocked</th>
                      <th scope="col" class="num">Today</th>
                      <th scope="col" class="num">This month</th>
                      <th scope="col">Last request</th>
                    </tr>
                  </thead>
                  <tbody>
                    {projects.map((p) => (
                      <tr key={p.projectId}>
                        <th scope="row">
                          {p.name}
                          {p.active ? null : <span class="badge badge-inactive report-badge">Inactive</span>}
                        </th>
                        <td class="num">{count(p.requests)}</td>
                        <td class="num">{usd(p.spendUsd)}</td>
                        <td class="num">{count(p.blockedRequests)}</td>
                        <td class="num">{ofLimit(p.spentTodayUsd, p.dailyBudgetUsd, p.dailyUtilizationPercent)}</td>
                        <td class="num">{ofLimit(p.spentThisMonthUsd, p.monthlyBudgetUsd, p.monthlyUtilizationPercent)}</td>
                        <td>{p.lastUsedAt ? dateTime(p.lastUsedAt) : "—"}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
                {projects.length === 0 ? <Empty>No projects yet. Create one to get an API key.</Empty> : null}
              </div>

              <div class="table-wrap">
                <table>
                  <caption>Features</caption>
                  <thead>
                    <tr>
                      <th scope="col">Feature</th>
                      <th scope="col" class="num">Requests</th>
                      <th scope="col" class="num">Cost</th>
                      <th scope="col" class="num">Saved</th>
                      <th scope="col" class="num">Waste tokens</th>
                      <th scope="col" class="num">Saved tokens</th>
                      <th scope="col" class="num">Cache hits</th>
                      <th scope="col" class="num">Cache hit rate</th>
                    </tr>
                  </thead>
                  <tbody>
                    {features.map((f) => (
                      <tr key={f.feature}>
                        <th scope="row">{f.feature}</th>
                        <td class="num">{count(f.requests)}</td>
                        <td class="num">{usd(f.costUsd)}</td>
                        <td class="num">{usd(f.savedUsd)}</td>
                        <td class="num">{count(f.wasteTokens)}</td>
                        <td class="num">{count(f.savedTokens)}</td>
                        <td class="num">{count(f.cacheHits)}</td>
                        <td class="num">{percent(f.cacheHitRate * 100, 1)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
                {features.length === 0 ? (
                  <Empty>No feature tags in this range. Tag calls with metadata.feature or the x-killtoken-feature header.</Empty>
                ) : null}
              </div>
            </div>
          );
        }}
      </Loaded>
    </Page>
  );
}
