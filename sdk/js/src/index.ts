export { KillTokenClient, ChatStream, RequestTraces, Exports, ProviderCredentials, type KillTokenClientOptions } from "./client.js";
export { KillTokenError, KillTokenAPIError, KillTokenConnectionError, KillTokenTimeoutError, type ErrorDetails } from "./errors.js";
export { SDK_VERSION, type RequestOptions } from "./transport.js";
export type * from "./types.js";
