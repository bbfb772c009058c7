#!/usr/bin/env node
// Bundles the condc command (cli/main.ts and everything it imports, Chevrotain included) into one
// file, dist/condc.mjs, so that a command starts in tens of milliseconds: loading Chevrotain's
// hundreds of modules one by one costs more than checking a model. bin/condc.js uses the bundle
// when it exists and dist/cli/main.js otherwise. Run by `npm run build` after the kernels.
import { build } from "esbuild";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
await build({
  entryPoints: [join(root, "cli", "main.ts")],
  outfile: join(root, "dist", "condc.mjs"),
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  // The data packages are read as files next to their package.json: resolve them at run time.
  external: ["mnist"],
  minify: true,
  legalComments: "none",
  logLevel: "warning",
  banner: { js: "// condc command line, bundled by scripts/bundle-cli.mjs from cli/main.ts: do not edit." },
});
