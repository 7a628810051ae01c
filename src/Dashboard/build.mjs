// Bundles the dashboard into dist/: app.js (the app, Preact and Chart.js), app.css and index.html. The .NET build of
// src/Api runs this when dist/ is missing or older than the sources, and embeds dist/ in KillToken.Api.dll.
import { build } from "esbuild";
import { copyFile, mkdir, rm } from "node:fs/promises";

const outdir = new URL("./dist/", import.meta.url);
await rm(outdir, { recursive: true, force: true });
await mkdir(outdir, { recursive: true });
await build({
  entryPoints: { app: "src/main.tsx" },
  bundle: true,
  format: "esm",
  target: "es2022",
  minify: true,
  legalComments: "linked",
  jsx: "automatic",
  jsxImportSource: "preact",
  outdir: "dist",
  logLevel: "warning",
});
await build({ entryPoints: { app: "src/styles.css" }, bundle: true, minify: true, outdir: "dist", logLevel: "warning" });
for (const file of ["index.html", "favicon.svg"]) await copyFile(new URL(`./src/${file}`, import.meta.url), new URL(file, outdir));
