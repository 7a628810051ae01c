// Drives the official `@anthropic-ai/sdk` npm SDK through KillToken's Anthropic wrapper: baseURL = {KillToken}/v1/anthropic
// (the SDK adds /v1/messages), apiKey = the KillToken key (sent as x-api-key). Prints one JSON object of results.
//   KILLTOKEN_BASE_URL   the gateway, e.g. http://localhost:7071
//   KILLTOKEN_API_KEY    a project key whose workspace has an anthropic credential
//   KILLTOKEN_BROKE_KEY  (optional) a key whose budget is spent
import Anthropic from "@anthropic-ai/sdk";

const baseURL = `${process.env.KILLTOKEN_BASE_URL.replace(/\/$/, "")}/v1/anthropic`;
const model = process.env.KILLTOKEN_MODEL ?? "claude-3-5-haiku-20241022";
const messages = [{ role: "user", content: "Hello" }];
const client = new Anthropic({ baseURL, apiKey: process.env.KILLTOKEN_API_KEY, maxRetries: 0, defaultHeaders: { "x-killtoken-feature": "node-anthropic" } });

async function failure(call) {
  try {
    await call();
    return null;
  } catch (e) {
    return { name: e.constructor.name, status: e.status ?? null, type: e.error?.error?.type ?? e.type ?? null, message: e.message };
  }
}

const result = {};

const { data: message, response } = await client.messages.create({ model, max_tokens: 64, system: "Be brief.", messages }).withResponse();
result.chat = {
  text: message.content[0].text,
  stopReason: message.stop_reason,
  usage: message.usage,
  headerMetrics: JSON.parse(response.headers.get("x-killtoken-metrics")),
};

const helper = client.messages.stream({ model, max_tokens: 64, messages });
let streamed = "";
helper.on("text", (delta) => { streamed += delta; });
const final = await helper.finalMessage();
result.stream = { text: streamed, finalText: final.content[0].text, stopReason: final.stop_reason, usage: final.usage };

const raw = await client.messages.create({ model, max_tokens: 64, messages, stream: true });
const types = [];
let metrics = null;
for await (const event of raw) {
  types.push(event.type);
  if (event.type === "killtoken.metrics") metrics = event.metrics;
}
result.rawStream = { types, metrics };

result.badKey = await failure(() =>
  new Anthropic({ baseURL, apiKey: "kt_live_" + "x".repeat(40), maxRetries: 0 }).messages.create({ model, max_tokens: 10, messages }));
result.openAITools = await failure(() =>
  client.messages.create({ model, max_tokens: 10, messages, tools: [{ type: "function", function: { name: "f", parameters: { type: "object" } } }] }));
if (process.env.KILLTOKEN_BROKE_KEY) {
  result.budget = await failure(() =>
    new Anthropic({ baseURL, apiKey: process.env.KILLTOKEN_BROKE_KEY }).messages.create({ model, max_tokens: 10, messages }));
}

console.log(JSON.stringify(result));
