// The gateway's refusals as typed errors — 401, 403, 409, 429, 400, 404 — with the contract's code, requestId and
// details, and no key or provider secret in any form of the error.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import util from "node:util";
import { KillTokenAPIError, KillTokenClient, KillTokenConnectionError, KillTokenError } from "../dist/index.js";
import { assertNoSecret, chatRequest, client, env, needsGateway, nonce, providerCalls, rejection, secrets } from "./helpers.mjs";

/** The fields every KillTokenAPIError carries, and its JSON form holding them. */
function assertApiError(error, status, code) {
  assert.ok(error instanceof KillTokenAPIError, `expected KillTokenAPIError, got ${error?.name}: ${error?.message}`);
  assert.ok(error instanceof KillTokenError);
  assert.ok(error instanceof Error);
  assert.ok(!(error instanceof KillTokenConnectionError));
  assert.equal(error.name, "KillTokenAPIError");
  assert.equal(error.status, status);
  assert.equal(error.code, code);
  assert.match(error.requestId, /^req/);
  assert.ok(error.message.includes(code), `the message names the code: ${error.message}`);
  assert.ok(error.message.includes(String(status)), `the message names the status: ${error.message}`);
  assert.ok(error.message.includes(error.requestId), `the message names the request id: ${error.message}`);
  assert.equal(typeof error.stack, "string");
  const json = JSON.parse(JSON.stringify(error));
  assert.equal(json.status, status, "toJSON() carries the status");
  assert.equal(json.code, code, "toJSON() carries the code");
  assert.equal(json.requestId, error.requestId, "toJSON() carries the request id");
  assert.equal(json.message, error.message, "toJSON() carries the message");
}

describe("typed errors", { skip: needsGateway, timeout: 60_000 }, () => {
  test("401: an unknown key is invalid_api_key, on chat, stream and reads alike, and the key is in no form of the error", async () => {
    const unknownKey = `kt_live_${"Z".repeat(40)}`;
    const stranger = new KillTokenClient({ baseUrl: env.baseUrl, apiKey: unknownKey });

    for (const call of [
      () => stranger.chat(chatRequest(nonce("401"))),
      () => stranger.chatStream(chatRequest(nonce("401-stream"))),
      () => stranger.requests.list(),
      () => stranger.providerCredentials.list(),
    ]) {
      const error = await rejection(call());
      assertApiError(error, 401, "invalid_api_key");
      assertNoSecret(error, [unknownKey, ...secrets()]);
    }
    assert.ok(!JSON.stringify(stranger).includes(unknownKey), "nor in the client's JSON form");
    assert.ok(!String(stranger).includes(unknownKey));
    assert.ok(!util.inspect(stranger, { depth: 5, showHidden: true }).includes(unknownKey), "nor in util.inspect(client)");
  });

  test("403: a key without credentials:write cannot create a credential (insufficient_scope), and neither key nor secret leaks", async () => {
    const geminiSecret = `gemini-secret-${nonce("g")}`;
    const readOnly = client({ apiKey: env.readOnlyKey });

    const error = await rejection(readOnly.providerCredentials.create({ provider: "gemini", apiKey: geminiSecret, label: "not allowed" }));

    assertApiError(error, 403, "insufficient_scope");
    assertNoSecret(error, [geminiSecret, ...secrets()]);
    assert.equal((await readOnly.providerCredentials.list()).length, 1, "reads need no write scope, and nothing was created");
  });

  test("409: the same idempotencyKey with a different request is idempotency_key_reused", async () => {
    const key = nonce("key");
    const sdk = client();
    await sdk.chat(chatRequest(`first ${key}`, { idempotencyKey: key }));

    const error = await rejection(sdk.chat(chatRequest(`second ${key}`, { idempotencyKey: key })));

    assertApiError(error, 409, "idempotency_key_reused");
    assertNoSecret(error);
  });

  test("429: a spent budget is budget_exceeded with scope, limit, spend, reset and the wait in retryAfterMs", async () => {
    const spender = client({ apiKey: env.budgetKey });
    await spender.chat(chatRequest(nonce("spend")));
    const tag = nonce("over");

    const error = await rejection(spender.chat(chatRequest(tag)));

    assertApiError(error, 429, "budget_exceeded");
    assert.equal(error.details?.scope, "monthly");
    assert.equal(error.details?.limitUsd, 0.003);
    assert.ok(error.details?.spentUsd >= 0.003, `spentUsd ${error.details?.spentUsd}`);
    assert.ok(!Number.isNaN(Date.parse(error.details?.resetsAt)), `resetsAt ${error.details?.resetsAt}`);
    assert.ok(error.retryAfterMs > 60_000, `retryAfterMs ${error.retryAfterMs}`);
    const json = JSON.parse(JSON.stringify(error));
    assert.equal(json.details?.scope, "monthly", "toJSON() carries the details");
    assert.equal(json.retryAfterMs, error.retryAfterMs, "toJSON() carries retryAfterMs");
    assert.equal((await providerCalls(tag)).count, 0);
    assertNoSecret(error);
  });

  test("400: a provider the workspace has no credential for is provider_credential_required", async () => {
    const error = await rejection(client().chat({ ...chatRequest(nonce("400")), provider: "anthropic", model: "claude-3-5-haiku-latest" }));

    assertApiError(error, 400, "provider_credential_required");
    assertNoSecret(error);
  });

  test("400: what the gateway's validation refuses comes back with its code", async () => {
    const error = await rejection(client().chat({ ...chatRequest(nonce("400")), cachePolicy: { exactCache: "sometimes" } }));

    assertApiError(error, 400, "invalid_cache_policy");
  });

  test("404: an unknown trace is not_found", async () => {
    const error = await rejection(client().requests.get("req_does_not_exist"));

    assertApiError(error, 404, "not_found");
  });

  test("a provider's error body passes through scrubbed: 502 provider_error never holds the workspace's key", async () => {
    const error = await rejection(client({ maxRetries: 0 }).chat(chatRequest(`[fail:500:9] ${nonce("502")}`)));

    assertApiError(error, 502, "provider_error");
    assertNoSecret(error);
  });
});
