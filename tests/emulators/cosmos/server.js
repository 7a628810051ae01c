#!/usr/bin/env node
// Test-only Cosmos DB (SQL API) emulator for KillToken's C# tests.
//
// Wraps @vercel/cosmosdb-server (an in-memory Node implementation of the Cosmos
// REST API) and fixes what the real Microsoft.Azure.Cosmos .NET SDK trips over.
// See README.md in this folder for usage and the list of measured quirks.
//
//   node server.js [port]            (port: argv, else env COSMOS_EMULATOR_PORT, else 8081; 0 = pick a free one)
//
// Prints exactly one line `COSMOS_EMULATOR_READY https://127.0.0.1:<port>/` to
// stdout once it accepts connections. Exits on SIGTERM/SIGINT, and when its
// stdin (if it is a pipe, i.e. a parent process holds it) is closed.
//
// Environment:
//   COSMOS_EMULATOR_PORT         port (argv wins); 0 = any free port
//   COSMOS_EMULATOR_LOG=1        log one line per request to stderr
//   COSMOS_EMULATOR_WATCH_STDIN  "1" force / "0" disable exit-on-stdin-close (default: only when stdin is a pipe/socket)

"use strict";

const fs = require("fs");
const os = require("os");
const path = require("path");
const { execFileSync } = require("child_process");

const PKG_DIR = path.dirname(require.resolve("@vercel/cosmosdb-server/package.json"));
const lib = (p) => require(path.join(PKG_DIR, "lib", p));

const { createHttpsServer } = lib("index.js");
const routesModule = lib("routes.js");
const createRouter = lib("router.js").default;
const readJson = lib("json.js").default;
const readItems = lib("handler/_read-items.js").default;
const { patchOperation } = lib("handler/_patch-operations.js");
const { SyntaxError: QuerySyntaxError } = require(require.resolve("@zeit/cosmosdb-query", { paths: [PKG_DIR] }));

const LOG = process.env.COSMOS_EMULATOR_LOG === "1";
const log = (...a) => { if (LOG) process.stderr.write(`[cosmos-emulator] ${a.join(" ")}\n`); };

// ---------------------------------------------------------------------------
// Certificate. Node's crypto can make keys but not X.509 certificates, so we
// create a fresh self-signed one (CN=localhost, SAN IP:127.0.0.1 + DNS:localhost,
// 1 year) with the `openssl` CLI. If openssl is missing we fall back to the
// cert.pem/key.pem shipped inside the package (CN=cosmosdb, EXPIRED in 2021):
// clients accept it only because tests disable certificate validation anyway.
// ---------------------------------------------------------------------------
function makeCertificate() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cosmos-emulator-"));
  try {
    const key = path.join(dir, "key.pem");
    const cert = path.join(dir, "cert.pem");
    execFileSync("openssl", [
      "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
      "-nodes", "-keyout", key, "-out", cert, "-days", "365",
      "-subj", "/CN=localhost",
      "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
    ], { stdio: ["ignore", "ignore", "pipe"], timeout: 20000 });
    return { key: fs.readFileSync(key), cert: fs.readFileSync(cert), source: "openssl" };
  } catch (err) {
    process.stderr.write(`[cosmos-emulator] openssl unavailable (${err.message.split("\n")[0]}); using the package's bundled (expired) certificate\n`);
    return {
      key: fs.readFileSync(path.join(PKG_DIR, "key.pem")),
      cert: fs.readFileSync(path.join(PKG_DIR, "cert.pem")),
      source: "bundled",
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------
// Resource ids in Cosmos DB's alphabet. The package writes a _rid in standard
// base64, so every 64th database (and its containers) got a '/' in its id; the
// SDK puts those ids in paths (dbs/{rid}/colls/{rid}/pkranges), the lookup went
// to the wrong route, and the SDK's partition-key-range cache answered the
// query with a 404 (a 500 in the gateway). Cosmos DB writes '-' for '/'. The
// package's decoder also replaced only the first '-'.
// ---------------------------------------------------------------------------
const ResourceId = lib("account/resource-id.js").default;
ResourceId.toBase64String = (buffer) => buffer.toString("base64").replace(/\//g, "-");
ResourceId.fromBase64String = (text) => Buffer.from(text.replace(/-/g, "/"), "base64");

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------
const nowSeconds = () => Math.floor(Date.now() / 1000);

function notFound(res, message) {
  res.statusCode = 404;
  res.setHeader("x-ms-substatus", "0");
  return { code: "NotFound", message: message || "Entity with the specified id does not exist in the system." };
}

function badRequest(res, message) {
  res.statusCode = 400;
  return { code: "BadRequest", message };
}

/** Partition key value sent by the client: { none: true } for "no/None key", else { value }. */
function clientPartitionKey(req) {
  let raw = req.headers["x-ms-documentdb-partitionkey"];
  if (Array.isArray(raw)) raw = raw[0];
  if (raw === undefined) return { none: true };
  let parsed;
  try { parsed = JSON.parse(raw); } catch { return { invalid: raw }; }
  if (!Array.isArray(parsed)) parsed = [parsed];
  if (parsed.length === 0) return { none: true };
  const v = parsed[0];
  if (v !== null && typeof v === "object" && Object.keys(v).length === 0) return { none: true }; // PartitionKey.None
  return { value: v };
}

/** Container default TTL ("defaultTtl" on the wire; the .NET name is DefaultTimeToLive), or undefined if TTL is off. */
function defaultTtlOf(props) {
  if (!props) return undefined;
  const v = props.defaultTtl !== undefined ? props.defaultTtl : props.defaultTimeToLive;
  return typeof v === "number" ? v : undefined;
}

/** Expiry time (unix seconds) of a document in a collection, or null if it never expires. */
function expiresAt(collectionProps, doc) {
  const def = defaultTtlOf(collectionProps);
  if (typeof def !== "number") return null; // TTL disabled on the container: item "ttl" is ignored (as in Cosmos)
  let ttl = def;
  if (typeof doc.ttl === "number" && doc.ttl !== 0) ttl = doc.ttl; // item overrides container default
  if (ttl === -1 || ttl <= 0) return null;
  return (doc._ts || 0) + ttl;
}

/** Delete expired documents of a TTL-enabled collection (lazy, on every request that touches it). */
function purgeExpired(collection) {
  const props = collection.read();
  if (defaultTtlOf(props) === undefined) return;
  const docs = collection.documents;
  const now = nowSeconds();
  const expired = [];
  for (const item of docs._data.values()) {
    const d = item.read();
    const exp = d && expiresAt(props, d);
    if (exp !== null && exp !== undefined && exp <= now) expired.push(d);
  }
  for (const d of expired) {
    try { docs.delete(d.id, docs._getPartition(d)); } catch { /* already gone */ }
  }
}

function collectionOf(account, { dbId, collId }) {
  const collection = account.database(dbId).collection(collId);
  if (collection.read()) purgeExpired(collection);
  return collection;
}

/** Look up a document by id + partition key header; verifies the stored key really matches. */
function findDocument(collection, req, docId) {
  const pk = clientPartitionKey(req);
  if (pk.invalid !== undefined) return { error: "invalid partition key header" };
  const docs = collection.documents;
  // The package indexes items by (partitionValue || id); mimic that lookup.
  const lookupKey = pk.none ? docId : (pk.value || docId);
  const data = collection.document(docId, lookupKey).read();
  if (!data) return { data: null };
  if (!pk.none && docs._getPartition(data) !== pk.value) return { data: null };
  if (pk.none && docs._getPartition(data) !== undefined && collection.read().partitionKey) {
    // Asked for PartitionKey.None but the stored item has a key value.
    return { data: null };
  }
  return { data };
}

// ---------------------------------------------------------------------------
// Replacement / additional handlers
// ---------------------------------------------------------------------------

// GET docs/{id}: the package throws (-> 500) for a missing item; answer 404.
function readDocument(account, req, res, params) {
  const collection = collectionOf(account, params);
  if (!collection.read()) return notFound(res, "Resource Not Found. Collection does not exist.");
  const { data, error } = findDocument(collection, req, params.docId);
  if (error) return badRequest(res, error);
  if (!data) return notFound(res);
  if (req.headers["if-none-match"] && req.headers["if-none-match"] === data._etag) {
    res.statusCode = 304;
    return {};
  }
  res.statusCode = 200;
  return data;
}

// PATCH docs/{id}: same as the package's, but TTL-aware and with a Cosmos-shaped 404.
async function patchDocument(account, req, res, params) {
  const body = await readJson(req);
  const collection = collectionOf(account, params);
  if (!collection.read()) return notFound(res, "Resource Not Found. Collection does not exist.");
  const operations = Array.isArray(body) ? body : body && body.operations;
  if (!Array.isArray(operations)) return badRequest(res, "Invalid patch request: check syntax of patch specification.");
  const { data } = findDocument(collection, req, params.docId);
  if (!data) return notFound(res);
  const result = patchOperation(collection, {
    id: params.docId,
    partitionKey: req.headers["x-ms-documentdb-partitionkey"],
    ifMatch: req.headers["if-match"],
    operations,
    condition: Array.isArray(body) ? undefined : caseKeptCondition(body.condition, data),
  });
  res.statusCode = result.statusCode;
  if (result.statusCode === 404) return notFound(res);
  return result.body;
}

// A conditional patch's filter predicate ("FROM c WHERE …", as the .NET SDK sends it) is lower-cased whole by the
// package before it is run, so a camelCase property (c.lastAtMs) never matches. Sent as a complete query, it is run
// as written. The package runs it over the whole container with only the id to match, so with one id in several
// partitions (a workspace's budget counter is "budget:_workspace:{month}" in every workspace) another partition's
// item could satisfy it; Cosmos DB judges the target item alone, so the query is pinned to the item found (its _rid).
function caseKeptCondition(condition, target) {
  if (typeof condition !== "string") return condition;
  const where = /^\s*from\s+c\s+where\s+([\s\S]*)$/i.exec(condition);
  return where ? `SELECT * FROM c WHERE c.id = @id AND c._rid = ${JSON.stringify(target._rid)} AND (${where[1]})` : condition;
}

// Wrap a package handler so the target collection gets its expired items purged first.
const ttlAware = (handler) => (account, req, res, params) => {
  if (params.collId) collectionOf(account, params);
  return handler(account, req, res, params);
};

// A "do nothing clever" query plan: no ORDER BY / TOP / aggregate rewriting on
// the client, one full key range. The emulator has exactly one physical
// partition and evaluates the whole query itself, so the SDK's pass-through
// pipeline gives correct results for ORDER BY, TOP, aggregates, etc.
function queryPlan(res) {
  res.statusCode = 200;
  return {
    partitionedQueryExecutionInfoVersion: 2,
    queryInfo: {
      distinctType: "None",
      top: null,
      offset: null,
      limit: null,
      orderBy: [],
      orderByExpressions: [],
      groupByExpressions: [],
      groupByAliases: [],
      aggregates: [],
      groupByAliasToAggregateType: {},
      rewrittenQuery: "",
      hasSelectValue: false,
      dCountInfo: null,
      hasNonStreamingOrderBy: false,
    },
    queryRanges: [{ min: "", max: "FF", isMinInclusive: true, isMaxInclusive: false }],
  };
}

// The package's SQL engine (@zeit/cosmosdb-query 0.7.2) has no OFFSET/LIMIT and
// no DISTINCT. Emulate the common top-level forms: strip them from the SQL, run
// the rest unpaged, then apply DISTINCT -> TOP -> OFFSET/LIMIT here. Such
// queries return everything in a single page (no continuation token).
function splitUnsupportedClauses(sql, parameters) {
  const valueOf = (tok) => {
    if (/^\d+$/.test(tok)) return Number(tok);
    const p = (parameters || []).find((x) => x.name === tok);
    if (!p || typeof p.value !== "number") throw new Error(`OFFSET/LIMIT/TOP value ${tok} must be a number`);
    return p.value;
  };
  const post = {};
  let q = sql;
  const ol = /\s+OFFSET\s+(@?\w+)\s+LIMIT\s+(@?\w+)\s*$/i.exec(q);
  if (ol) {
    post.offset = valueOf(ol[1]);
    post.limit = valueOf(ol[2]);
    q = q.slice(0, ol.index);
  }
  const d = /^\s*SELECT\s+DISTINCT\s+/i.exec(q);
  if (d) {
    post.distinct = true;
    q = `SELECT ${q.slice(d[0].length)}`;
    const t = /^SELECT\s+TOP\s+(@?\w+)\s+/i.exec(q);
    if (t) {
      post.top = valueOf(t[1]);
      q = `SELECT ${q.slice(t[0].length)}`;
    }
  }
  return Object.keys(post).length ? { sql: q, post } : null;
}

function canonicalJson(v) {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(",")}]`;
  if (v && typeof v === "object") {
    return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson(v[k])}`).join(",")}}`;
  }
  return JSON.stringify(v === undefined ? null : v);
}

function applyPost(rows, post) {
  let out = rows;
  if (post.distinct) {
    const seen = new Set();
    out = out.filter((r) => {
      const k = canonicalJson(r);
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    });
  }
  if (post.top !== undefined) out = out.slice(0, post.top);
  if (post.offset !== undefined) out = out.slice(post.offset, post.offset + post.limit);
  return out;
}

const trueHeader = (req, name) => String(req.headers[name] || "").toLowerCase() === "true";

// POST docs (query). Differences from the package:
//  * answers the SDK's gateway query-plan request (x-ms-cosmos-is-query-plan-request) with queryPlan();
//  * scopes the query to the x-ms-documentdb-partitionkey header when one is sent
//    (the package ignored it and rejected queries whose text lacks a partition-key filter);
//  * skips expired (TTL) items.
async function queryDocuments(account, req, res, params) {
  return readItems(req, res, "Documents", async ({ continuation, maxItemCount }) => {
    const body = await readJson(req);
    if (trueHeader(req, "x-ms-cosmos-is-query-plan-request")) return queryPlan(res);
    if (!body || !body.query) return badRequest(res, "missing query");
    const collection = collectionOf(account, params);
    if (!collection.read()) return null; // -> 404
    const docs = collection.documents;
    const pk = clientPartitionKey(req);
    let data = [...docs._data.values()].map((i) => i.read());
    if (pk.value !== undefined) data = data.filter((d) => docs._getPartition(d) === pk.value);
    const props = collection.read();
    const compositeIndexes = (props.indexingPolicy && props.indexingPolicy.compositeIndexes) || [];
    try {
      const split = splitUnsupportedClauses(body.query, body.parameters);
      const options = { parameters: body.parameters, udf: docs._userDefinedFunctions(), compositeIndexes };
      if (split) {
        const all = docs._getQuery(split.sql).exec(data, { ...options, maxItemCount: null, continuation: null });
        return { result: applyPost(all.result, split.post) };
      }
      return docs._getQuery(body.query).exec(data, { ...options, maxItemCount, continuation });
    } catch (err) {
      if (err instanceof QuerySyntaxError) throw err; // _read-items maps the parser's SyntaxError to 400
      res.statusCode = 400;
      return { code: "BadRequest", message: err.message };
    }
  });
}

// TransactionalBatch / bulk: the .NET SDK encodes batch bodies in the binary
// HybridRow format, which the package (JSON only) cannot parse. Fail clearly.
function batchUnsupported(account, req, res) {
  res.statusCode = 400;
  return {
    code: "BadRequest",
    message: "cosmos emulator: TransactionalBatch / AllowBulkExecution (HybridRow batch bodies) are not supported",
  };
}

const DOC = "/dbs/:dbId/colls/:collId/docs/:docId";
const DOCS = "/dbs/:dbId/colls/:collId/docs";
const overrides = createRouter({
  GET: { [DOC]: readDocument },
  PATCH: { [DOC]: patchDocument },
  POST_QUERY: { [DOCS]: queryDocuments },
  POST_BATCH: { [DOCS]: batchUnsupported },
});
const ttlRoutes = createRouter({
  PUT: { [DOC]: true },
  DELETE: { [DOC]: true },
  POST: { [DOCS]: true },
  POST_UPSERT: { [DOCS]: true },
  GET: { [DOCS]: true },
});

// index.js looks up `routes.default(req)` at request time, so replacing the
// export is enough to put our handlers in front of the package's.
const originalRoute = routesModule.default;
routesModule.default = (req) => {
  const mine = overrides(req);
  if (mine) return mine;
  const found = originalRoute(req);
  if (found && ttlRoutes(req)) return [found[0], ttlAware(found[1])];
  return found;
};

// ---------------------------------------------------------------------------
// Start
// ---------------------------------------------------------------------------
function parsePort() {
  const args = process.argv.slice(2);
  let raw;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--port" || args[i] === "-p") raw = args[++i];
    else if (/^\d+$/.test(args[i])) raw = args[i];
  }
  if (raw === undefined) raw = process.env.COSMOS_EMULATOR_PORT;
  if (raw === undefined || raw === "") return 8081;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`[cosmos-emulator] invalid port: ${raw}\n`);
    process.exit(2);
  }
  return port;
}

const port = parsePort();
const { key, cert, source } = makeCertificate();
const server = createHttpsServer({ key, cert, keepAlive: true });
// Keep idle keep-alive connections longer than any client pool would (.NET
// closes idle pooled connections after 1-2 min), so the client side closes first.
server.keepAliveTimeout = 10 * 60 * 1000;

if (LOG) {
  let connections = 0;
  server.on("secureConnection", () => log(`tls connection #${++connections} opened`));
  server.prependListener("request", (req, res) => {
    const t0 = process.hrtime.bigint();
    res.on("finish", () => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      const flags = ["x-ms-cosmos-is-query-plan-request", "x-ms-documentdb-isquery", "x-ms-documentdb-is-upsert", "x-ms-cosmos-is-batch-request"]
        .filter((h) => req.headers[h]).map((h) => h.replace(/^x-ms-(cosmos-|documentdb-)?/, "")).join(",");
      log(req.method, req.url, res.statusCode, `${ms.toFixed(2)}ms`, flags,
        req.headers["x-ms-documentdb-partitionkey"] ? `pk=${req.headers["x-ms-documentdb-partitionkey"]}` : "");
    });
  });
}

let stopping = false;
function shutdown(reason) {
  if (stopping) return;
  stopping = true;
  log("shutting down:", reason);
  server.close(() => process.exit(0));
  if (server.closeAllConnections) server.closeAllConnections();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on("SIGTERM", () => shutdown("SIGTERM"));
process.on("SIGINT", () => shutdown("SIGINT"));
process.on("SIGHUP", () => shutdown("SIGHUP"));

function watchStdin() {
  const mode = process.env.COSMOS_EMULATOR_WATCH_STDIN;
  let watch;
  if (mode === "1") watch = true;
  else if (mode === "0") watch = false;
  else {
    try {
      const st = fs.fstatSync(0);
      watch = st.isFIFO() || st.isSocket(); // a parent holds our stdin; /dev/null or a TTY is not watched
    } catch { watch = false; }
  }
  if (!watch) return;
  process.stdin.on("end", () => shutdown("stdin closed"));
  process.stdin.on("close", () => shutdown("stdin closed"));
  process.stdin.on("error", () => shutdown("stdin error"));
  process.stdin.resume(); // discard anything written to us
}

server.on("error", (err) => {
  process.stderr.write(`[cosmos-emulator] ${err.message}\n`);
  process.exit(1);
});

server.listen(port, "127.0.0.1", () => {
  const actual = server.address().port;
  log(`listening on 127.0.0.1:${actual}, certificate: ${source}`);
  process.stdout.write(`COSMOS_EMULATOR_READY https://127.0.0.1:${actual}/\n`);
  watchStdin();
});
