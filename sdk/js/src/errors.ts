/**
 * The base of every error this package throws. Its message, stack, `cause` and JSON form never hold the API key, a
 * provider secret or a request header: errors end up in logs.
 */
export class KillTokenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** Fields of a gateway error body beyond code, message and requestId (e.g. `scope`, `limitUsd`, `resetsAt` of a budget refusal). */
export type ErrorDetails = Record<string, unknown>;

/** The gateway answered with a non-2xx status. */
export class KillTokenAPIError extends KillTokenError {
  /** The HTTP status (200 for a failure reported inside a stream that had begun). */
  readonly status: number;
  /** The contract's error code (`invalid_api_key`, `budget_exceeded`, …), or null when the body was not the gateway's. */
  readonly code: string | null;
  /** The gateway's id of the request, for its trace and its logs. */
  readonly requestId: string | null;
  /** How long the gateway asked to wait before sending again (`Retry-After`), in milliseconds. */
  readonly retryAfterMs: number | undefined;
  readonly details: ErrorDetails;

  constructor(init: { status: number; code: string | null; message: string; requestId: string | null; retryAfterMs?: number | undefined; details?: ErrorDetails }) {
    super(init.message);
    this.status = init.status;
    this.code = init.code;
    this.requestId = init.requestId;
    this.retryAfterMs = init.retryAfterMs;
    this.details = init.details ?? {};
  }

  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      status: this.status,
      code: this.code,
      message: this.message,
      requestId: this.requestId,
      retryAfterMs: this.retryAfterMs,
      details: this.details,
    };
  }
}

/** No answer came: the gateway could not be reached or the connection broke. */
export class KillTokenConnectionError extends KillTokenError {
  readonly status: undefined = undefined;
  readonly code: string;

  constructor(message: string, code = "connection_error") {
    super(message);
    this.code = code;
  }

  toJSON(): Record<string, unknown> {
    return { name: this.name, code: this.code, message: this.message };
  }
}

/** The gateway did not answer within the attempt's `timeoutMs`. */
export class KillTokenTimeoutError extends KillTokenConnectionError {
  constructor(timeoutMs: number) {
    super(`The gateway did not answer within ${timeoutMs} ms.`, "timeout");
  }
}
