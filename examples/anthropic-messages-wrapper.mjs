// Plain fetch to KillToken's Anthropic Messages route: Anthropic's own request and response, KillToken's metrics in a header.
//   KILLTOKEN_BASE_URL  the gateway, e.g. http://localhost:7071
//   KILLTOKEN_API_KEY   a project key (kt_live_…) whose workspace has an anthropic credential — never a provider key
const baseUrl = (process.env.KILLTOKEN_BASE_URL ?? "http://localhost:7071").replace(/\/$/, "");

const res = await fetch(`${baseUrl}/v1/anthropic/messages`, {
  method: "POST",
  headers: { "content-type": "application/json", authorization: `Bearer ${process.env.KILLTOKEN_API_KEY}` },
  body: JSON.stringify({
    model: "claude-3-5-haiku-latest",
    max_tokens: 256,
    system: "Answer in one line.",
    messages: [{ role: "user", content: "Say hello in five words." }],
  }),
});
const message = await res.json();
if (!res.ok) {
  console.error(`KillToken answered ${res.status} ${message.error.type}: ${message.error.message}`); // Anthropic's error shape
  process.exit(1);
}

console.log(`answer: ${message.content.filter((block) => block.type === "text").map((block) => block.text).join("")}`);
console.log(`usage: ${message.usage.input_tokens} in, ${message.usage.output_tokens} out`);
console.log(`metrics: ${res.headers.get("x-killtoken-metrics")}`);
