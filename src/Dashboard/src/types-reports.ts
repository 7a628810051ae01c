// The shapes of the analytics, request-list and savings answers (notes/analytics-spec.md, src/Core/Analytics,
// RequestTrace in src/Core/Domain/Records.cs). JSON is camelCase; money is USD as a JSON number.
import type { Report, TrendDay } from "./types";

export interface ProviderRow {
  provider: string; requests: number; spendUsd: number; inputTokens: number; outputTokens: number; totalTokens: number;
  avgLatencyMs: number; errors: number; errorRate: number; blockedRequests: number;
}

export interface ModelRow {
  provider: string; model: string; requests: number; spendUsd: number; avgCostPerRequestUsd: number; avgLatencyMs: number;
  inputTokens: number; outputTokens: number; totalTokens: number;
}

export interface ProjectRow {
  projectId: string; name: string; active: boolean; requests: number; spendUsd: number; blockedRequests: number;
  dailyBudgetUsd: number | null; monthlyBudgetUsd: number | null; spentTodayUsd: number; spentThisMonthUsd: number;
  dailyUtilizationPercent: number | null; monthlyUtilizationPercent: number | null; lastUsedAt: string | null;
}

export interface FeatureRow {
  feature: string; requests: number; costUsd: number; wasteTokens: number; savedTokens: number; savedUsd: number;
  cacheHits: number; cacheHitRate: number;
}

export type TrendsReport = Report & { days: TrendDay[] };
export type ProvidersReport = Report & { providers: ProviderRow[] };
export type ModelsReport = Report & { models: ModelRow[] };
export type ProjectsReport = Report & { projects: ProjectRow[] };
export type FeaturesReport = Report & { features: FeatureRow[] };

/** One call's trace, as the request list returns it (never any prompt or completion text). */
export interface RequestTrace {
  id: string; workspaceId: string; projectId: string | null; createdAt: string; endpoint: string;
  provider: string | null; finalProvider: string | null; model: string | null; finalModel: string | null;
  wasFallback: boolean; outputCapped: boolean; outputCap: number | null; optimizationMode: string | null;
  feature: string; stream: boolean; status: number; errorCode: string | null;
  inputTokens: number; outputTokens: number; cachedInputTokens: number; totalTokens: number; wasteTokens: number; savedTokens: number;
  costUsd: number | null; costStatus: string; savedUsd: number; wasteUsd: number; potentialSavedUsd: number;
  wasteByCategory: Record<string, number> | null; cacheStatus: string; idempotency: string;
  latencyMs: number; providerLatencyMs: number; overheadMs: number; templateId: string | null;
}

export interface TracePage { data: RequestTrace[]; nextCursor: string | null }

export interface RoiReport {
  from: string; to: string; requests: number; costUsd: number;
  savings: { estimatedUsd: number; verifiedUsd: number; potentialUsd: number; cacheUsd: number; replayUsd: number; realizedUsd: number };
  realizedSavingsRate: number;
  recommendation: string;
}

export interface FeatureSummary {
  feature: string; requests: number; costUsd: number; savedUsd: number; cacheHits: number; cacheHitRate: number;
  wasteTokens: number; estimatedSavingsUsd: number;
}

export interface TemplateSummary { templateId: string; requests: number; inputTokens: number; wasteTokens: number; costUsd: number; estimatedWasteUsd: number }

export interface SummaryReport {
  from: string; to: string;
  totals: {
    requests: number; errors: number; blocked: number; inputTokens: number; outputTokens: number; totalTokens: number;
    cachedInputTokens: number; costUsd: number; savedUsd: number; wasteTokens: number; savedTokens: number; cacheHits: number;
    cacheHitRate: number; replays: number; fallbacks: number; avgLatencyMs: number;
  };
  topTemplates: TemplateSummary[];
  byFeature: FeatureSummary[];
}
