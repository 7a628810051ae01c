// Savings & ROI: what the gateway saved over a range of UTC days (realized, estimated, potential, cache), the one next
// step that would save the most, and the savings per feature and the costliest templates. Both reports cover the whole
// workspace: they take from/to only.
import { useState } from "preact/hooks";
import { get } from "../api";
import { ChartFigure } from "../charts";
import { Field, FilterActions, Kpi, Loaded, Page, useAsync } from "../components";
import { useApp } from "../context";
import { count, daysAgo, percent, usd } from "../format";
import { DataTable } from "../table";
import type { FeatureSummary, RoiReport, SummaryReport } from "../types-reports";

interface Range { from: string; to: string }

const lastThirtyDays = (): Range => ({ from: daysAgo(29), to: daysAgo(0) });

export function SavingsPage() {
  const { workspace } = useApp();
  const [draft, setDraft] = useState<Range>(lastThirtyDays);
  const [applied, setApplied] = useState<Range>(draft);
  const state = useAsync(async () => {
    const query = { workspaceId: workspace.id, from: applied.from, to: applied.to };
    const [roi, summary] = await Promise.all([
      get<RoiReport>("/api/analytics/roi", query),
      get<SummaryReport>("/api/analytics/summary", query),
    ]);
    return { roi, summary };
  }, [workspace.id, applied]);

  return (
    <Page title="Savings & ROI">
      <form
        class="panel filters report-filters"
        aria-label="Savings range"
        onSubmit={(event) => {
          event.preventDefault();
          setApplied({ ...draft });
        }}
      >
        <Field label="From" type="date" value={draft.from} onInput={(from) => setDraft((d) => ({ ...d, from }))} />
        <Field label="To" type="date" value={draft.to} onInput={(to) => setDraft((d) => ({ ...d, to }))} />
        <FilterActions loading={state.loading} />
      </form>
      <Loaded state={state}>
        {({ roi, summary }) => {
          const s = roi.savings;
          const totals = summary.totals;
          return (
            <div class="report" aria-busy={state.loading}>
              <p class="muted report-range">
                {roi.from === roi.to ? roi.from : `${roi.from} to ${roi.to}`} (UTC days): {count(roi.requests)} requests, {usd(roi.costUsd)} spent,{" "}
                {count(totals.savedTokens)} tokens saved.
              </p>
              <div class="kpis">
                <Kpi
                  label="Realized savings"
                  value={usd(s.realizedUsd)}
                  detail={`${percent(roi.realizedSavingsRate * 100, 1)} of the cost without KillToken · safe mode ${usd(s.verifiedUsd)}, replays ${usd(s.replayUsd)}`}
                />
                <Kpi label="Estimated savings" value={usd(s.estimatedUsd)} detail="Waste measured in prompts, at the models' input prices" />
                <Kpi label="Potential savings" value={usd(s.potentialUsd)} detail="If measure_only traffic used optimizationMode “safe”" />
                <Kpi
                  label="Cache savings"
                  value={usd(s.cacheUsd)}
                  detail={`${count(totals.cacheHits)} cache hits · ${percent(totals.cacheHitRate * 100, 1)} hit rate`}
                />
              </div>
              <section class="panel recommendation" aria-labelledby="savings-recommendation">
                <h2 id="savings-recommendation">Recommendation</h2>
                <p>{roi.recommendation}</p>
              </section>
              <FeatureSavings features={summary.byFeature} />
              <DataTable
                caption="Top templates"
                rows={summary.topTemplates}
                rowKey={(t) => t.templateId}
                columns={[
                  { header: "Template", rowHeader: true, cell: (t) => <code>{t.templateId}</code> },
                  { header: "Requests", numeric: true, cell: (t) => count(t.requests) },
                  { header: "Input tokens", numeric: true, cell: (t) => count(t.inputTokens) },
                  { header: "Waste tokens", numeric: true, cell: (t) => count(t.wasteTokens) },
                  { header: "Cost", numeric: true, cell: (t) => usd(t.costUsd) },
                  { header: "Estimated waste", numeric: true, cell: (t) => usd(t.estimatedWasteUsd) },
                ]}
                empty="No prompt templates seen in this range."
              />
            </div>
          );
        }}
      </Loaded>
    </Page>
  );
}

/** The chart "Savings by feature", with its numbers as the visible table of the same name. */
function FeatureSavings({ features }: { features: FeatureSummary[] }) {
  return (
    <ChartFigure
      title="Savings by feature"
      kind="bar"
      className="savings-figure"
      labels={features.map((f) => f.feature)}
      series={[
        { label: "Realized", unit: "usd", data: features.map((f) => f.savedUsd) },
        { label: "Estimated", unit: "usd", data: features.map((f) => f.estimatedSavingsUsd) },
      ]}
    >
      <DataTable
        caption="Savings by feature"
        captionClass="visually-hidden"
        rows={features}
        rowKey={(f) => f.feature}
        columns={[
          { header: "Feature", rowHeader: true, cell: (f) => f.feature },
          { header: "Requests", numeric: true, cell: (f) => count(f.requests) },
          { header: "Cost", numeric: true, cell: (f) => usd(f.costUsd) },
          { header: "Realized", numeric: true, cell: (f) => usd(f.savedUsd) },
          { header: "Estimated", numeric: true, cell: (f) => usd(f.estimatedSavingsUsd) },
          { header: "Cache hits", numeric: true, cell: (f) => count(f.cacheHits) },
          { header: "Cache hit rate", numeric: true, cell: (f) => percent(f.cacheHitRate * 100, 1) },
          { header: "Waste tokens", numeric: true, cell: (f) => count(f.wasteTokens) },
        ]}
        empty="No traffic in this range, so no savings by feature yet."
      />
    </ChartFigure>
  );
}
