// The reads against the real gateway, over a fresh workspace with five calls made here: three tagged "support", two
// "billing" (the second a cache hit) — traces (paged, every page, one), summary, ROI, both exports.
import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { CALL_COST_USD, chatRequest, client, needsGateway, nonce } from "./helpers.mjs";

const close = (actual, expected, what) => assert.ok(Math.abs(actual - expected) < 1e-9, `${what}: ${actual}, expected ${expected}`);

/** The rows of a CSV text (RFC 4180 quoting) as arrays of fields. */
function parseCsv(text) {
  const rows = [];
  let row = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i++; } else if (c === '"') quoted = false; else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") { row.push(field); field = ""; }
    else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      row.push(field); rows.push(row); row = []; field = "";
    } else field += c;
  }
  if (field !== "" || row.length > 0) { row.push(field); rows.push(row); }
  return rows;
}

describe("reads", { skip: needsGateway, timeout: 60_000 }, () => {
  const sdk = client();
  const requestIds = [];
  const billing = nonce("balance");

  before(async () => {
    for (let i = 0; i < 3; i++) {
      requestIds.push((await sdk.chat(chatRequest(`Ticket ${i}: printer jam ${nonce("support")}`, { metadata: { feature: "support" } }))).metrics.requestId);
    }
    for (let i = 0; i < 2; i++) {
      const request = chatRequest(`What is my balance? ${billing}`, { metadata: { feature: "billing" }, cachePolicy: { exactCache: "read_write" } });
      requestIds.push((await sdk.chat(request)).metrics.requestId);
    }
  });

  test("requests.list pages follow nextCursor, newest first, and the last page has none", async () => {
    const first = await sdk.requests.list({ limit: 2 });
    const second = await sdk.requests.list({ limit: 2, cursor: first.nextCursor });
    const third = await sdk.requests.list({ limit: 2, cursor: second.nextCursor });

    assert.equal(first.data.length, 2);
    assert.equal(second.data.length, 2);
    assert.equal(third.data.length, 1);
    assert.ok(first.nextCursor && second.nextCursor);
    assert.ok(third.nextCursor == null, "the last page has no cursor");
    assert.deepEqual([...first.data, ...second.data, ...third.data].map((t) => t.id), [...requestIds].reverse());
  });

  test("requests.all walks every page, with the filters applied", async () => {
    const support = [];
    for await (const trace of sdk.requests.all({ feature: "support", limit: 1 })) support.push(trace);
    const hits = [];
    for await (const trace of sdk.requests.all({ cacheStatus: "hit", provider: "openai" })) hits.push(trace);
    const everything = [];
    for await (const trace of sdk.requests.all({ limit: 2 })) everything.push(trace);

    assert.equal(support.length, 3, "three pages of one, then the end");
    assert.ok(support.every((t) => t.feature === "support"));
    assert.deepEqual(hits.map((t) => t.id), [requestIds[4]]);
    assert.equal(everything.length, 5);
  });

  test("requests.list filters by model, mode and time range", async () => {
    const none = await sdk.requests.list({ model: "gpt-4o-mini" });
    const gpt4o = await sdk.requests.list({ model: "gpt-4o", mode: "measure_only" });
    const future = await sdk.requests.list({ from: new Date(Date.now() + 3_600_000).toISOString() });
    const recent = await sdk.requests.list({ from: new Date(Date.now() - 3_600_000).toISOString(), to: new Date(Date.now() + 60_000).toISOString() });

    assert.equal(none.data.length, 0);
    assert.equal(gpt4o.data.length, 5);
    assert.equal(future.data.length, 0);
    assert.equal(recent.data.length, 5);
  });

  test("Date objects work wherever a date is taken, and project filters by the trace's project", async () => {
    const hourAgo = new Date(Date.now() - 3_600_000);
    const soon = new Date(Date.now() + 60_000);

    const page = await sdk.requests.list({ from: hourAgo, to: soon });
    const ofProject = await sdk.requests.list({ project: page.data[0].projectId });
    const summary = await sdk.summary({ from: new Date(Date.now() - 86_400_000), to: soon });
    const analytics = await sdk.exports.analytics({ from: new Date(Date.now() - 86_400_000), to: new Date() });
    const csv = await sdk.exports.requestsCsv({ from: hourAgo, to: soon });

    assert.equal(page.data.length, 5);
    assert.equal(ofProject.data.length, 5);
    assert.equal(summary.totals.requests, 5);
    assert.equal(analytics.totals.requests, 5);
    assert.equal(csv.trimEnd().split(/\r?\n/).length, 6, "a header and five rows");
  });

  test("requests.get reads one privacy-safe trace", async () => {
    const trace = await sdk.requests.get(requestIds[0]);

    assert.equal(trace.id, requestIds[0]);
    assert.equal(trace.provider, "openai");
    assert.equal(trace.model, "gpt-4o");
    assert.equal(trace.status, 200);
    assert.equal(trace.feature, "support");
    assert.equal(trace.totalTokens, 1100);
    close(trace.costUsd, CALL_COST_USD, "costUsd");
    assert.ok(Date.now() - Date.parse(trace.createdAt) < 5 * 60_000, `createdAt ${trace.createdAt}`);
    assert.ok(!JSON.stringify(trace).includes("printer jam"), "no prompt text in a trace");
  });

  test("summary counts the workspace's calls, with the cache hit free", async () => {
    const summary = await sdk.summary();

    assert.equal(summary.totals.requests, 5);
    assert.equal(summary.totals.cacheHits, 1);
    close(summary.totals.costUsd, CALL_COST_USD * 4, "totals.costUsd");
    assert.equal(summary.byFeature.find((f) => f.feature === "support")?.requests, 3);
    assert.equal(summary.byFeature.find((f) => f.feature === "billing")?.cacheHits, 1);
  });

  test("roi reports the range's cost and the cache's savings", async () => {
    const roi = await sdk.roi({ from: new Date(Date.now() - 86_400_000).toISOString(), to: new Date().toISOString() });

    assert.equal(roi.requests, 5);
    close(roi.costUsd, CALL_COST_USD * 4, "costUsd");
    close(roi.savings.cacheUsd, CALL_COST_USD, "savings.cacheUsd");
    assert.equal(typeof roi.recommendation, "string");
  });

  test("exports.requestsCsv is the CSV text: one row per matching call", async () => {
    const csv = await sdk.exports.requestsCsv({ feature: "billing" });

    assert.equal(typeof csv, "string");
    const [header, ...rows] = parseCsv(csv.trimEnd());
    const column = Object.fromEntries(header.map((name, index) => [name, index]));
    assert.ok("requestId" in column && "feature" in column && "cacheStatus" in column, `header: ${header.join(",")}`);
    assert.deepEqual(rows.map((r) => r[column.requestId]).sort(), [requestIds[3], requestIds[4]].sort());
    assert.ok(rows.every((r) => r[column.feature] === "billing"));
    assert.deepEqual(rows.map((r) => r[column.cacheStatus]).sort(), ["hit", "miss"]);
    assert.ok(!csv.includes("balance"), "no prompt text in the export");
  });

  test("exports.analytics holds every report of the range, and its filters", async () => {
    const from = new Date(Date.now() - 6 * 86_400_000).toISOString().slice(0, 10);
    const to = new Date().toISOString().slice(0, 10);

    const analytics = await sdk.exports.analytics({ from, to });
    const support = await sdk.exports.analytics({ feature: "support" });

    assert.equal(analytics.totals.requests, 5);
    close(analytics.totals.spendUsd, CALL_COST_USD * 4, "totals.spendUsd");
    assert.equal(analytics.days.length, 7, "one row per day of the range");
    assert.equal(analytics.providers.find((p) => p.provider === "openai")?.requests, 5);
    assert.equal(analytics.features.find((f) => f.feature === "billing")?.requests, 2);
    assert.ok(Date.now() - Date.parse(analytics.generatedAt) < 5 * 60_000);
    assert.equal(support.totals.requests, 3);
    assert.equal(support.filters.feature, "support");
  });
});
