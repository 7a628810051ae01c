/** The providers a KillToken gateway calls; any other string the gateway learns later is accepted too. */
export type Provider =
  | "openai"
  | "anthropic"
  | "gemini"
  | "mistral"
  | "deepseek"
  | "openrouter"
  | "together"
  | "perplexity"
  | "xai"
  | "azure_openai"
  | "openai_compatible"
  | "aws_bedrock"
  | "google_vertex"
  | (string & {});

/** An OpenAI-style message; the gateway translates it to the provider's wire format. */
export interface ChatMessage {
  role: "system" | "developer" | "user" | "assistant" | "tool" | (string & {});
  content: string | unknown[] | null;
  [field: string]: unknown;
}

/** `measure_only` (the default) measures waste and changes nothing; `safe` applies meaning-preserving transforms. */
export type OptimizationMode = "measure_only" | "safe";

/** Exact-cache behaviour for one call (the gateway's `KILLTOKEN_CACHE_ENABLED` must be on). */
export type ExactCachePolicy = "bypass" | "read_only" | "write_only" | "read_write";

/** The body of `POST /v1/chat`. */
export interface ChatRequest {
  provider: Provider;
  model: string;
  messages: ChatMessage[];
  optimizationMode?: OptimizationMode;
  /** Tenant-owned trace context; `metadata.feature` tags the call for the savings-by-feature report. */
  metadata?: Record<string, string>;
  /** Provider-specific options (e.g. `max_tokens`, `temperature`), forwarded when supported. */
  providerOptions?: Record<string, unknown>;
  cachePolicy?: { exactCache: ExactCachePolicy };
  /** Repeating a key replays the stored answer instead of calling the provider again (≤ 255 characters). */
  idempotencyKey?: string;
}

export type CacheStatus = "hit" | "miss" | "bypass" | "disabled" | "write" | (string & {});
export type IdempotencyStatus = "none" | "new" | "replayed" | (string & {});
/** `free`: a cache hit, a replay or a failure before any usage; `estimated`: a priced model whose usage the provider did not report validly. */
export type CostStatus = "priced" | "unpriced" | "free" | "estimated" | (string & {});

/** What the gateway measured of one call. */
export interface ChatMetrics {
  requestId: string;
  provider: Provider;
  model: string;
  originalModel?: string;
  finalModel?: string;
  finalProvider?: Provider;
  wasFallback: boolean;
  fallbackSkipped?: string | null;
  outputCapped?: boolean;
  outputCap?: number | null;
  optimizationMode?: string;
  inputTokens: number;
  outputTokens: number;
  cachedInputTokens?: number;
  totalTokens: number;
  wasteTokens: number;
  wasteByCategory?: Record<string, number>;
  savedTokens: number;
  /** null when the model is not priced (`costStatus: "unpriced"`), never a made-up 0. */
  costUsd: number | null;
  costStatus: CostStatus;
  savedUsd: number;
  cacheStatus: CacheStatus;
  idempotency: IdempotencyStatus;
  latencyMs: number;
  providerLatencyMs?: number;
  overheadMs: number;
  feature?: string | null;
  templateId?: string | null;
  [field: string]: unknown;
}

/** The answer of `POST /v1/chat`: the provider's response, unchanged, and the gateway's metrics. */
export interface ChatResult<TResponse = unknown> {
  response: TResponse;
  metrics: ChatMetrics;
}

/** One event of a streamed chat: the provider's own event, or the gateway's metrics at the end. */
export type ChatStreamEvent =
  | {
      type: "provider";
      /** The SSE `event:` name, when the provider sends one (Anthropic does, OpenAI does not). */
      event?: string;
      /** The event's data parsed as JSON, or the raw text when it is not JSON (e.g. OpenAI's `[DONE]`). */
      data: unknown;
    }
  | { type: "metrics"; metrics: ChatMetrics };

/** One gateway request as its trace (never the prompt or completion text). */
export interface RequestTrace {
  id: string;
  workspaceId?: string;
  projectId?: string;
  createdAt: string;
  endpoint?: string;
  provider?: Provider;
  finalProvider?: Provider;
  model?: string;
  finalModel?: string;
  wasFallback: boolean;
  optimizationMode?: string;
  feature?: string | null;
  stream: boolean;
  status: number;
  errorCode?: string | null;
  inputTokens: number;
  outputTokens: number;
  totalTokens: number;
  costUsd: number | null;
  costStatus: CostStatus;
  savedUsd: number;
  cacheStatus: CacheStatus;
  idempotency: IdempotencyStatus;
  latencyMs: number;
  overheadMs: number;
  templateId?: string | null;
  [field: string]: unknown;
}

/** Filters of the trace list and the CSV export. Instants are ISO 8601 strings or Dates. */
export interface RequestQuery {
  provider?: Provider;
  model?: string;
  mode?: OptimizationMode;
  cacheStatus?: CacheStatus;
  feature?: string;
  /** A project id of the key's workspace. */
  project?: string;
  from?: string | Date;
  to?: string | Date;
}

export interface RequestPageQuery extends RequestQuery {
  /** Page size (the gateway caps it). */
  limit?: number;
  /** The `nextCursor` of the previous page. */
  cursor?: string;
}

export interface RequestTracePage {
  data: RequestTrace[];
  nextCursor: string | null;
}

/** A range of UTC days: ISO dates (`2026-12-01`), instants or Dates. The gateway's default is the last 30 days. */
export interface DateRange {
  from?: string | Date;
  to?: string | Date;
}

export interface SummaryReport {
  from: string;
  to: string;
  totals: {
    requests: number;
    errors: number;
    blocked: number;
    inputTokens: number;
    outputTokens: number;
    totalTokens: number;
    cachedInputTokens: number;
    costUsd: number;
    savedUsd: number;
    wasteTokens: number;
    savedTokens: number;
    cacheHits: number;
    cacheHitRate: number;
    replays: number;
    fallbacks: number;
    avgLatencyMs: number;
    [field: string]: unknown;
  };
  topTemplates: Array<{ templateId: string; requests: number; inputTokens: number; wasteTokens: number; costUsd: number; estimatedWasteUsd: number }>;
  byFeature: Array<{
    feature: string;
    requests: number;
    costUsd: number;
    savedUsd: number;
    cacheHits: number;
    cacheHitRate: number;
    wasteTokens: number;
    estimatedSavingsUsd: number;
  }>;
  [field: string]: unknown;
}

export interface RoiReport {
  from: string;
  to: string;
  requests: number;
  costUsd: number;
  savings: { estimatedUsd: number; verifiedUsd: number; potentialUsd: number; cacheUsd: number; replayUsd: number; realizedUsd: number };
  realizedSavingsRate: number;
  recommendation: string;
  [field: string]: unknown;
}

export interface AnalyticsQuery extends DateRange {
  provider?: Provider;
  model?: string;
  feature?: string;
  projectId?: string;
}

/** `GET /v1/exports/analytics.json`: every analytics report of a range in one stamped document. */
export interface AnalyticsExport {
  generatedAt: string;
  workspaceId: string;
  from: string;
  to: string;
  filters: { provider: string | null; projectId: string | null; model: string | null; feature: string | null };
  totals: Record<string, number>;
  days: Array<Record<string, unknown>>;
  providers: Array<Record<string, unknown>>;
  models: Array<Record<string, unknown>>;
  projects: Array<Record<string, unknown>>;
  features: Array<Record<string, unknown>>;
  [field: string]: unknown;
}

/** A workspace's provider credential as the gateway shows it: masked, the secret never returned. */
export interface ProviderCredential {
  id: string;
  provider: Provider;
  label?: string | null;
  status: "active" | "disabled" | (string & {});
  keyPreview: string;
  config: Record<string, string>;
  createdAt: string;
  updatedAt: string;
  [field: string]: unknown;
}

/**
 * A new credential: `apiKey` for single-key providers (and azure_openai / openai_compatible with `config`), or a
 * `secrets` bundle for aws_bedrock (`accessKeyId`, `secretAccessKey`, `sessionToken?`) and google_vertex
 * (`clientEmail`, `privateKey`, `privateKeyId?`).
 */
export interface CreateProviderCredential {
  provider: Provider;
  label?: string;
  apiKey?: string;
  secrets?: Record<string, string>;
  config?: Record<string, string>;
}

/** Changes to a credential: relabel, reconfigure, rotate the secret, or `status: "disabled"` / `"active"`. */
export interface UpdateProviderCredential {
  label?: string;
  apiKey?: string;
  secrets?: Record<string, string>;
  config?: Record<string, string>;
  status?: "active" | "disabled";
}

export interface CredentialTestResult {
  ok: boolean;
  latencyMs: number;
  providerStatus: number | null;
  message: string;
}
