// Shared by the SDK's tests. They run against the real gateway over a scripted fake OpenAI, both started by the .NET
// harness (tests/KillToken.Tests/Sdk/JsSdkTests.cs), which hands them these variables:
//   KILLTOKEN_BASE_URL, KILLTOKEN_API_KEY        gateway + project key (chat, analytics:read, credentials:write)
//   KILLTOKEN_PROVIDER_KEY                       the workspace's OpenAI secret (must never show up in an error)
//   KILLTOKEN_READONLY_API_KEY                   same workspace, a new key's scopes (no credential writes)
//   KILLTOKEN_BUDGET_API_KEY                     same workspace, a $0.003 monthly budget (one gpt-4o call spends it)
//   KILLTOKEN_FAKE_PROVIDER_URL                  the fake provider: GET /control/calls?tag=T
//   KILLTOKEN_RATE_LIMITED_BASE_URL, KILLTOKEN_RATE_LIMITED_API_KEYS
//                                                a gateway allowing each project 1 call a second (then 429 rate_limited,
//                                                Retry-After: 1) and three of its project keys, comma-separated
// The gateway's Anthropic base URL points at a fake answering the API reference's message and stream; the workspace
// has no Anthropic credential until a test adds one.
// Run them with `dotnet test tests/KillToken.Tests --filter FullyQualifiedName~KillToken.Tests.Sdk`; without the
// harness the gateway tests are skipped with that hint (and the harness fails any run that skipped something).
//
// The fake provider acts on directives in a call's last message: [slow:MS], [slow-once:MS], [fail:STATUS:N],
// [ratelimit:N], and for streams [hold:MS], [hold-forever], [cut] (see ScriptedProvider.cs). Every test puts a fresh
// nonce in its messages, so what reached the provider can be counted per test.
import assert from "node:assert/strict";
import http from "node:http";
import util from "node:util";
import { randomUUID } from "node:crypto";
import { KillTokenClient } from "../dist/index.js";

const variable = (name) => process.env[name] ?? "";

export const env = {
  baseUrl: variable("KILLTOKEN_BASE_URL"),
  apiKey: variable("KILLTOKEN_API_KEY"),
  providerKey: variable("KILLTOKEN_PROVIDER_KEY"),
  readOnlyKey: variable("KILLTOKEN_READONLY_API_KEY"),
  budgetKey: variable("KILLTOKEN_BUDGET_API_KEY"),
  fakeProviderUrl: variable("KILLTOKEN_FAKE_PROVIDER_URL"),
  rateLimitedBaseUrl: variable("KILLTOKEN_RATE_LIMITED_BASE_URL"),
  rateLimitedKeys: variable("KILLTOKEN_RATE_LIMITED_API_KEYS").split(",").filter(Boolean),
};

/** `skip` for suites that need the gateway: false under the harness, else why they cannot run. */
export const needsGateway = env.baseUrl && env.apiKey && env.fakeProviderUrl
  ? false
  : "needs the gateway the .NET harness starts: dotnet test tests/KillToken.Tests --filter FullyQualifiedName~KillToken.Tests.Sdk";

/** Every secret of this run: none may appear in any form of any error. */
export const secrets = () => [env.apiKey, env.providerKey, env.readOnlyKey, env.budgetKey, ...env.rateLimitedKeys].filter(Boolean);

/** The OpenAI call cost of one fake answer on gpt-4o: 1,000 in at $2.50/1M + 100 out at $10/1M. */
export const CALL_COST_USD = 0.0035;
export const ANSWER = "Hello from the fake provider.";

export const client = (options = {}) => new KillTokenClient({ baseUrl: env.baseUrl, apiKey: env.apiKey, ...options });

export const nonce = (label = "t") => `${label}-${randomUUID()}`;

/** A gpt-4o chat whose last message is `content` (put a nonce and any provider directive in it). */
export const chatRequest = (content, extra = {}) => ({
  provider: "openai",
  model: "gpt-4o",
  messages: [
    { role: "system", content: "Answer in one line." },
    { role: "user", content },
  ],
  ...extra,
});

/** What reached the fake provider for calls holding `tag`: { count, aborted, lastBody, lastAuthorization }. */
export async function providerCalls(tag) {
  const response = await fetch(`${env.fakeProviderUrl}/control/calls?tag=${encodeURIComponent(tag)}`);
  assert.equal(response.status, 200, "the fake provider's control route");
  return response.json();
}

/** Polls `read` until `until(value)` holds (or `ms` pass); the last value. */
export async function eventually(read, until, ms = 10_000) {
  const deadline = Date.now() + ms;
  let value = await read();
  while (!until(value) && Date.now() < deadline) {
    await sleep(50);
    value = await read();
  }
  return value;
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The rejection of `promise` (fails the test when it resolves). */
export async function rejection(promise) {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  assert.fail("expected the call to fail, but it succeeded");
}

function json(value) {
  try {
    return JSON.stringify(value) ?? "";
  } catch (error) {
    return `[JSON.stringify threw ${error?.name}]`;
  }
}

/**
 * Asserts that no form a person or a log would see of `error` — String(), message, stack, JSON.stringify, util.inspect
 * (also with hidden properties), and the same for every `cause` down the chain — holds any of `values` (default:
 * every key and provider secret of the run). The assertion's own message never repeats the secret.
 */
export function assertNoSecret(error, values = secrets()) {
  const forms = [];
  const seen = new Set();
  for (let current = error, depth = 0; current != null && depth < 10 && !seen.has(current); current = current.cause, depth++) {
    seen.add(current);
    const where = depth === 0 ? "error" : `error${".cause".repeat(depth)}`;
    forms.push([`String(${where})`, String(current)]);
    if (typeof current === "object" || typeof current === "function") {
      forms.push(
        [`${where}.message`, String(current.message)],
        [`${where}.stack`, String(current.stack)],
        [`JSON.stringify(${where})`, json(current)],
        [`util.inspect(${where})`, util.inspect(current, { depth: 5 })],
        [`util.inspect(${where}, showHidden)`, util.inspect(current, { depth: 5, showHidden: true })],
      );
    }
  }
  for (const value of values) {
    for (const [form, text] of forms) {
      assert.ok(!text.includes(value), `${form} holds a secret (${value.slice(0, 6)}…, ${value.length} chars)`);
    }
  }
}

/**
 * A stand-in for the gateway on 127.0.0.1, for the client's own policy where the real gateway cannot be made to answer
 * on demand (a 503 store_unavailable, x-should-retry, a cut connection). `handler(req, res, n)` answers the n-th request
 * (1-based); every request is kept as { method, url, headers, body, at }.
 */
export async function stubGateway(handler) {
  const requests = [];
  const server = http.createServer(async (req, res) => {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    requests.push({ method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString("utf8"), at: Date.now() });
    try {
      await handler(req, res, requests.length);
    } catch {
      res.destroy();
    }
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

/** Writes a JSON answer. */
export function answer(res, status, body, headers = {}) {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify(body));
}

/** The gateway's error shape. */
export const gatewayError = (code, message = "The store did not answer.") => ({ error: { code, message, requestId: "req_stub" } });

/** A successful /v1/chat answer as the gateway sends it. */
export const chatAnswer = () => ({
  response: { id: "chatcmpl-stub", object: "chat.completion", model: "gpt-4o", choices: [{ index: 0, message: { role: "assistant", content: ANSWER }, finish_reason: "stop" }] },
  metrics: { requestId: "req_stub_ok", provider: "openai", model: "gpt-4o", finalModel: "gpt-4o", wasFallback: false, inputTokens: 1000, outputTokens: 100, costUsd: CALL_COST_USD, costStatus: "priced", cacheStatus: "bypass", idempotency: "none" },
});

/** A summary as GET /v1/summary answers it. */
export const summaryAnswer = () => ({ from: "2026-01-01", to: "2026-01-30", totals: { requests: 7 }, topTemplates: [], byFeature: [] });
