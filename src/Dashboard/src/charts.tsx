// Charts from Chart.js, each with its numbers also as a visually hidden table (screen readers, and tests, read that).
import {
  ArcElement, BarController, BarElement, CategoryScale, Chart, DoughnutController, Filler, Legend, LinearScale,
  LineController, LineElement, PointElement, Tooltip, type ChartConfiguration,
} from "chart.js";
import type { ComponentChildren } from "preact";
import { useEffect, useRef } from "preact/hooks";
import { count, usd } from "./format";

Chart.register(ArcElement, BarController, BarElement, CategoryScale, DoughnutController, Filler, Legend, LinearScale,
  LineController, LineElement, PointElement, Tooltip);

const palette = ["#4f46e5", "#0d9488", "#d97706", "#db2777", "#2563eb", "#65a30d", "#7c3aed", "#dc2626", "#0891b2", "#57534e"];

export interface Series {
  label: string;
  data: number[];
  /** How its values read: dollars or plain counts. */
  unit: "usd" | "count";
}

export interface ChartProps {
  title: string;
  kind: "line" | "bar" | "doughnut";
  labels: string[];
  series: Series[];
  /** A visible table of the same numbers, shown instead of the hidden one (one table per name). */
  children?: ComponentChildren;
  className?: string;
}

/** "2026-12-04" reads as "Dec 4" on an axis; other labels stay as they are. */
function shortDay(label: string): string {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(label)) return label;
  return new Date(label + "T00:00:00Z").toLocaleDateString("en-US", { month: "short", day: "numeric", timeZone: "UTC" });
}

const formatOf = (unit: Series["unit"]) => (unit === "usd" ? usd : count);

export function ChartFigure({ title, kind, labels, series, children, className }: ChartProps) {
  const canvas = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    if (!canvas.current) return;
    const twoAxes = kind !== "doughnut" && series.length > 1 && series[0].unit !== series[1].unit;
    const config: ChartConfiguration = {
      type: kind,
      data: {
        labels,
        datasets: series.map((s, i) => ({
          label: s.label,
          data: s.data,
          borderColor: kind === "doughnut" ? "#fff" : palette[i % palette.length],
          backgroundColor: kind === "doughnut" ? labels.map((_, j) => palette[j % palette.length]) : palette[i % palette.length] + (kind === "line" ? "33" : "cc"),
          fill: kind === "line" && i === 0,
          tension: 0.25,
          pointRadius: labels.length > 40 ? 0 : 2,
          yAxisID: twoAxes && i === 1 ? "y1" : "y",
          type: kind === "line" && twoAxes && i === 1 ? "bar" : undefined,
        })) as never,
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        plugins: {
          legend: { display: kind === "doughnut" || series.length > 1, position: "bottom" },
          tooltip: {
            callbacks: {
              label: (item) => `${item.dataset.label ?? ""}: ${formatOf(series[item.datasetIndex]?.unit ?? "count")(Number(item.raw))}`,
            },
          },
        },
        scales:
          kind === "doughnut"
            ? {}
            : {
                x: { ticks: { autoSkip: true, maxRotation: 0, callback: (_v, index) => shortDay(labels[index] ?? "") } },
                y: { beginAtZero: true, ticks: { callback: (v) => formatOf(series[0]?.unit ?? "count")(Number(v)) } },
                ...(twoAxes
                  ? { y1: { beginAtZero: true, position: "right" as const, grid: { drawOnChartArea: false }, ticks: { callback: (v) => formatOf(series[1].unit)(Number(v)) } } }
                  : {}),
              },
      },
    };
    const chart = new Chart(canvas.current, config);
    return () => chart.destroy();
  }, [kind, JSON.stringify(labels), JSON.stringify(series)]);

  return (
    <figure class={className ? `chart ${className}` : "chart"}>
      <figcaption>{title}</figcaption>
      <div class="chart-box">
        <canvas ref={canvas} role="img" aria-label={title} />
      </div>
      {/* A table ignores height and overflow, so the wrapper is what hides it. */}
      {children ?? (
      <div class="visually-hidden">
      <table>
        <caption>{title}</caption>
        <thead>
          <tr>
            <th scope="col">Label</th>
            {series.map((s) => (
              <th scope="col" key={s.label}>
                {s.label}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {labels.map((label, row) => (
            <tr key={label}>
              <th scope="row">{label}</th>
              {series.map((s) => (
                <td key={s.label}>{formatOf(s.unit)(s.data[row] ?? 0)}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
      </div>
      )}
    </figure>
  );
}
