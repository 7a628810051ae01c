// The shapes the management API answers with (product.md §5 and §8). Only the fields the dashboard reads.
export interface User { id: string; email: string; name: string | null; createdAt: string }

export type Role = "owner" | "admin" | "member";

export interface PeriodSpend { period: string; spentUsd: number; reservedUsd: number; limitUsd: number | null; resetsAt: string }

export interface Workspace {
  id: string; name: string; role: Role; createdAt: string; updatedAt: string;
  monthlyBudgetUsd?: number | null; month?: PeriodSpend | null;
}

export interface Project {
  id: string; workspaceId: string; name: string;
  dailyBudgetUsd: number | null; monthlyBudgetUsd: number | null;
  fallbackModel: string | null; fallbackProvider: string | null; alertEmail: string | null;
  active: boolean; keyPreview: string; scopes: string[];
  createdAt: string; updatedAt: string; lastUsedAt: string | null;
  spend?: { state: "normal" | "fallback" | "blocked"; today: PeriodSpend; month: PeriodSpend } | null;
}

export interface Filters { provider: string | null; projectId: string | null; model: string | null; feature: string | null }

export interface Report { workspaceId: string; from: string; to: string; filters: Filters }

export interface TrendDay {
  date: string; requests: number; spendUsd: number; inputTokens: number; outputTokens: number;
  totalTokens: number; blockedRequests: number; errors: number;
}

export interface Overview extends Report {
  today: { date: string; requests: number; spendUsd: number };
  month: { month: string; requests: number; spendUsd: number };
  range: { requests: number; spendUsd: number; inputTokens: number; outputTokens: number; totalTokens: number; errors: number; blockedRequests: number };
  topProvider: { provider: string; spendUsd: number; requests: number } | null;
  topModel: { provider: string; model: string; spendUsd: number; requests: number } | null;
  budgetRisk: { projectId: string; name: string; scope: "daily" | "monthly"; limitUsd: number; spentUsd: number; usedPercent: number }[];
  blockedRequests: number;
}
