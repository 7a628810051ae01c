// Drives the official `openai` npm SDK through KillToken's OpenAI-compatible wrapper, as its docs configure it for a
// compatible endpoint: baseURL = {KillToken}/v1/openai, apiKey = the KillToken key. Prints one JSON object of results.
//   KILLTOKEN_BASE_URL   the gateway, e.g. http://localhost:7071
//   KILLTOKEN_API_KEY    a project key whose workspace has an openai credential
//   KILLTOKEN_BROKE_KEY  (optional) a key whose budget is spent
import OpenAI from "openai";

const baseURL = `${process.env.KILLTOKEN_BASE_URL.replace(/\/$/, "")}/v1/openai`;
const model = process.env.KILLTOKEN_MODEL ?? "gpt-4o-mini";
const messages = [{ role: "user", content: "Hello" }];
const client = new OpenAI({ baseURL, apiKey: process.env.KILLTOKEN_API_KEY, maxRetries: 0, defaultHeaders: { "x-killtoken-feature": "node-openai" } });

async function failure(call) {
  try {
    await call();
    return null;
  } catch (e) {
    return { name: e.constructor.name, status: e.status ?? null, type: e.type ?? null, code: e.code ?? null, message: e.message };
  }
}

const result = {};

const { data: completion, response } = await client.chat.completions.create({ model, messages }).withResponse();
result.chat = {
  content: completion.choices[0].message.content,
  finishReason: completion.choices[0].finish_reason,
  usage: completion.usage,
  bodyMetrics: completion.killtoken?.metrics ?? null,
  headerMetrics: JSON.parse(response.headers.get("x-killtoken-metrics")),
};

const stream = await client.chat.completions.create({ model, messages, stream: true, stream_options: { include_usage: true } });
let text = "";
let usage = null;
let chunks = 0;
for await (const chunk of stream) {
  chunks++;
  text += chunk.choices[0]?.delta?.content ?? "";
  if (chunk.usage) usage = chunk.usage;
}
result.stream = { text, usage, chunks };

const models = await client.models.list();
result.models = models.data.map((m) => m.id);

result.badKey = await failure(() =>
  new OpenAI({ baseURL, apiKey: "kt_live_" + "x".repeat(40), maxRetries: 0 }).chat.completions.create({ model, messages }));
if (process.env.KILLTOKEN_BROKE_KEY) {
  // Default retries on: the gateway's x-should-retry: false must stop them.
  result.budget = await failure(() =>
    new OpenAI({ baseURL, apiKey: process.env.KILLTOKEN_BROKE_KEY }).chat.completions.create({ model, messages }));
}

console.log(JSON.stringify(result));
