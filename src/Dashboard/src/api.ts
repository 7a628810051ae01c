// The management API over fetch: JSON in and out, the session as a bearer token, errors as ApiError with the API's
// own code and message. A 401 ends the session: the app shows the sign-in page.
import { session } from "./session";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export type Query = Record<string, string | number | null | undefined>;

export function withQuery(path: string, query?: Query): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== "") params.set(name, String(value));
  }
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

async function send(method: string, path: string, body?: unknown, query?: Query): Promise<Response> {
  const headers: Record<string, string> = { Accept: "application/json" };
  const token = session.token;
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response: Response;
  try {
    response = await fetch(withQuery(path, query), { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError(0, "network_error", "The gateway could not be reached. Check that it is running, then try again.");
  }
  if (response.ok) return response;
  const data = (await response.json().catch(() => null)) as { error?: { code?: string; message?: string } } | null;
  const code = data?.error?.code ?? "http_" + response.status;
  const message = data?.error?.message ?? `The gateway answered ${response.status} ${response.statusText}.`;
  if (response.status === 401 && token) session.end("Your session has ended. Sign in again.");
  throw new ApiError(response.status, code, message);
}

export async function api<T>(method: string, path: string, body?: unknown, query?: Query): Promise<T> {
  const response = await send(method, path, body, query);
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}

export const get = <T>(path: string, query?: Query) => api<T>("GET", path, undefined, query);
export const post = <T>(path: string, body: unknown = {}, query?: Query) => api<T>("POST", path, body, query);
export const patch = <T>(path: string, body: unknown) => api<T>("PATCH", path, body);
export const put = <T>(path: string, body: unknown) => api<T>("PUT", path, body);
export const del = (path: string, body?: unknown) => api<void>("DELETE", path, body);

/** Downloads a file the API streams (CSV exports) with the session header, through a blob URL: no token in any URL. */
export async function download(path: string, query: Query, fallbackName: string): Promise<void> {
  const response = await send("GET", path, undefined, query);
  const disposition = response.headers.get("content-disposition") ?? "";
  const name = /filename="?([^";]+)"?/.exec(disposition)?.[1] ?? fallbackName;
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
