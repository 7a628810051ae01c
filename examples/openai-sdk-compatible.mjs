// The official `openai` npm SDK pointed at KillToken's OpenAI-compatible route (baseURL ends with /v1/openai). The
// API key is a KillToken project key, not an OpenAI key: the gateway calls OpenAI with the workspace's own credential.
//   KILLTOKEN_BASE_URL  the gateway, e.g. http://localhost:7071
//   KILLTOKEN_API_KEY   a project key (kt_live_…) whose workspace has an openai credential
import OpenAI from "openai";

const client = new OpenAI({
  baseURL: `${(process.env.KILLTOKEN_BASE_URL ?? "http://localhost:7071").replace(/\/$/, "")}/v1/openai`,
  apiKey: process.env.KILLTOKEN_API_KEY,
  defaultHeaders: { "x-killtoken-feature": "examples" }, // optional: tags every call for the savings-by-feature report
});

const completion = await client.chat.completions.create({
  model: "gpt-4o-mini",
  messages: [{ role: "user", content: "Say hello in five words." }],
});

console.log(`answer: ${completion.choices[0].message.content}`);
console.log(`metrics: ${JSON.stringify(completion.killtoken?.metrics)}`); // also in the x-killtoken-metrics header
