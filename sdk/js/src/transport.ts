import { KillTokenAPIError, KillTokenConnectionError, KillTokenTimeoutError, type ErrorDetails } from "./errors.js";

export const SDK_VERSION = "0.1.0";

/**
 * When a failed attempt may be sent again:
 * - `idempotent`: the call changes nothing twice (reads; a chat with an idempotency key, which the gateway replays) —
 *   on 408, 429, 5xx and on no answer;
 * - `refusedBeforeWork`: only on a 429 or 503 that carries `Retry-After`, the gateway's word that it refused before
 *   doing anything (a chat without an idempotency key: a cut connection may have reached the provider);
 * - `rateLimited`: only on a 429 with `Retry-After` (the project's request rate: refused before anything was read) —
 *   writes whose outcome a lost answer or a store's 503 would leave unknown;
 * - `never`.
 * A `x-should-retry: false` answer (a spent budget) and a `Retry-After` longer than `maxRetryDelayMs` are never retried.
 */
export type RetryPolicy = "idempotent" | "refusedBeforeWork" | "rateLimited" | "never";

export interface TransportOptions {
  baseUrl: string;
  apiKey: string;
  timeoutMs: number;
  maxRetries: number;
  maxRetryDelayMs: number;
  defaultHeaders: Record<string, string>;
  fetch: typeof fetch;
}

/** Per-call options. */
export interface RequestOptions {
  /** Cancels the call; the promise rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Overrides the client's `timeoutMs` for this call (per attempt). */
  timeoutMs?: number;
  /** Extra headers for this call (e.g. `x-killtoken-feature`). */
  headers?: Record<string, string>;
}

export interface SendRequest {
  method: "GET" | "POST" | "PATCH" | "DELETE";
  path: string;
  query?: Record<string, string | number | Date | undefined | null>;
  body?: unknown;
  retry: RetryPolicy;
  /** Return as soon as the headers arrive (the caller reads the body); otherwise the body is read within the attempt's timeout. */
  streamed?: boolean;
  accept?: string;
  options?: RequestOptions | undefined;
}

/** A successful answer: its headers and either its whole body or, when streamed, the open response. */
export interface SendResult {
  response: Response;
  text: string | undefined;
  /** Frees the attempt's timer and the caller's abort link; call it when a streamed body is done. */
  release: () => void;
}

const retryableStatuses = new Set([408, 429, 500, 502, 503, 504]);
const initialBackoffMs = 500;

/** Sends one call: the key on every attempt, a per-attempt timeout, the caller's signal, and retries as its policy allows. */
export class Transport {
  readonly #options: TransportOptions;
  readonly #userAgent: string;

  constructor(options: TransportOptions) {
    this.#options = options;
    const node = (globalThis as { process?: { version?: string } }).process?.version ?? "unknown";
    this.#userAgent = `killtoken-sdk-js/${SDK_VERSION} node/${node}`;
  }

  get baseUrl(): string {
    return this.#options.baseUrl;
  }

  async send(request: SendRequest): Promise<SendResult> {
    const signal = request.options?.signal;
    const timeoutMs = request.options?.timeoutMs ?? this.#options.timeoutMs;
    for (let attempt = 0; ; attempt++) {
      signal?.throwIfAborted();
      const attemptAbort = new AbortController();
      const onCallerAbort = () => attemptAbort.abort(signal?.reason);
      signal?.addEventListener("abort", onCallerAbort, { once: true });
      let timedOut = false;
      const timer = timeoutMs > 0 && Number.isFinite(timeoutMs)
        ? setTimeout(() => {
            timedOut = true;
            attemptAbort.abort();
          }, timeoutMs)
        : undefined;
      const release = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onCallerAbort);
      };

      let failure: Error;
      let mayRetry: boolean;
      try {
        const response = await this.#options.fetch(this.#url(request), {
          method: request.method,
          headers: this.#headers(request),
          body: request.body === undefined ? null : JSON.stringify(request.body),
          signal: attemptAbort.signal,
          redirect: "manual",
        });
        if (response.ok && request.streamed) {
          clearTimeout(timer); // the stream's length is the provider's; the caller's signal still ends it
          return { response, text: undefined, release };
        }
        const text = await response.text();
        release();
        if (response.ok) {
          return { response, text, release: () => undefined };
        }
        const error = this.failure(response.status, text, response.headers);
        failure = error;
        mayRetry = this.#mayRetryStatus(request.retry, response, error);
      } catch (thrown) {
        release();
        if (signal?.aborted) {
          throw signal.reason;
        }
        failure = timedOut ? new KillTokenTimeoutError(timeoutMs) : connectionError(thrown);
        mayRetry = request.retry === "idempotent";
      }

      const delay = mayRetry && attempt < this.#options.maxRetries ? this.#delay(attempt, failure) : undefined;
      if (delay === undefined) {
        throw failure;
      }
      await sleep(delay, signal);
    }
  }

  /** The gateway's error body as an error; any occurrence of the key is masked, though the gateway never echoes one. */
  failure(status: number, text: string, headers: Headers | undefined): KillTokenAPIError {
    let body: { code?: unknown; message?: unknown; requestId?: unknown; [field: string]: unknown } | undefined;
    try {
      const parsed: unknown = text.length > 0 && text.length < 1_000_000 ? JSON.parse(text) : undefined;
      const error = (parsed as { error?: unknown } | undefined)?.error;
      if (error !== null && typeof error === "object") {
        body = error as typeof body;
      }
    } catch {
      // Not the contract's error shape (a proxy's HTML page): the status alone tells what happened.
    }
    const code = typeof body?.code === "string" ? body.code : null;
    const requestId = typeof body?.requestId === "string" ? body.requestId : headers?.get("x-request-id") ?? null;
    const gatewayMessage = typeof body?.message === "string" ? this.#mask(body.message) : `The gateway answered HTTP ${status}.`;
    const details: ErrorDetails = {};
    for (const [field, value] of Object.entries(body ?? {})) {
      if (field !== "code" && field !== "message" && field !== "requestId") {
        details[field] = JSON.parse(this.#mask(JSON.stringify(value)) ?? "null") as unknown;
      }
    }
    const about = [`status ${status}`, code && `code ${code}`, requestId && `request ${requestId}`].filter(Boolean).join(", ");
    return new KillTokenAPIError({
      status,
      code,
      message: `${gatewayMessage} (${about})`,
      requestId,
      retryAfterMs: headers ? retryAfterMs(headers) : undefined,
      details,
    });
  }

  #mayRetryStatus(policy: RetryPolicy, response: Response, error: KillTokenAPIError): boolean {
    if (response.headers.get("x-should-retry")?.toLowerCase() === "false") {
      return false;
    }
    switch (policy) {
      case "idempotent":
        return retryableStatuses.has(response.status);
      case "refusedBeforeWork":
        return (response.status === 429 || response.status === 503) && error.retryAfterMs !== undefined;
      case "rateLimited":
        return response.status === 429 && error.retryAfterMs !== undefined;
      default:
        return false;
    }
  }

  /** The wait before the next attempt, or undefined when the gateway asked for longer than the client may wait. */
  #delay(attempt: number, failure: Error): number | undefined {
    const asked = failure instanceof KillTokenAPIError ? failure.retryAfterMs : undefined;
    if (asked !== undefined) {
      return asked <= this.#options.maxRetryDelayMs ? asked : undefined;
    }
    const backoff = initialBackoffMs * 2 ** attempt * (0.8 + Math.random() * 0.4);
    return Math.min(backoff, this.#options.maxRetryDelayMs);
  }

  #url(request: SendRequest): string {
    const url = new URL(request.path, this.#options.baseUrl + "/");
    for (const [name, value] of Object.entries(request.query ?? {})) {
      if (value !== undefined && value !== null && value !== "") {
        url.searchParams.set(name, value instanceof Date ? value.toISOString() : String(value));
      }
    }
    return url.toString();
  }

  #headers(request: SendRequest): Record<string, string> {
    const headers: Record<string, string> = {
      ...lowerCased(this.#options.defaultHeaders),
      ...lowerCased(request.options?.headers ?? {}),
      accept: request.accept ?? "application/json",
      "user-agent": this.#userAgent,
      authorization: `Bearer ${this.#options.apiKey}`,
    };
    if (request.body !== undefined) {
      headers["content-type"] = "application/json";
    }
    return headers;
  }

  #mask(text: string): string {
    const key = this.#options.apiKey;
    return key.length >= 8 ? text.split(key).join("[redacted key]") : text;
  }
}

function lowerCased(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));
}

/** `Retry-After` as seconds or an HTTP date, in milliseconds. */
function retryAfterMs(headers: Headers): number | undefined {
  const value = headers.get("retry-after")?.trim();
  if (!value) {
    return undefined;
  }
  if (/^\d+(\.\d+)?$/.test(value)) {
    return Math.round(Number(value) * 1000);
  }
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/**
 * A failure to get an answer, described without the underlying error object: fetch's errors carry the request, and
 * an error of this package must never carry a header.
 */
function connectionError(thrown: unknown): KillTokenConnectionError {
  const cause = (thrown as { cause?: { code?: unknown } } | undefined)?.cause;
  const reason = typeof cause?.code === "string" ? cause.code : thrown instanceof Error ? thrown.name : "unknown";
  return new KillTokenConnectionError(`The gateway could not be reached or the connection broke (${reason}).`);
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
