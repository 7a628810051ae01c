// Retries only where safe. Against the real gateway where it produces the answer itself (a provider's 429 or 500
// passed on after the gateway's own three attempts; the per-project rate limit's 429 rate_limited; a spent budget);
// against a stand-in gateway only for the client's policy on answers the real one cannot give on demand (503
// store_unavailable, x-should-retry: false, a cut connection, nobody listening).
import { afterEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { KillTokenAPIError, KillTokenClient, KillTokenConnectionError, KillTokenTimeoutError } from "../dist/index.js";
import {
  ANSWER, CALL_COST_USD, answer, assertNoSecret, chatAnswer, chatRequest, client, env, gatewayError, needsGateway, nonce, providerCalls, rejection, summaryAnswer, stubGateway,
} from "./helpers.mjs";

describe("retries against the real gateway", { skip: needsGateway, timeout: 60_000 }, () => {
  test("an idempotent chat is retried after the provider's 429 (Retry-After: 1) and succeeds", async () => {
    const tag = nonce("ratelimit");

    // The gateway tries the provider three times, then answers 429 provider_rate_limited with Retry-After: 1.
    const result = await client().chat(chatRequest(`[ratelimit:3] ${tag}`, { idempotencyKey: tag }));

    assert.equal(result.response.choices[0].message.content, ANSWER);
    assert.equal(result.metrics.idempotency, "new", "the failed attempt left the key free");
    assert.equal((await providerCalls(tag)).count, 4, "the gateway's three attempts, then the client's retry");
  });

  test("a chat without an idempotencyKey is resent after the provider's 429 with Retry-After (refused, so nothing was billed)", async () => {
    const tag = nonce("ratelimit-nokey");

    const result = await client().chat(chatRequest(`[ratelimit:3] ${tag}`));

    assert.equal(result.response.choices[0].message.content, ANSWER);
    assert.equal(result.metrics.costUsd, CALL_COST_USD, "billed once, for the answer");
    assert.equal((await providerCalls(tag)).count, 4, "the gateway's three refused attempts, then the client's one resend");
  });

  test("an idempotent chat is retried after a 502 provider_error and succeeds", async () => {
    const tag = nonce("fail-idem");

    const result = await client().chat(chatRequest(`[fail:500:3] ${tag}`, { idempotencyKey: tag }));

    assert.equal(result.response.choices[0].message.content, ANSWER);
    assert.equal((await providerCalls(tag)).count, 4);
  });

  test("a chat without an idempotencyKey is not resent after a 502 provider_error", async () => {
    const tag = nonce("fail");

    const error = await rejection(client().chat(chatRequest(`[fail:500:3] ${tag}`)));

    assert.ok(error instanceof KillTokenAPIError, `got ${error?.name}`);
    assert.equal(error.status, 502);
    assert.equal(error.code, "provider_error");
    assert.equal((await providerCalls(tag)).count, 3, "only the gateway's own attempts: a POST without a key might be billed twice");
    assertNoSecret(error);
  });

  test("a chat without an idempotencyKey IS retried after the gateway's 429 rate_limited (refused before any provider call)", async () => {
    const [key] = env.rateLimitedKeys;
    const sdk = client({ baseUrl: env.rateLimitedBaseUrl, apiKey: key });
    const tags = [nonce("first"), nonce("second")];
    const started = Date.now();

    // Sent together: the project's burst of one lets one through at once, the other is refused with Retry-After: 1.
    const results = await Promise.all(tags.map(async (tag) => ({ result: await sdk.chat(chatRequest(tag)), at: Date.now() - started })));

    assert.ok(results.every((r) => r.result.response.choices[0].message.content === ANSWER), "both answered");
    assert.ok(Math.max(...results.map((r) => r.at)) >= 800, `one waited the Retry-After (${results.map((r) => r.at).join(", ")} ms)`);
    for (const tag of tags) assert.equal((await providerCalls(tag)).count, 1, "each sent to the provider once");
  });

  test("with maxRetries: 0 the 429 rate_limited comes back with its Retry-After", async () => {
    const [, key] = env.rateLimitedKeys;
    const sdk = client({ baseUrl: env.rateLimitedBaseUrl, apiKey: key, maxRetries: 0 });
    const tags = [nonce("one"), nonce("two")];

    const outcomes = await Promise.allSettled(tags.map((tag) => sdk.chat(chatRequest(tag))));

    const refused = outcomes.filter((o) => o.status === "rejected");
    assert.equal(refused.length, 1, "one of the two was refused");
    const error = refused[0].reason;
    assert.ok(error instanceof KillTokenAPIError, `got ${error?.name}`);
    assert.equal(error.status, 429);
    assert.equal(error.code, "rate_limited");
    assert.ok(error.retryAfterMs >= 1000 && error.retryAfterMs <= 60_000, `retryAfterMs ${error.retryAfterMs}`);
    assert.match(error.requestId, /^req/);
    const counts = await Promise.all(tags.map(async (tag) => (await providerCalls(tag)).count));
    assert.deepEqual(counts.sort(), [0, 1], "the refused call never reached the provider");
    assertNoSecret(error);
  });

  test("a spent budget's 429 is not waited for nor retried, even for an idempotent chat", async () => {
    const spender = client({ apiKey: env.budgetKey });
    await spender.chat(chatRequest(nonce("spend"))); // admitted with a lowered output cap; settles past the $0.003
    const tag = nonce("over");
    const started = Date.now();

    const error = await rejection(spender.chat(chatRequest(tag, { idempotencyKey: tag })));

    assert.ok(Date.now() - started < 5000, "a reset hours away is not waited for");
    assert.ok(error instanceof KillTokenAPIError, `got ${error?.name}`);
    assert.equal(error.status, 429);
    assert.equal(error.code, "budget_exceeded");
    assert.ok(error.retryAfterMs > 60_000, `retryAfterMs ${error.retryAfterMs}: the time to the monthly reset`);
    assert.equal((await providerCalls(tag)).count, 0, "refused before the provider");
  });
});

describe("retry policy (stand-in gateway)", { timeout: 60_000 }, () => {
  const key = "kt_live_stubkey0123456789abcdefghijklmnop";
  let stub;
  afterEach(() => stub?.close());

  /** A stand-in that refuses the first `failures` calls with 503 store_unavailable (+ headers), then answers `body`. */
  const refusing = async (failures, headers, body) => {
    stub = await stubGateway((req, res, n) => (n <= failures
      ? answer(res, 503, gatewayError("store_unavailable"), headers)
      : answer(res, 200, body)));
    return new KillTokenClient({ baseUrl: stub.url, apiKey: key });
  };

  test("a chat without an idempotencyKey is retried after a 503 with Retry-After, with the key on every attempt", async () => {
    const sdk = await refusing(1, { "retry-after": "1" }, chatAnswer());

    const result = await sdk.chat(chatRequest(nonce("store")));

    assert.equal(result.response.choices[0].message.content, ANSWER);
    assert.equal(stub.requests.length, 2);
    assert.ok(stub.requests[1].at - stub.requests[0].at >= 900, "waited the Retry-After");
    assert.ok(stub.requests.every((r) => r.headers.authorization === `Bearer ${key}`), "the key went with each attempt");
    assert.equal(stub.requests[1].body, stub.requests[0].body, "the same request again");
  });

  test("a chat without an idempotencyKey is not resent after a 503 that has no Retry-After", async () => {
    const sdk = await refusing(1, {}, chatAnswer());

    const error = await rejection(sdk.chat(chatRequest(nonce("no-retry-after"))));

    assert.equal(error.status, 503);
    assert.equal(stub.requests.length, 1);
  });

  test("a read is retried after a 503, up to maxRetries, and the last answer's error is thrown", async () => {
    await refusing(Infinity, { "retry-after": "0" }, summaryAnswer());
    const sdk = new KillTokenClient({ baseUrl: stub.url, apiKey: key, maxRetries: 2 });

    const error = await rejection(sdk.summary());

    assert.equal(stub.requests.length, 3, "the first attempt and two retries");
    assert.ok(error instanceof KillTokenAPIError, `got ${error?.name}`);
    assert.equal(error.status, 503);
    assert.equal(error.code, "store_unavailable");
    assert.equal(error.requestId, "req_stub");
    assert.equal(error.retryAfterMs, 0);
    assertNoSecret(error, [key]);
  });

  test("a read succeeds on its retry", async () => {
    const sdk = await refusing(1, { "retry-after": "0" }, summaryAnswer());

    const summary = await sdk.summary();

    assert.equal(summary.totals.requests, 7);
    assert.equal(stub.requests.length, 2);
  });

  test("a Retry-After given as an HTTP date is waited for", async () => {
    const sdk = await refusing(1, { "retry-after": new Date(Date.now() + 2000).toUTCString() }, summaryAnswer());

    const summary = await sdk.summary();

    assert.equal(summary.totals.requests, 7);
    assert.equal(stub.requests.length, 2);
    assert.ok(stub.requests[1].at - stub.requests[0].at >= 800, `waited until the date (${stub.requests[1].at - stub.requests[0].at} ms)`);
  });

  test("a read that times out is tried again, then fails with KillTokenTimeoutError", async () => {
    stub = await stubGateway(() => new Promise(() => {})); // never answers
    const sdk = new KillTokenClient({ baseUrl: stub.url, apiKey: key, timeoutMs: 200, maxRetries: 1 });

    const error = await rejection(sdk.requests.list());

    assert.ok(error instanceof KillTokenTimeoutError, `got ${error?.name}`);
    assert.equal(stub.requests.length, 2, "the first attempt and one retry");
    assertNoSecret(error, [key]);
  });

  test("an answer that is not the gateway's (a proxy's HTML 502) is KillTokenAPIError with no code, and a read retries it", async () => {
    stub = await stubGateway((req, res, n) => {
      if (n === 1 || req.method === "POST") {
        res.writeHead(502, { "content-type": "text/html", "x-request-id": "req_from_header" });
        res.end("<html><body><h1>502 Bad Gateway</h1>nginx</body></html>");
      } else {
        answer(res, 200, summaryAnswer());
      }
    });
    const sdk = new KillTokenClient({ baseUrl: stub.url, apiKey: key });

    const summary = await sdk.summary();
    const error = await rejection(sdk.chat(chatRequest(nonce("html"))));

    assert.equal(summary.totals.requests, 7, "the read was retried");
    assert.ok(error instanceof KillTokenAPIError, `got ${error?.name}`);
    assert.equal(error.status, 502);
    assert.equal(error.code, null);
    assert.equal(error.requestId, "req_from_header");
    assert.ok(!error.message.includes("<html>"), `no page in the message: ${error.message}`);
    assert.equal(stub.requests.filter((r) => r.method === "POST").length, 1, "a key-less chat is not resent");
  });

  test("a redirect is not followed: the key never goes to another address", async () => {
    const elsewhere = await stubGateway((req, res) => answer(res, 200, summaryAnswer()));
    try {
      stub = await stubGateway((req, res) => { res.writeHead(307, { location: `${elsewhere.url}${req.url}` }); res.end(); });

      const error = await rejection(new KillTokenClient({ baseUrl: stub.url, apiKey: key }).summary());

      assert.ok(error instanceof KillTokenAPIError, `got ${error?.name}`);
      assert.equal(error.status, 307);
      assert.equal(elsewhere.requests.length, 0, "nothing reached the redirect's target");
      assertNoSecret(error, [key]);
    } finally {
      await elsewhere.close();
    }
  });

  test("x-should-retry: false is obeyed", async () => {
    const sdk = await refusing(1, { "retry-after": "0", "x-should-retry": "false" }, summaryAnswer());

    const error = await rejection(sdk.summary());

    assert.equal(error.status, 503);
    assert.equal(stub.requests.length, 1);
  });

  test("a Retry-After longer than maxRetryDelayMs fails at once, carrying the wait", async () => {
    await refusing(1, { "retry-after": "120" }, summaryAnswer());
    const sdk = new KillTokenClient({ baseUrl: stub.url, apiKey: key, maxRetryDelayMs: 30_000 });
    const started = Date.now();

    const error = await rejection(sdk.summary());

    assert.ok(Date.now() - started < 5000);
    assert.equal(stub.requests.length, 1);
    assert.equal(error.retryAfterMs, 120_000);
  });

  test("credential writes are never retried", async () => {
    const sdk = await refusing(Infinity, { "retry-after": "0" }, {});

    await rejection(sdk.providerCredentials.create({ provider: "gemini", apiKey: "gemini-secret-0123456789" }));
    await rejection(sdk.providerCredentials.update("cred_1", { label: "x" }));
    await rejection(sdk.providerCredentials.delete("cred_1"));
    await rejection(sdk.providerCredentials.test("cred_1"));

    assert.deepEqual(stub.requests.map((r) => r.method), ["POST", "PATCH", "DELETE", "POST"], "each sent once");
  });

  test("a connection cut before the answer: a chat without an idempotencyKey is not resent", async () => {
    stub = await stubGateway((req, res) => res.socket.destroy());
    const sdk = new KillTokenClient({ baseUrl: stub.url, apiKey: key });

    const error = await rejection(sdk.chat(chatRequest(nonce("cut"))));

    assert.ok(error instanceof KillTokenConnectionError, `got ${error?.name}: ${error?.message}`);
    assert.ok(!(error instanceof KillTokenTimeoutError));
    assert.equal(error.status, undefined);
    assert.equal(stub.requests.length, 1);
    assertNoSecret(error, [key]);
  });

  test("a connection cut before the answer: an idempotent chat and a read are resent", async () => {
    stub = await stubGateway((req, res, n) => (n % 2 === 1 ? res.socket.destroy() : answer(res, 200, req.url.startsWith("/v1/chat") ? chatAnswer() : summaryAnswer())));
    const sdk = new KillTokenClient({ baseUrl: stub.url, apiKey: key });

    const chat = await sdk.chat(chatRequest(nonce("cut-idem"), { idempotencyKey: "order-7" }));
    const summary = await sdk.summary();

    assert.equal(chat.response.choices[0].message.content, ANSWER);
    assert.equal(summary.totals.requests, 7);
    assert.equal(stub.requests.length, 4);
  });
});

describe("nobody listening", { timeout: 30_000 }, () => {
  test("is KillTokenConnectionError with no status, after the retries, and no key in it", async () => {
    // A port that was free a moment ago.
    const port = await new Promise((resolve) => {
      const server = net.createServer().listen(0, "127.0.0.1", () => {
        const { port: free } = server.address();
        server.close(() => resolve(free));
      });
    });
    const key = "kt_live_nobody0123456789abcdefghijklmnopq";
    const sdk = new KillTokenClient({ baseUrl: `http://127.0.0.1:${port}`, apiKey: key, maxRetries: 1 });

    const error = await rejection(sdk.summary());

    assert.ok(error instanceof KillTokenConnectionError, `got ${error?.name}: ${error?.message}`);
    assert.ok(!(error instanceof KillTokenAPIError));
    assert.equal(error.status, undefined);
    assertNoSecret(error, [key]);
  });
});
