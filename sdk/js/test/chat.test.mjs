// client.chat against the real gateway: the provider's answer unchanged with the metrics, every request field sent,
// default headers, an idempotent replay and an exact-cache hit.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { KillTokenClient } from "../dist/index.js";
import { ANSWER, CALL_COST_USD, chatRequest, client, env, needsGateway, nonce, providerCalls } from "./helpers.mjs";

describe("chat", { skip: needsGateway, timeout: 60_000 }, () => {
  test("returns the provider's response unchanged and the gateway's metrics", async () => {
    const tag = nonce("plain");

    const result = await client().chat(chatRequest(`Summarise ticket ${tag}`));

    assert.equal(result.response.object, "chat.completion", "the provider's body, unchanged");
    assert.equal(result.response.choices[0].message.content, ANSWER);
    assert.equal(result.response.usage.prompt_tokens, 1000);
    const m = result.metrics;
    assert.match(m.requestId, /^req/);
    assert.equal(m.provider, "openai");
    assert.equal(m.model, "gpt-4o");
    assert.equal(m.finalModel, "gpt-4o");
    assert.equal(m.wasFallback, false);
    assert.equal(m.inputTokens, 1000);
    assert.equal(m.outputTokens, 100);
    assert.equal(m.totalTokens, 1100);
    assert.equal(m.costUsd, CALL_COST_USD);
    assert.equal(m.costStatus, "priced");
    assert.equal(m.cacheStatus, "bypass");
    assert.equal(m.idempotency, "none");
    assert.equal(m.optimizationMode, "measure_only");
    assert.equal((await providerCalls(tag)).count, 1);
  });

  test("sends every field of the request: metadata, providerOptions, optimizationMode, the messages", async () => {
    const tag = nonce("fields");

    const result = await client().chat(chatRequest(`Summarise ticket ${tag}`, {
      metadata: { feature: "support-bot", ticket: "T-1" },
      providerOptions: { temperature: 0.2, max_tokens: 120 },
      optimizationMode: "safe",
    }));

    assert.equal(result.metrics.feature, "support-bot", "metadata.feature tagged the call");
    assert.equal(result.metrics.optimizationMode, "safe");
    const seen = await providerCalls(tag);
    assert.equal(seen.count, 1);
    assert.equal(seen.lastBody.model, "gpt-4o");
    assert.equal(seen.lastBody.temperature, 0.2, "providerOptions went to the provider");
    assert.equal(seen.lastBody.max_tokens, 120);
    assert.deepEqual(seen.lastBody.messages.map((message) => message.role), ["system", "user"]);
    assert.ok(seen.lastBody.messages[1].content.includes(tag));
    assert.ok(seen.lastAuthorization === `Bearer ${env.providerKey}`, "the workspace's own OpenAI key went to the provider, not the project key");
  });

  test("defaultHeaders go with every call (x-killtoken-feature tags it); metadata.feature beats the header", async () => {
    const tagged = client({ defaultHeaders: { "x-killtoken-feature": "sdk-default" } });

    const byHeader = await tagged.chat(chatRequest(nonce("header")));
    const byBody = await tagged.chat(chatRequest(nonce("body"), { metadata: { feature: "from-body" } }));

    assert.equal(byHeader.metrics.feature, "sdk-default");
    assert.equal(byBody.metrics.feature, "from-body");
  });

  test("a call's own headers go with that call only", async () => {
    const sdk = client();

    const tagged = await sdk.chat(chatRequest(nonce("call-header")), { headers: { "x-killtoken-feature": "one-call" } });
    const plain = await sdk.chat(chatRequest(nonce("no-header")));

    assert.equal(tagged.metrics.feature, "one-call");
    assert.notEqual(plain.metrics.feature, "one-call");
  });

  test("the client refuses what it can tell is wrong before sending anything", async () => {
    const tag = nonce("invalid");

    await assert.rejects(client().chat({ ...chatRequest(tag), messages: [] }), TypeError);
    assert.throws(() => new KillTokenClient({ baseUrl: env.baseUrl, apiKey: "" }), TypeError);
    assert.throws(() => new KillTokenClient({ baseUrl: "", apiKey: env.apiKey }), TypeError);
    assert.throws(() => new KillTokenClient({ baseUrl: "ftp://example.com", apiKey: env.apiKey }), TypeError);
    assert.throws(() => new KillTokenClient({ baseUrl: env.baseUrl, apiKey: env.apiKey, maxRetries: -1 }), TypeError);
    // A call that returns a promise reports a bad argument through it, as chat() does, so .catch() sees it.
    const sdk = client();
    const calls = {
      "requests.get('')": () => sdk.requests.get(""),
      "providerCredentials.get('')": () => sdk.providerCredentials.get(""),
      "providerCredentials.update('')": () => sdk.providerCredentials.update("", { label: "x" }),
      "providerCredentials.test('')": () => sdk.providerCredentials.test(""),
      "providerCredentials.delete('')": () => sdk.providerCredentials.delete(""),
    };
    const synchronous = [];
    for (const [name, call] of Object.entries(calls)) {
      let pending;
      try {
        pending = call();
      } catch {
        synchronous.push(name);
        continue;
      }
      await assert.rejects(pending, TypeError, name);
    }
    assert.deepEqual(synchronous, [], "these threw synchronously instead of returning a rejected promise");
    assert.equal((await providerCalls(tag)).count, 0);
  });

  test("baseUrl is kept without its trailing slash, and calls through it work", async () => {
    const slashed = new KillTokenClient({ baseUrl: `${env.baseUrl}/`, apiKey: env.apiKey });

    assert.equal(slashed.baseUrl, env.baseUrl);
    const result = await slashed.chat(chatRequest(nonce("slash")));
    assert.equal(result.response.choices[0].message.content, ANSWER);
  });

  test("the same idempotencyKey replays the stored answer: one provider call, the replay not billed", async () => {
    const tag = nonce("order");
    const request = chatRequest(`Charge ${tag}`, { idempotencyKey: tag });
    const sdk = client();

    const first = await sdk.chat(request);
    const replay = await sdk.chat(request);

    assert.equal((await providerCalls(tag)).count, 1, "one provider call");
    assert.equal(first.metrics.idempotency, "new");
    assert.equal(replay.metrics.idempotency, "replayed");
    assert.equal(first.metrics.costUsd, CALL_COST_USD);
    assert.equal(replay.metrics.costUsd, 0, "a replay is not billed");
    assert.deepEqual(replay.response, first.response);
  });

  test("cachePolicy read_write: a miss, then a free hit that skips the provider", async () => {
    const tag = nonce("cache");
    const request = chatRequest(`Cache me ${tag}`, { cachePolicy: { exactCache: "read_write" } });
    const sdk = client();

    const miss = await sdk.chat(request);
    const hit = await sdk.chat(request);

    assert.equal((await providerCalls(tag)).count, 1, "the hit did not reach the provider");
    assert.equal(miss.metrics.cacheStatus, "miss");
    assert.equal(hit.metrics.cacheStatus, "hit");
    assert.equal(hit.metrics.costUsd, 0);
    assert.equal(hit.metrics.savedUsd, CALL_COST_USD, "the hit records the cost it avoided");
    assert.deepEqual(hit.response, miss.response);
  });

  test("calls made at once are independent: ten concurrent chats, ten answers with their own request ids", async () => {
    const sdk = client();
    const tags = Array.from({ length: 10 }, () => nonce("parallel"));

    const results = await Promise.all(tags.map((tag) => sdk.chat(chatRequest(tag))));

    assert.equal(new Set(results.map((r) => r.metrics.requestId)).size, 10);
    for (const tag of tags) assert.equal((await providerCalls(tag)).count, 1);
  });
});
