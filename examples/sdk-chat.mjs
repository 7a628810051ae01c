// @killtoken/sdk, the first-party client: one /v1/chat call with an idempotency key and the exact cache, then the same
// call again — replayed, so the provider is not called or billed twice (what a retry after a timeout gets).
//   KILLTOKEN_BASE_URL  the gateway, e.g. http://localhost:7071
//   KILLTOKEN_API_KEY   a project key (kt_live_…) whose workspace has an openai credential — never a provider key
import { randomUUID } from "node:crypto";
import { KillTokenClient } from "@killtoken/sdk";

const client = new KillTokenClient({ baseUrl: process.env.KILLTOKEN_BASE_URL ?? "http://localhost:7071", apiKey: process.env.KILLTOKEN_API_KEY });

const request = {
  provider: "openai",
  model: "gpt-4o-mini",
  messages: [{ role: "user", content: "Write a one-line project update." }],
  metadata: { feature: "examples" }, // the savings-by-feature report's tag
  idempotencyKey: `hello-${randomUUID()}`,
  cachePolicy: { exactCache: "read_write" },
};

const { response, metrics } = await client.chat(request); // a refusal throws KillTokenAPIError { status, code, message }
console.log(`answer: ${response.choices[0].message.content}`);
console.log(`metrics: ${JSON.stringify(metrics)}`);

const again = await client.chat(request);
console.log(`again: idempotency=${again.metrics.idempotency}, costUsd=${again.metrics.costUsd}`);
