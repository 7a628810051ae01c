// The official `@anthropic-ai/sdk` npm SDK pointed at KillToken's Anthropic Messages route. The API key is a KillToken
// project key, not an Anthropic key: the gateway calls Anthropic with the workspace's own stored credential.
//   KILLTOKEN_BASE_URL  the gateway, e.g. http://localhost:7071
//   KILLTOKEN_API_KEY   a project key (kt_live_…) whose workspace has an anthropic credential
import Anthropic from "@anthropic-ai/sdk";

const client = new Anthropic({
  baseURL: `${(process.env.KILLTOKEN_BASE_URL ?? "http://localhost:7071").replace(/\/$/, "")}/v1/anthropic`,
  apiKey: process.env.KILLTOKEN_API_KEY,
});

const { data: message, response } = await client.messages
  .create({
    model: "claude-3-5-haiku-latest",
    max_tokens: 256,
    messages: [{ role: "user", content: "Say hello in five words." }],
  })
  .withResponse();

console.log(`answer: ${message.content.filter((block) => block.type === "text").map((block) => block.text).join("")}`);
console.log(`usage: ${message.usage.input_tokens} in, ${message.usage.output_tokens} out`);
console.log(`metrics: ${response.headers.get("x-killtoken-metrics")}`); // KillToken's cost, cache, waste…
