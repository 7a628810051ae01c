// A TokenGuard user's budget refusal, as the official SDKs see it on KillToken's /proxy/… routes (seed 002: only the
// base URL changes) and, for comparison, on KillToken's own /v1/openai wrapper. Default retries on: the gateway's
// x-should-retry: false must stop them. Prints one JSON object of results.
//   KILLTOKEN_BASE_URL              the gateway, e.g. http://localhost:7071
//   KILLTOKEN_OPENAI_BROKE_KEY      (optional) a key whose budget is spent, workspace with an openai credential
//   KILLTOKEN_ANTHROPIC_BROKE_KEY   (optional) a key whose budget is spent, workspace with an anthropic credential
import OpenAI from "openai";
import Anthropic from "@anthropic-ai/sdk";

const base = process.env.KILLTOKEN_BASE_URL.replace(/\/$/, "");
const messages = [{ role: "user", content: "Say hello" }];

async function failure(call) {
  try {
    await call();
    return null;
  } catch (e) {
    return {
      name: e.constructor.name,
      status: e.status ?? null,
      code: e.code ?? null,
      type: e.type ?? null,
      errorCode: e.errorCode ?? null,
      apiMessage: e.apiMessage ?? null,
      message: e.message,
      body: e.error ?? null,
      retryAfter: e.headers?.get("retry-after") ?? null,
      shouldRetry: e.headers?.get("x-should-retry") ?? null,
    };
  }
}

const result = {};
const openaiKey = process.env.KILLTOKEN_OPENAI_BROKE_KEY;
if (openaiKey) {
  // Seed 002's own Node example: apiKey and x-tokenguard-key both the key, baseURL …/proxy/openai/v1.
  const proxy = new OpenAI({ apiKey: openaiKey, baseURL: `${base}/proxy/openai/v1`, defaultHeaders: { "x-tokenguard-key": openaiKey } });
  result.openaiProxy = await failure(() => proxy.chat.completions.create({ model: "gpt-4o-mini", messages }));
  const wrapper = new OpenAI({ apiKey: openaiKey, baseURL: `${base}/v1/openai` });
  result.openaiWrapper = await failure(() => wrapper.chat.completions.create({ model: "gpt-4o-mini", messages }));
}

const anthropicKey = process.env.KILLTOKEN_ANTHROPIC_BROKE_KEY;
if (anthropicKey) {
  const proxy = new Anthropic({ apiKey: anthropicKey, baseURL: `${base}/proxy/anthropic` });
  result.anthropicProxy = await failure(() => proxy.messages.create({ model: "claude-3-5-haiku-20241022", max_tokens: 300, messages }));
}

console.log(JSON.stringify(result));
