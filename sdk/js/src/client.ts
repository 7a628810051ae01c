import { KillTokenAPIError, KillTokenConnectionError, KillTokenError } from "./errors.js";
import { readServerSentEvents } from "./sse.js";
import { Transport, type RequestOptions, type RetryPolicy, type SendRequest } from "./transport.js";
import type {
  AnalyticsExport,
  AnalyticsQuery,
  ChatMetrics,
  ChatRequest,
  ChatResult,
  ChatStreamEvent,
  CreateProviderCredential,
  CredentialTestResult,
  DateRange,
  ProviderCredential,
  RequestPageQuery,
  RequestQuery,
  RequestTrace,
  RequestTracePage,
  RoiReport,
  SummaryReport,
  UpdateProviderCredential,
} from "./types.js";

export interface KillTokenClientOptions {
  /** The gateway, e.g. `http://localhost:7071` or `https://<app>.azurewebsites.net` (a path prefix is kept). */
  baseUrl: string;
  /** A KillToken project key (`kt_live_…`) — never a provider key: the gateway holds those. */
  apiKey: string;
  /** How long one attempt may wait for the gateway's answer (for a stream: for its headers). Default 60,000 ms. */
  timeoutMs?: number;
  /** How many times a call that is safe to repeat is sent again after a transient failure. Default 2. */
  maxRetries?: number;
  /** The longest wait before a retry; a `Retry-After` longer than this is not waited for. Default 60,000 ms. */
  maxRetryDelayMs?: number;
  /** Headers sent with every call, e.g. `{ "x-killtoken-feature": "support-bot" }` to tag every call of this client. */
  defaultHeaders?: Record<string, string>;
  /** A fetch implementation (default: the global one of Node 18+). */
  fetch?: typeof fetch;
}

/**
 * The client of a KillToken gateway's project-key routes: `/v1/chat` (plain and streamed), request traces, the summary
 * and ROI reports, exports and provider credentials. Server-side only: the key it holds must never reach a browser.
 * Make one per gateway and key and share it.
 */
export class KillTokenClient {
  readonly #transport: Transport;

  /** `/v1/requests`: the key's workspace's request traces. */
  readonly requests: RequestTraces;
  /** `/v1/exports/…`: the CSV request export and the JSON analytics export. */
  readonly exports: Exports;
  /** `/v1/provider-credentials`: the workspace's own provider keys (strict BYOK); writes need the `credentials:write` scope. */
  readonly providerCredentials: ProviderCredentials;

  constructor(options: KillTokenClientOptions) {
    if (typeof (globalThis as { document?: unknown }).document !== "undefined") {
      throw new KillTokenError("@killtoken/sdk is server-side only: a browser would expose the project key.");
    }
    if (options === null || typeof options !== "object") {
      throw new TypeError("KillTokenClient needs { baseUrl, apiKey }.");
    }
    const baseUrl = parseBaseUrl(options.baseUrl);
    if (typeof options.apiKey !== "string" || options.apiKey.trim() === "") {
      throw new TypeError("apiKey must be a KillToken project key (kt_…); set KILLTOKEN_API_KEY.");
    }
    const fetchImpl = options.fetch ?? globalThis.fetch;
    if (typeof fetchImpl !== "function") {
      throw new TypeError("No fetch: use Node 18 or later, or pass options.fetch.");
    }
    this.#transport = new Transport({
      baseUrl,
      apiKey: options.apiKey.trim(),
      timeoutMs: nonNegative(options.timeoutMs, 60_000, "timeoutMs"),
      maxRetries: nonNegative(options.maxRetries, 2, "maxRetries"),
      maxRetryDelayMs: nonNegative(options.maxRetryDelayMs, 60_000, "maxRetryDelayMs"),
      defaultHeaders: { ...(options.defaultHeaders ?? {}) },
      fetch: fetchImpl,
    });
    this.requests = new RequestTraces(this.#transport);
    this.exports = new Exports(this.#transport);
    this.providerCredentials = new ProviderCredentials(this.#transport);
  }

  /** The gateway's address, without a trailing slash. */
  get baseUrl(): string {
    return this.#transport.baseUrl;
  }

  /**
   * `POST /v1/chat`: the provider's response, unchanged, and the gateway's metrics. Sent again after a transient
   * failure only when `idempotencyKey` is set (the gateway then replays instead of calling the provider twice), or
   * when the gateway refused it before calling the provider (429/503 with `Retry-After`).
   */
  async chat<TResponse = unknown>(request: ChatRequest, options?: RequestOptions): Promise<ChatResult<TResponse>> {
    const answer = await json<{ response?: TResponse; metrics?: ChatMetrics }>(this.#transport, {
      method: "POST",
      path: "v1/chat",
      body: chatBody(request, false),
      retry: chatRetry(request),
      options,
    });
    if (answer === null || typeof answer !== "object" || !("response" in answer) || answer.metrics === undefined) {
      throw new KillTokenAPIError({ status: 200, code: null, requestId: null, message: "The answer has no 'response' and 'metrics': is baseUrl a KillToken gateway?" });
    }
    return { response: answer.response as TResponse, metrics: answer.metrics };
  }

  /**
   * `POST /v1/chat` with `stream: true`. Resolves when the stream begins (a refusal rejects with its
   * `KillTokenAPIError`); iterate it for the provider's events as they arrive, then one `metrics` event.
   */
  async chatStream(request: ChatRequest, options?: RequestOptions): Promise<ChatStream> {
    const sent = await this.#transport.send({
      method: "POST",
      path: "v1/chat",
      body: chatBody(request, true),
      retry: chatRetry(request),
      streamed: true,
      accept: "text/event-stream",
      options,
    });
    return new ChatStream(this.#transport, sent.response, sent.release, options?.signal);
  }

  /** `GET /v1/summary`: totals, savings, cache hit rate, top templates and savings by feature (the last 30 days by default). */
  async summary(range: DateRange = {}, options?: RequestOptions): Promise<SummaryReport> {
    return json(this.#transport, { method: "GET", path: "v1/summary", query: { from: range.from, to: range.to }, retry: "idempotent", options });
  }

  /** `GET /v1/reports/roi`: estimated, verified, potential and cache savings (the last 30 days by default). */
  async roi(range: DateRange = {}, options?: RequestOptions): Promise<RoiReport> {
    return json(this.#transport, { method: "GET", path: "v1/reports/roi", query: { from: range.from, to: range.to }, retry: "idempotent", options });
  }
}

/** A streamed chat: an async iterable of events, read once. `metrics` is set when its metrics event has arrived. */
export class ChatStream implements AsyncIterable<ChatStreamEvent> {
  readonly #transport: Transport;
  readonly #response: Response;
  readonly #release: () => void;
  readonly #signal: AbortSignal | undefined;
  #started = false;

  /** The gateway's metrics, once the stream has delivered them. */
  metrics: ChatMetrics | undefined;

  constructor(transport: Transport, response: Response, release: () => void, signal: AbortSignal | undefined) {
    this.#transport = transport;
    this.#response = response;
    this.#release = release;
    this.#signal = signal;
  }

  /** The gateway's id of this call (the `x-request-id` header), before any event arrives. */
  get requestId(): string | null {
    return this.#response.headers.get("x-request-id");
  }

  /** Stops a stream that will not be read (or not to its end), so its connection is freed. */
  async cancel(): Promise<void> {
    this.#started = true;
    try {
      // A stream being iterated is locked to its reader: leaving the loop (break) stops it instead.
      await this.#response.body?.cancel().catch(() => undefined);
    } finally {
      this.#release();
    }
  }

  async *[Symbol.asyncIterator](): AsyncIterator<ChatStreamEvent> {
    if (this.#started) {
      throw new KillTokenError("A chat stream can be read once.");
    }
    this.#started = true;
    let failure: KillTokenAPIError | undefined;
    try {
      if (this.#response.body === null) {
        return;
      }
      for await (const sse of readServerSentEvents(this.#response.body)) {
        if (sse.event === "killtoken.metrics") {
          this.metrics = JSON.parse(sse.data) as ChatMetrics;
          yield { type: "metrics", metrics: this.metrics };
        } else if (sse.event === "error" && gatewayError(sse.data)) {
          // The gateway's own failure after the stream began (the provider broke off): raised after the last event.
          failure = this.#transport.failure(this.#response.status, sse.data, undefined);
        } else {
          yield sse.event === undefined ? { type: "provider", data: parse(sse.data) } : { type: "provider", event: sse.event, data: parse(sse.data) };
        }
      }
    } catch (thrown) {
      if (this.#signal?.aborted) {
        throw this.#signal.reason;
      }
      // The connection broke after the stream began: no answer to the rest, as for a call that got none.
      throw thrown instanceof KillTokenError ? thrown : new KillTokenConnectionError("The connection broke before the stream ended.");
    } finally {
      this.#release();
    }
    if (failure !== undefined) {
      throw failure;
    }
  }
}

/** `/v1/requests`. */
export class RequestTraces {
  readonly #transport: Transport;

  constructor(transport: Transport) {
    this.#transport = transport;
  }

  /** One page of traces, newest first; pass `nextCursor` as `cursor` for the next. */
  async list(query: RequestPageQuery = {}, options?: RequestOptions): Promise<RequestTracePage> {
    return json(this.#transport, { method: "GET", path: "v1/requests", query: traceFilters(query, true), retry: "idempotent", options });
  }

  /** Every trace that matches, newest first, reading page after page as it is iterated. */
  async *all(query: RequestPageQuery = {}, options?: RequestOptions): AsyncGenerator<RequestTrace> {
    let cursor = query.cursor;
    do {
      const page = await this.list({ ...query, cursor }, options);
      yield* page.data;
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined);
  }

  /** One trace of the key's workspace. */
  async get(requestId: string, options?: RequestOptions): Promise<RequestTrace> {
    return json(this.#transport, { method: "GET", path: "v1/requests/" + segment(requestId, "requestId"), retry: "idempotent", options });
  }
}

/** `/v1/exports/…`. */
export class Exports {
  readonly #transport: Transport;

  constructor(transport: Transport) {
    this.#transport = transport;
  }

  /** `GET /v1/exports/requests.csv`: the privacy-safe request columns as CSV text (at most 10,000 rows). */
  async requestsCsv(query: RequestQuery = {}, options?: RequestOptions): Promise<string> {
    const sent = await this.#transport.send({
      method: "GET",
      path: "v1/exports/requests.csv",
      query: traceFilters(query, false),
      retry: "idempotent",
      accept: "text/csv",
      options,
    });
    return sent.text ?? "";
  }

  /** `GET /v1/exports/analytics.json`: every analytics report of the range in one stamped document. */
  async analytics(query: AnalyticsQuery = {}, options?: RequestOptions): Promise<AnalyticsExport> {
    return json(this.#transport, {
      method: "GET",
      path: "v1/exports/analytics.json",
      query: { from: day(query.from), to: day(query.to), provider: query.provider, model: query.model, feature: query.feature, projectId: query.projectId },
      retry: "idempotent",
      options,
    });
  }
}

/** `/v1/provider-credentials`. Writes are retried only after a rate limit's 429: a lost answer or a 503 would leave their outcome unknown. */
export class ProviderCredentials {
  readonly #transport: Transport;

  constructor(transport: Transport) {
    this.#transport = transport;
  }

  /** The workspace's credentials, masked. */
  async list(options?: RequestOptions): Promise<ProviderCredential[]> {
    const page = await json<{ data: ProviderCredential[] }>(this.#transport, { method: "GET", path: "v1/provider-credentials", retry: "idempotent", options });
    return page.data;
  }

  async get(credentialId: string, options?: RequestOptions): Promise<ProviderCredential> {
    return json(this.#transport, { method: "GET", path: credentialPath(credentialId), retry: "idempotent", options });
  }

  /** Stores a credential (the secret goes to the gateway's vault and is never shown again); needs `credentials:write`. */
  async create(credential: CreateProviderCredential, options?: RequestOptions): Promise<ProviderCredential> {
    return json(this.#transport, { method: "POST", path: "v1/provider-credentials", body: credential, retry: writeRetry, options });
  }

  /** Relabels, reconfigures, rotates, disables or enables a credential; needs `credentials:write`. */
  async update(credentialId: string, changes: UpdateProviderCredential, options?: RequestOptions): Promise<ProviderCredential> {
    return json(this.#transport, { method: "PATCH", path: credentialPath(credentialId), body: changes, retry: writeRetry, options });
  }

  /** Deletes a credential; needs `credentials:write`. */
  async delete(credentialId: string, options?: RequestOptions): Promise<void> {
    await this.#transport.send({ method: "DELETE", path: credentialPath(credentialId), retry: writeRetry, options });
  }

  /** Makes the cheapest real call the provider allows with the stored credential; needs `credentials:write`. */
  async test(credentialId: string, options?: RequestOptions): Promise<CredentialTestResult> {
    return json(this.#transport, { method: "POST", path: credentialPath(credentialId) + "/test", retry: writeRetry, options });
  }
}

const writeRetry: RetryPolicy = "rateLimited";

async function json<T>(transport: Transport, request: SendRequest): Promise<T> {
  const sent = await transport.send(request);
  try {
    return JSON.parse(sent.text ?? "") as T;
  } catch {
    throw new KillTokenAPIError({
      status: sent.response.status,
      code: null,
      requestId: sent.response.headers.get("x-request-id"),
      message: "The gateway's answer is not JSON: is baseUrl a KillToken gateway?",
    });
  }
}

function chatBody(request: ChatRequest, stream: boolean): Record<string, unknown> {
  if (request === null || typeof request !== "object") {
    throw new TypeError("chat needs a request { provider, model, messages }.");
  }
  if (!Array.isArray(request.messages) || request.messages.length === 0) {
    throw new TypeError("A chat request needs at least one message.");
  }
  const body: Record<string, unknown> = { ...request };
  if (stream) {
    body["stream"] = true;
  } else {
    delete body["stream"];
  }
  return body;
}

function chatRetry(request: ChatRequest): RetryPolicy {
  return typeof request.idempotencyKey === "string" && request.idempotencyKey !== "" ? "idempotent" : "refusedBeforeWork";
}

function traceFilters(query: RequestPageQuery, paging: boolean): SendRequest["query"] {
  return {
    provider: query.provider,
    model: query.model,
    mode: query.mode,
    cacheStatus: query.cacheStatus,
    feature: query.feature,
    project: query.project,
    from: query.from,
    to: query.to,
    ...(paging ? { limit: query.limit, cursor: query.cursor } : {}),
  };
}

function credentialPath(credentialId: string): string {
  return "v1/provider-credentials/" + segment(credentialId, "credentialId");
}

function segment(value: string, name: string): string {
  if (typeof value !== "string" || value.trim() === "") {
    throw new TypeError(`${name} must be a non-empty string.`);
  }
  return encodeURIComponent(value);
}

/** A date of the analytics export: `YYYY-MM-DD` (a Date is taken as its UTC day). */
function day(value: string | Date | undefined): string | undefined {
  return value instanceof Date ? value.toISOString().slice(0, 10) : value;
}

function parse(data: string): unknown {
  try {
    return JSON.parse(data) as unknown;
  } catch {
    return data;
  }
}

/** Whether an `error` event's data is the gateway's own `{ error: { code } }` (a provider's error event is passed on). */
function gatewayError(data: string): boolean {
  const parsed = parse(data) as { error?: { code?: unknown } } | undefined;
  return typeof parsed?.error?.code === "string";
}

function parseBaseUrl(value: unknown): string {
  if (typeof value !== "string" || value.trim() === "") {
    throw new TypeError("baseUrl is required, e.g. http://localhost:7071; set KILLTOKEN_BASE_URL.");
  }
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    throw new TypeError("baseUrl must be an absolute http or https address.");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new TypeError("baseUrl must be an absolute http or https address.");
  }
  url.search = "";
  url.hash = "";
  return url.toString().replace(/\/+$/, "");
}

function nonNegative(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) {
    return fallback;
  }
  if (typeof value !== "number" || Number.isNaN(value) || value < 0) {
    throw new TypeError(`${name} must be a number ≥ 0.`);
  }
  return value;
}
