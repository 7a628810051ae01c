// Plain fetch (Node 18+), no package: one /v1/chat call and its metrics.
//   KILLTOKEN_BASE_URL  the gateway, e.g. http://localhost:7071
//   KILLTOKEN_API_KEY   a project key (kt_live_…) whose workspace has an openai credential — never a provider key
const baseUrl = (process.env.KILLTOKEN_BASE_URL ?? "http://localhost:7071").replace(/\/$/, "");

const res = await fetch(`${baseUrl}/v1/chat`, {
  method: "POST",
  headers: { "content-type": "application/json", authorization: `Bearer ${process.env.KILLTOKEN_API_KEY}` },
  body: JSON.stringify({
    provider: "openai",
    model: "gpt-4o-mini",
    optimizationMode: "measure_only",
    messages: [{ role: "user", content: "Say hello in five words." }],
    metadata: { feature: "examples" },
  }),
});
if (!res.ok) {
  const { error } = await res.json(); // { code, message, requestId }: e.g. provider_credential_required, budget_exceeded
  console.error(`KillToken answered ${res.status} ${error.code}: ${error.message}`);
  process.exit(1);
}

const { response, metrics } = await res.json();
console.log(`answer: ${response.choices[0].message.content}`);
console.log(`metrics: ${JSON.stringify(metrics)}`);
