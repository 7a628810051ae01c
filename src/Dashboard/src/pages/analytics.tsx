// Analytics: where the money went over a range of UTC days — by provider, model, project and feature, and per day —
// with the usage log as a CSV download (through the session header, never a token in a URL).
import { useState } from "preact/hooks";
import { download, get } from "../api";
import { ChartFigure } from "../charts";
import { Empty, ErrorNote, Field, FilterActions, Loaded, Page, Select, useAction, useAsync } from "../components";
import { useApp } from "../context";
import { count, dateTime, daysAgo, percent, usd } from "../format";
import { DataTable } from "../table";
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
        <FilterActions
          loading={state.loading}
          reset={{
            label: "Reset",
            onClick: () => {
              const reset = lastThirtyDays();
              setDraft(reset);
              setApplied(reset);
            },
          }}
        />
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

              <DataTable
                caption="Providers"
                rows={providers}
                rowKey={(p) => p.provider}
                columns={[
                  { header: "Provider", rowHeader: true, cell: (p) => p.provider },
                  { header: "Requests", numeric: true, cell: (p) => count(p.requests) },
                  { header: "Spend", numeric: true, cell: (p) => usd(p.spendUsd) },
                  { header: "Input tokens", numeric: true, cell: (p) => count(p.inputTokens) },
                  { header: "Output tokens", numeric: true, cell: (p) => count(p.outputTokens) },
                  { header: "Avg latency", numeric: true, cell: (p) => milliseconds(p.avgLatencyMs) },
                  { header: "Errors", numeric: true, cell: (p) => count(p.errors) },
                  { header: "Error rate", numeric: true, cell: (p) => percent(p.errorRate * 100, 1) },
                  { header: "Blocked", numeric: true, cell: (p) => count(p.blockedRequests) },
                ]}
                empty="No provider served a request in this range."
              />

              <DataTable
                caption="Models"
                rows={models}
                rowKey={(m) => `${m.provider}/${m.model}`}
                columns={[
                  { header: "Model", rowHeader: true, cell: (m) => m.model },
                  { header: "Provider", cell: (m) => m.provider },
                  { header: "Requests", numeric: true, cell: (m) => count(m.requests) },
                  { header: "Spend", numeric: true, cell: (m) => usd(m.spendUsd) },
                  { header: "Avg cost / request", numeric: true, cell: (m) => usd(m.avgCostPerRequestUsd) },
                  { header: "Avg latency", numeric: true, cell: (m) => milliseconds(m.avgLatencyMs) },
                  { header: "Input tokens", numeric: true, cell: (m) => count(m.inputTokens) },
                  { header: "Output tokens", numeric: true, cell: (m) => count(m.outputTokens) },
                ]}
                empty="No model answered a request in this range."
              >
                {models.length >= 20 ? <p class="muted table-note">The 20 models with the highest spend.</p> : null}
              </DataTable>

              <DataTable
                caption="Projects"
                rows={projects}
                rowKey={(p) => p.projectId}
                columns={[
                  {
                    header: "Project",
                    rowHeader: true,
                    cell: (p) => (
                      <>
                        {p.name}
                        {p.active ? null : <span class="badge badge-inactive report-badge">Inactive</span>}
                      </>
                    ),
                  },
                  { header: "Requests", numeric: true, cell: (p) => count(p.requests) },
                  { header: "Spend", numeric: true, cell: (p) => usd(p.spendUsd) },
                  { header: "Blocked", numeric: true, cell: (p) => count(p.blockedRequests) },
                  { header: "Today", numeric: true, cell: (p) => ofLimit(p.spentTodayUsd, p.dailyBudgetUsd, p.dailyUtilizationPercent) },
                  { header: "This month", numeric: true, cell: (p) => ofLimit(p.spentThisMonthUsd, p.monthlyBudgetUsd, p.monthlyUtilizationPercent) },
                  { header: "Last request", cell: (p) => (p.lastUsedAt ? dateTime(p.lastUsedAt) : "—") },
                ]}
                empty="No projects yet. Create one to get an API key."
              />

              <DataTable
                caption="Features"
                rows={features}
                rowKey={(f) => f.feature}
                columns={[
                  { header: "Feature", rowHeader: true, cell: (f) => f.feature },
                  { header: "Requests", numeric: true, cell: (f) => count(f.requests) },
                  { header: "Cost", numeric: true, cell: (f) => usd(f.costUsd) },
                  { header: "Saved", numeric: true, cell: (f) => usd(f.savedUsd) },
                  { header: "Waste tokens", numeric: true, cell: (f) => count(f.wasteTokens) },
                  { header: "Saved tokens", numeric: true, cell: (f) => count(f.savedTokens) },
                  { header: "Cache hits", numeric: true, cell: (f) => count(f.cacheHits) },
                  { header: "Cache hit rate", numeric: true, cell: (f) => percent(f.cacheHitRate * 100, 1) },
                ]}
                empty="No feature tags in this range. Tag calls with metadata.feature or the x-killtoken-feature header."
              />
            </div>
          );
        }}
      </Loaded>
    </Page>
  );
}
