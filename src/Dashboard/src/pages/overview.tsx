// Seed 002's overview: today's and this month's spend, the range's requests, spend against budget per project, and the
// daily trend.
import { get } from "../api";
import { ChartFigure } from "../charts";
import { Empty, Kpi, Loaded, Page, useAsync } from "../components";
import { useApp } from "../context";
import { count, usd } from "../format";
import { StatusBadge } from "../projectStatus";
import type { Overview, Project, Report, TrendDay } from "../types";

const limitText = (spent: number, limit: number | null) => (limit === null ? `${usd(spent)} (no limit)` : `${usd(spent)} of ${usd(limit)}`);

export function OverviewPage() {
  const { workspace } = useApp();
  const state = useAsync(async () => {
    const query = { workspaceId: workspace.id };
    const [overview, trends, projects] = await Promise.all([
      get<Overview>("/api/analytics/overview", query),
      get<Report & { days: TrendDay[] }>("/api/analytics/trends", query),
      get<{ data: Project[] }>(`/api/workspaces/${encodeURIComponent(workspace.id)}/projects`),
    ]);
    return { overview, days: trends.days, projects: projects.data };
  }, [workspace.id]);

  return (
    <Page title="Overview">
      <Loaded state={state}>
        {({ overview, days, projects }) => (
          <>
            <div class="kpis">
              <Kpi label="Spend today" value={usd(overview.today.spendUsd)} detail={`${count(overview.today.requests)} requests`} />
              <Kpi label="Spend this month" value={usd(overview.month.spendUsd)} detail={`${count(overview.month.requests)} requests`} />
              <Kpi label="Requests (30 days)" value={count(overview.range.requests)} detail={`${count(overview.range.totalTokens)} tokens`} />
              <Kpi label="Blocked requests" value={count(overview.blockedRequests)} detail={`${count(overview.range.errors)} errors`} />
              <Kpi
                label="Top model"
                value={overview.topModel?.model ?? "—"}
                detail={overview.topModel ? `${overview.topModel.provider} · ${usd(overview.topModel.spendUsd)}` : undefined}
              />
            </div>
            {overview.range.requests === 0 ? (
              <Empty>No traffic yet. Send a request with a project key to see it here.</Empty>
            ) : null}
            <ChartFigure
              title="Daily spend (30 days)"
              kind="line"
              labels={days.map((d) => d.date)}
              series={[
                { label: "Requests", unit: "count", data: days.map((d) => d.requests) },
                { label: "Spend", unit: "usd", data: days.map((d) => d.spendUsd) },
              ]}
            />
            {overview.budgetRisk.length > 0 ? (
              <p class="warning" role="status">
                {overview.budgetRisk.length === 1 ? "1 project is" : `${overview.budgetRisk.length} projects are`} at 80% or more of a
                budget: {overview.budgetRisk.map((r) => `${r.name} (${r.scope}, ${r.usedPercent.toFixed(0)}%)`).join(", ")}.
              </p>
            ) : null}
            <div class="table-wrap">
              <table>
                <caption>Spend vs budget</caption>
                <thead>
                  <tr>
                    <th scope="col">Project</th>
                    <th scope="col">Status</th>
                    <th scope="col">Today</th>
                    <th scope="col">This month</th>
                  </tr>
                </thead>
                <tbody>
                  {projects.map((p) => (
                    <tr key={p.id}>
                      <th scope="row">{p.name}</th>
                      <td>
                        <StatusBadge project={p} />
                      </td>
                      <td>{p.spend ? limitText(p.spend.today.spentUsd, p.dailyBudgetUsd) : "—"}</td>
                      <td>{p.spend ? limitText(p.spend.month.spentUsd, p.monthlyBudgetUsd) : "—"}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
              {projects.length === 0 ? <Empty>No projects yet. Create one to get an API key.</Empty> : null}
            </div>
          </>
        )}
      </Loaded>
    </Page>
  );
}
