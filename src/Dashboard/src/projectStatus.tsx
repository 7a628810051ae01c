// One word for where a project stands against its budgets, as the gateway will treat its next call.
import type { Project } from "./types";

export type ProjectStatus = "Inactive" | "Blocked" | "Fallback" | "Near limit" | "Active";

const used = (spent: number, limit: number | null) => (limit === null || limit <= 0 ? 0 : (spent / limit) * 100);

export function projectStatus(project: Project): ProjectStatus {
  if (!project.active) return "Inactive";
  const spend = project.spend;
  if (!spend) return "Active";
  if (spend.state === "blocked") return "Blocked";
  if (spend.state === "fallback") return "Fallback";
  const worst = Math.max(used(spend.today.spentUsd, spend.today.limitUsd), used(spend.month.spentUsd, spend.month.limitUsd));
  return worst >= 80 ? "Near limit" : "Active";
}

export const StatusBadge = ({ project }: { project: Project }) => {
  const status = projectStatus(project);
  return <span class={`badge badge-${status.toLowerCase().replace(" ", "-")}`}>{status}</span>;
};
