// Timeouts and the caller's AbortSignal, against the real gateway (a provider that takes its time), and one against a
// stand-in gateway (a long Retry-After that an abort must cut short).
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { KillTokenAPIError, KillTokenConnectionError, KillTokenError, KillTokenTimeoutError } from "../dist/index.js";
import {
  ANSWER, answer, assertNoSecret, chatRequest, client, eventually, gatewayError, needsGateway, nonce, providerCalls, rejection, sleep, stubGateway,
} from "./helpers.mjs";

describe("timeouts", { skip: needsGateway, timeout: 60_000 }, () => {
  test("a chat not answered within timeoutMs is KillTokenTimeoutError, and without an idempotencyKey it is not resent", async () => {
    const tag = nonce("slow");
    const started = Date.now();

    const error = await rejection(client({ timeoutMs: 500 }).chat(chatRequest(`[slow:4000] ${tag}`)));

    const elapsed = Date.now() - started;
    assert.ok(error instanceof KillTokenTimeoutError, `got ${error?.name}: ${error?.message}`);
    assert.ok(error instanceof KillTokenConnectionError, "a timeout is a kind of connection error");
    assert.ok(error instanceof KillTokenError);
    assert.ok(!(error instanceof KillTokenAPIError));
    assert.equal(error.status, undefined);
    assert.ok(elapsed < 3000, `gave up after ${elapsed} ms, not when the provider answered`);
    assertNoSecret(error);
    await sleep(1000);
    assert.equal((await providerCalls(tag)).count, 1, "a chat that may have been billed is not sent again");
  });

  test("the call's own timeoutMs beats the client's", async () => {
    const started = Date.now();

    const error = await rejection(client({ timeoutMs: 60_000 }).chat(chatRequest(`[slow:4000] ${nonce("own")}`), { timeoutMs: 500 }));

    assert.ok(error instanceof KillTokenTimeoutError, `got ${error?.name}`);
    assert.ok(Date.now() - started < 3000);
  });

  test("a timed-out chat with an idempotencyKey is tried again, and the retry's answer comes back", async () => {
    const tag = nonce("slow-once");

    const result = await client({ timeoutMs: 1500 }).chat(chatRequest(`[slow-once:2500] ${tag}`, { idempotencyKey: tag }));

    assert.equal(result.response.choices[0].message.content, ANSWER);
    const seen = await providerCalls(tag);
    assert.ok(seen.count >= 1 && seen.count <= 2, `${seen.count} provider calls`);
  });

  test("a stream whose headers do not arrive within timeoutMs is KillTokenTimeoutError", async () => {
    const started = Date.now();

    const error = await rejection(client({ timeoutMs: 500 }).chatStream(chatRequest(`[slow:4000] ${nonce("slow-stream")}`)));

    assert.ok(error instanceof KillTokenTimeoutError, `got ${error?.name}: ${error?.message}`);
    assert.ok(Date.now() - started < 3000);
    assertNoSecret(error);
  });
});

describe("AbortSignal", { skip: needsGateway, timeout: 60_000 }, () => {
  test("aborting a chat rejects with the signal's reason (AbortError), is not retried, and the provider call is cancelled", async () => {
    const tag = nonce("abort");
    const controller = new AbortController();
    // An idempotent chat, so only the abort (not the retry policy) explains why it is sent once.
    const call = client().chat(chatRequest(`[slow:5000] ${tag}`, { idempotencyKey: tag }), { signal: controller.signal });
    await eventually(() => providerCalls(tag), (seen) => seen.count === 1, 5000);
    const started = Date.now();
    controller.abort();

    const error = await rejection(call);

    assert.equal(error?.name, "AbortError", `got ${error?.name}: ${error?.message}`);
    assert.strictEqual(error, controller.signal.reason, "the signal's own reason");
    assert.ok(Date.now() - started < 2000, "rejected at once");
    const seen = await eventually(() => providerCalls(tag), (s) => s.aborted === 1, 10_000);
    assert.equal(seen.aborted, 1, "the gateway saw the call go away and cancelled the provider call");
    assert.equal(seen.count, 1, "not retried");
  });

  test("an abort with a reason of the caller's rejects with that very reason", async () => {
    const controller = new AbortController();
    const reason = new Error("the user left the page");
    setTimeout(() => controller.abort(reason), 200);

    const error = await rejection(client().chat(chatRequest(`[slow:4000] ${nonce("reason")}`), { signal: controller.signal }));

    assert.strictEqual(error, reason);
  });

  test("AbortSignal.timeout() rejects with its TimeoutError (the signal's reason), and is not retried", async () => {
    const tag = nonce("signal-timeout");
    const signal = AbortSignal.timeout(300);

    const error = await rejection(client().chat(chatRequest(`[slow:4000] ${tag}`, { idempotencyKey: tag }), { signal }));

    assert.equal(error?.name, "TimeoutError", `got ${error?.name}: ${error?.message}`);
    assert.strictEqual(error, signal.reason);
    await sleep(1000);
    assert.equal((await providerCalls(tag)).count, 1, "not retried");
  });

  test("a signal aborted before the call sends nothing", async () => {
    const tag = nonce("pre-aborted");

    const error = await rejection(client().chat(chatRequest(tag), { signal: AbortSignal.abort() }));

    assert.equal(error?.name, "AbortError");
    await sleep(300);
    assert.equal((await providerCalls(tag)).count, 0);
  });

  test("aborting a stream mid-way ends the loop with the reason, and the provider's stream is closed", async () => {
    const tag = nonce("abort-stream");
    const controller = new AbortController();
    const events = [];

    const stream = await client().chatStream(chatRequest(`[hold-forever] ${tag}`), { signal: controller.signal });
    const error = await rejection((async () => {
      for await (const event of stream) {
        events.push(event);
        controller.abort();
      }
    })());

    assert.equal(events.length, 1, "the first event arrived, then the stream was aborted");
    assert.equal(error?.name, "AbortError", `got ${error?.name}: ${error?.message}`);
    const seen = await eventually(() => providerCalls(tag), (s) => s.aborted === 1, 10_000);
    assert.equal(seen.aborted, 1, "the provider's stream was cancelled");
  });

  test("cancel() frees a stream that will not be read", async () => {
    const tag = nonce("cancel");

    const stream = await client().chatStream(chatRequest(`[hold-forever] ${tag}`));
    await stream.cancel();

    const seen = await eventually(() => providerCalls(tag), (s) => s.aborted === 1, 10_000);
    assert.equal(seen.aborted, 1, "the connection was released, and the gateway cancelled the provider's stream");
  });

  test("breaking out of a stream's loop closes the stream", async () => {
    const tag = nonce("break");

    const stream = await client().chatStream(chatRequest(`[hold-forever] ${tag}`));
    for await (const event of stream) {
      assert.equal(event.type, "provider");
      break;
    }

    const seen = await eventually(() => providerCalls(tag), (s) => s.aborted === 1, 10_000);
    assert.equal(seen.aborted, 1, "leaving the loop released the connection, and the gateway cancelled the provider's stream");
  });
});

describe("a finished script", { skip: needsGateway, timeout: 60_000 }, () => {
  test("exits at once: no timer or connection of the client keeps node alive after its calls are done", async () => {
    const script = `
      import { KillTokenClient } from ${JSON.stringify(new URL("../dist/index.js", import.meta.url).href)};
      const client = new KillTokenClient({ baseUrl: process.env.KILLTOKEN_BASE_URL, apiKey: process.env.KILLTOKEN_API_KEY });
      const request = (content) => ({ provider: "openai", model: "gpt-4o", messages: [{ role: "user", content }] });
      await client.chat(request("exit 1"));
      const stream = await client.chatStream(request("exit 2"));
      for await (const event of stream) { /* to the end */ }
      const early = await client.chatStream(request("exit 3"));
      for await (const event of early) break;
      await client.summary();
      await client.requests.get("req_missing").catch(() => undefined);
      console.log("done");
    `;
    const started = Date.now();

    const { code, stdout, stderr, elapsed } = await new Promise((resolve) => {
      const child = spawn(process.execPath, ["--input-type=module", "-e", script], { env: process.env });
      let out = "";
      let err = "";
      child.stdout.on("data", (d) => { out += d; });
      child.stderr.on("data", (d) => { err += d; });
      const guard = setTimeout(() => child.kill(), 30_000);
      child.on("exit", (exitCode) => {
        clearTimeout(guard);
        resolve({ code: exitCode, stdout: out, stderr: err, elapsed: Date.now() - started });
      });
    });

    assert.equal(code, 0, `the script failed: ${stderr.slice(0, 2000)}`);
    assert.equal(stdout.trim(), "done");
    assert.ok(elapsed < 10_000, `node took ${elapsed} ms to exit after its calls`);
  });
});

describe("AbortSignal during a retry wait (stand-in gateway)", { timeout: 30_000 }, () => {
  let stub;
  after(() => stub?.close());

  test("an abort during a 30 s Retry-After ends the call at once", async () => {
    stub = await stubGateway((req, res) => answer(res, 503, gatewayError("store_unavailable"), { "retry-after": "30" }));
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 300);
    const started = Date.now();

    // A chat the client would send again after the Retry-After (the gateway refused it before any provider call).
    const call = client({ baseUrl: stub.url, apiKey: "kt_live_stubkey0123456789abcdefghijklmnop" }).chat(chatRequest(nonce("wait")), { signal: controller.signal });
    const error = await rejection(call);

    assert.equal(error?.name, "AbortError", `got ${error?.name}: ${error?.message}`);
    assert.ok(Date.now() - started < 3000, "did not wait out the Retry-After");
    assert.equal(stub.requests.length, 1);
  });
});
