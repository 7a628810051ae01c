// The package as a user gets it: `npm pack` (of the built dist/) makes a tarball that installs offline into an empty
// folder, brings no dependency along, imports as "@killtoken/sdk", and ships types a strict TypeScript project checks
// against. Needs no gateway.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const sdkFolder = fileURLToPath(new URL("..", import.meta.url));

/** Runs a command; resolves to its stdout, or fails the test with everything it wrote. */
function run(command, args, cwd) {
  return new Promise((resolve, reject) => {
    execFile(command, args, { cwd, env: { ...process.env, npm_config_update_notifier: "false" }, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${command} ${args.join(" ")} in ${cwd} failed (${error.code}):\n${stdout}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

describe("npm pack", { timeout: 180_000 }, () => {
  let work;
  let packed;
  let app;
  after(() => work && rm(work, { recursive: true, force: true }));

  test("packs dist/ with its types and the package.json, and no tests or node_modules", async () => {
    work = await mkdtemp(join(tmpdir(), "killtoken-sdk-pack-"));
    // dist/ was just built by the harness (npm run build); scripts are skipped so the JSON report is all that is printed.
    [packed] = JSON.parse(await run("npm", ["pack", "--json", "--ignore-scripts", "--pack-destination", work], sdkFolder));

    assert.equal(packed.name, "@killtoken/sdk");
    const files = packed.files.map((f) => f.path);
    for (const file of ["package.json", "dist/index.js", "dist/index.d.ts"]) assert.ok(files.includes(file), `${file} is in the tarball: ${files.join(", ")}`);
    assert.ok(!files.some((f) => f.startsWith("test/") || f.startsWith("node_modules/")), `no tests or node_modules: ${files.join(", ")}`);
    assert.ok(existsSync(join(work, packed.filename)));
  });

  test("installs offline into an empty folder, with no dependency of its own", async () => {
    assert.ok(packed, "packed by the test before");
    app = join(work, "app");
    await mkdir(app);
    await writeFile(join(app, "package.json"), JSON.stringify({ name: "sdk-consumer", version: "1.0.0", private: true, type: "module" }));

    await run("npm", ["install", "--offline", "--no-audit", "--no-fund", "--loglevel=error", join(work, packed.filename)], app);

    const installed = join(app, "node_modules", "@killtoken", "sdk");
    assert.ok(existsSync(join(installed, "dist", "index.d.ts")), "the types were installed");
    const manifest = JSON.parse(await readFile(join(installed, "package.json"), "utf8"));
    assert.deepEqual(Object.keys(manifest.dependencies ?? {}), [], "no runtime dependencies");
    assert.equal(manifest.type, "module");
    const modules = (await readdir(join(app, "node_modules"))).filter((name) => !name.startsWith("."));
    assert.deepEqual(modules, ["@killtoken"], "nothing else came along");
  });

  test("imports by name in plain node: the client and every error class", async () => {
    assert.ok(app, "installed by the test before");
    await writeFile(join(app, "check.mjs"), `
      import { KillTokenClient, KillTokenError, KillTokenAPIError, KillTokenConnectionError, KillTokenTimeoutError } from "@killtoken/sdk";
      const client = new KillTokenClient({ baseUrl: "http://127.0.0.1:7071/", apiKey: "kt_live_packcheck0123456789abcdefghijklmn" });
      console.log(JSON.stringify({
        baseUrl: client.baseUrl,
        chat: typeof client.chat, chatStream: typeof client.chatStream,
        requests: [typeof client.requests.list, typeof client.requests.get, typeof client.requests.all],
        credentials: ["list", "get", "create", "update", "delete", "test"].map((m) => typeof client.providerCredentials[m]),
        reads: [typeof client.summary, typeof client.roi, typeof client.exports.requestsCsv, typeof client.exports.analytics],
        chain: [
          KillTokenAPIError.prototype instanceof KillTokenError,
          KillTokenConnectionError.prototype instanceof KillTokenError,
          KillTokenTimeoutError.prototype instanceof KillTokenConnectionError,
          KillTokenError.prototype instanceof Error,
        ],
      }));
    `);

    const report = JSON.parse(await run(process.execPath, ["check.mjs"], app));

    assert.equal(report.baseUrl, "http://127.0.0.1:7071");
    assert.equal(report.chat, "function");
    assert.equal(report.chatStream, "function");
    assert.deepEqual(report.requests, ["function", "function", "function"]);
    assert.deepEqual(report.credentials, Array(6).fill("function"));
    assert.deepEqual(report.reads, Array(4).fill("function"));
    assert.deepEqual(report.chain, [true, true, true, true]);
  });

  test("its .d.ts types a strict TypeScript consumer (module nodenext; DOM lib, or Node's types), and catch what is wrong", async () => {
    assert.ok(app, "installed by the test before");
    const tsc = join(sdkFolder, "node_modules", ".bin", "tsc");
    assert.ok(existsSync(tsc), "typescript is installed in sdk/js (npm ci)");
    await writeFile(join(app, "tsconfig.json"), JSON.stringify({
      compilerOptions: { strict: true, noEmit: true, target: "es2022", module: "nodenext", moduleResolution: "nodenext", lib: ["es2022", "dom"], types: [], skipLibCheck: false },
      files: ["check.ts"],
    }));
    await writeFile(join(app, "check.ts"), `
      import { KillTokenClient, KillTokenAPIError, KillTokenTimeoutError } from "@killtoken/sdk";

      const client = new KillTokenClient({ baseUrl: "http://localhost:7071", apiKey: "kt_live_x", timeoutMs: 5000, maxRetries: 1 });

      export async function main(signal: AbortSignal): Promise<string> {
        const result = await client.chat(
          { provider: "openai", model: "gpt-4o", messages: [{ role: "user", content: "hi" }], idempotencyKey: "k", cachePolicy: { exactCache: "read_write" } },
          { signal, timeoutMs: 1000 });
        const requestId: string = result.metrics.requestId;
        const tokens: number = result.metrics.inputTokens;
        const stream = await client.chatStream({ provider: "openai", model: "gpt-4o", messages: [{ role: "user", content: "hi" }] }, { signal });
        for await (const event of stream) {
          if (event.type === "metrics") {
            const out: number = event.metrics.outputTokens;
            void out;
          }
        }
        const page = await client.requests.list({ limit: 10 });
        const next: string | null | undefined = page.nextCursor;
        const csv: string = await client.exports.requestsCsv({ feature: "support" });
        const credentials = await client.providerCredentials.list();
        const first: string | undefined = credentials[0]?.id;
        try {
          await client.summary({});
        } catch (error) {
          if (error instanceof KillTokenAPIError) {
            const status: number = error.status;
            const code: string | null = error.code;
            void status; void code;
          } else if (error instanceof KillTokenTimeoutError) {
            return "timeout";
          }
        }
        return [requestId, tokens, next, csv, first].join();
      }

      // @ts-expect-error apiKey is required
      new KillTokenClient({ baseUrl: "http://localhost:7071" });
    `);

    await run(tsc, ["-p", "."], app);

    // A Node-only project: no DOM lib, Node's own types (the SDK's @types/node, as a consumer would install it). Its
    // skipLibCheck is for @types/node 20's own clash with TypeScript 7's lib; check.ts is still checked in full.
    await writeFile(join(app, "tsconfig.node.json"), JSON.stringify({
      compilerOptions: {
        strict: true, noEmit: true, target: "es2022", module: "nodenext", moduleResolution: "nodenext", lib: ["es2022"],
        types: ["node"], typeRoots: [join(sdkFolder, "node_modules", "@types")], skipLibCheck: true,
      },
      files: ["check.ts"],
    }));
    await run(tsc, ["-p", "tsconfig.node.json"], app);
  });
});
