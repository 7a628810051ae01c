// client.chatStream against the real gateway: provider events as they arrive, then the metrics; a refusal thrown
// before the loop; a stream that breaks off; the trace written at its end.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { KillTokenAPIError, KillTokenClient, KillTokenConnectionError, KillTokenError } from "../dist/index.js";
import { assertNoSecret, chatRequest, client, env, eventually, needsGateway, nonce, providerCalls, rejection, stubGateway } from "./helpers.mjs";

/** The text of OpenAI's chunks among `events`. */
const text = (events) => events
  .filter((e) => e.type === "provider" && typeof e.data === "object" && e.data !== null)
  .map((e) => e.data.choices?.[0]?.delta?.content ?? "")
  .join("");

describe("chatStream", { skip: needsGateway, timeout: 60_000 }, () => {
  test("yields the provider's events as they arrive, then one metrics event; stream.metrics after the loop", async () => {
    const tag = nonce("stream");
    const started = Date.now();

    const stream = await client().chatStream(chatRequest(`[hold:1500] ${tag}`));
    const events = [];
    for await (const event of stream) events.push({ ...event, at: Date.now() - started });

    assert.equal(text(events), "Hello there!");
    assert.ok(events.some((e) => e.type === "provider" && e.data === "[DONE]"), "the provider's own terminator passes through as the raw string");
    const last = events.at(-1);
    assert.equal(last.type, "metrics", "the stream closes with the gateway's metrics");
    assert.equal(events.filter((e) => e.type === "metrics").length, 1);
    assert.match(last.metrics.requestId, /^req/);
    assert.equal(last.metrics.inputTokens, 9, "usage read from the stream");
    assert.equal(last.metrics.outputTokens, 12);
    assert.deepEqual(stream.metrics, last.metrics);
    assert.equal(stream.requestId, last.metrics.requestId, "the request id was known from the headers");
    // The provider held the rest for 1.5 s after its first event: that event reached the loop long before the end.
    assert.ok(last.at - events[0].at >= 1000, `not buffered: first event at ${events[0].at} ms, last at ${last.at} ms`);

    const seen = await providerCalls(tag);
    assert.equal(seen.count, 1);
    assert.equal(seen.lastBody.stream, true);
    assert.equal(seen.lastBody.stream_options?.include_usage, true, "the gateway asked for usage in the stream");
  });

  test("a replay (same idempotencyKey) and a cache hit stream too: the same text, their own metrics, one provider call", async () => {
    const tag = nonce("stream-replay");
    const read = async (request) => {
      const stream = await client().chatStream(request);
      const events = [];
      for await (const event of stream) events.push(event);
      return { text: text(events), metrics: stream.metrics };
    };

    const first = await read(chatRequest(`Replay ${tag}`, { idempotencyKey: tag }));
    const replay = await read(chatRequest(`Replay ${tag}`, { idempotencyKey: tag }));
    const miss = await read(chatRequest(`Cache ${tag}`, { cachePolicy: { exactCache: "read_write" } }));
    const hit = await read(chatRequest(`Cache ${tag}`, { cachePolicy: { exactCache: "read_write" } }));

    assert.equal(replay.text, first.text);
    assert.equal(first.metrics.idempotency, "new");
    assert.equal(replay.metrics.idempotency, "replayed");
    assert.equal(replay.metrics.costUsd, 0);
    assert.equal(hit.text, miss.text);
    assert.equal(miss.metrics.cacheStatus, "miss");
    assert.equal(hit.metrics.cacheStatus, "hit");
    assert.equal((await providerCalls(`Replay ${tag}`)).count, 1);
    assert.equal((await providerCalls(`Cache ${tag}`)).count, 1);
  });

  test("a provider with named events (Anthropic): each event keeps its name, and the metrics come last", async () => {
    const sdk = client();
    const credential = await sdk.providerCredentials.create({ provider: "anthropic", apiKey: `sk-ant-${nonce("stream")}` });

    const stream = await sdk.chatStream({ ...chatRequest(nonce("anthropic")), provider: "anthropic", model: "claude-3-5-haiku-20241022", providerOptions: { max_tokens: 64 } });
    const events = [];
    for await (const event of stream) events.push(event);
    await sdk.providerCredentials.delete(credential.id);

    const named = events.filter((e) => e.type === "provider").map((e) => e.event);
    assert.deepEqual(named, ["message_start", "content_block_start", "ping", "content_block_delta", "content_block_delta", "content_block_stop", "message_delta", "message_stop"]);
    const text = events.filter((e) => e.event === "content_block_delta").map((e) => e.data.delta.text).join("");
    assert.equal(text, "Hello!");
    assert.equal(events.at(-1).type, "metrics");
    assert.equal(stream.metrics.provider, "anthropic");
    assert.equal(stream.metrics.inputTokens, 25);
    assert.equal(stream.metrics.outputTokens, 15);
  });

  test("the stream's trace is written at its end and reads back through requests.get", async () => {
    const stream = await client().chatStream(chatRequest(nonce("trace")));
    for await (const _ of stream) { /* drain */ }
    const requestId = stream.metrics.requestId;

    const trace = await eventually(
      () => client().requests.get(requestId).catch((error) => (error instanceof KillTokenAPIError && error.status === 404 ? null : Promise.reject(error))),
      (value) => value !== null,
      15_000);

    assert.ok(trace, "the trace appeared within 15 s");
    assert.equal(trace.id, requestId);
    assert.equal(trace.stream, true);
    assert.equal(trace.outputTokens, 12);
    assert.equal(trace.status, 200);
  });

  test("a refused stream rejects chatStream itself with KillTokenAPIError, before any event", async () => {
    const unknownKey = `kt_live_${"Q".repeat(40)}`;
    const stranger = new KillTokenClient({ baseUrl: env.baseUrl, apiKey: unknownKey });

    const error = await rejection(stranger.chatStream(chatRequest(nonce("refused"))));

    assert.ok(error instanceof KillTokenAPIError, `got ${error?.name}`);
    assert.ok(error instanceof KillTokenError);
    assert.equal(error.status, 401);
    assert.equal(error.code, "invalid_api_key");
    assertNoSecret(error, [unknownKey, ...[env.apiKey, env.providerKey]]);
  });

  test("a provider without a credential is refused before the stream: 400 provider_credential_required", async () => {
    const error = await rejection(client().chatStream({ ...chatRequest(nonce("gemini")), provider: "gemini", model: "gemini-2.0-flash" }));

    assert.ok(error instanceof KillTokenAPIError, `got ${error?.name}`);
    assert.equal(error.status, 400);
    assert.equal(error.code, "provider_credential_required");
  });

  test("a stream that breaks off yields what arrived and the metrics, then throws the gateway's error", async () => {
    const tag = nonce("cut");
    const events = [];

    const stream = await client().chatStream(chatRequest(`[cut] ${tag}`));
    const error = await rejection((async () => {
      for await (const event of stream) events.push(event);
    })());

    assert.equal(text(events), "Half an ans");
    assert.equal(events.at(-1)?.type, "metrics", "the metrics still arrive before the failure is raised");
    assert.ok(error instanceof KillTokenAPIError, `got ${error?.name}: ${error?.message}`);
    assert.equal(error.code, "provider_error");
    assert.ok(error.message.includes("provider_error"), "the message names the code");
    assertNoSecret(error);
  });

  test("timeoutMs covers the wait for the headers only: a stream that pauses longer mid-way is not cut", async () => {
    const tag = nonce("pause");

    const stream = await client({ timeoutMs: 1000 }).chatStream(chatRequest(`[hold:2500] ${tag}`));
    const events = [];
    for await (const event of stream) events.push(event);

    assert.equal(text(events), "Hello there!");
    assert.equal(events.at(-1).type, "metrics");
  });
});

describe("chatStream when the connection breaks (stand-in gateway)", { timeout: 30_000 }, () => {
  let stub;
  after(() => stub?.close());

  test("a connection that breaks mid-stream is KillTokenConnectionError after the events that arrived", async () => {
    const key = "kt_live_stubkey0123456789abcdefghijklmnop";
    stub = await stubGateway((req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream", "x-request-id": "req_stub_stream" });
      res.write('data: {"choices":[{"index":0,"delta":{"content":"Hel"}}]}\n\n');
      setTimeout(() => res.socket.destroy(), 100);
    });
    const events = [];

    const stream = await new KillTokenClient({ baseUrl: stub.url, apiKey: key }).chatStream(chatRequest(nonce("broken")));
    const error = await rejection((async () => {
      for await (const event of stream) events.push(event);
    })());

    assert.equal(events.length, 1, "the event that arrived was yielded");
    assert.ok(error instanceof KillTokenConnectionError, `the connection broke, so KillTokenConnectionError (its doc: "the gateway could not be reached or the connection broke"); got ${error?.name}: ${error?.message}`);
    assertNoSecret(error, [key]);
  });
});
