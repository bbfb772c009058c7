#!/usr/bin/env node
// Bundles the condc command (cli/main.ts and everything it imports, Chevrotain included) into one
// file (plus chunks: dist/cli-bundle/main.js), and the compiler's public API (compiler/index.ts: what `import ... from
// "condc"` gives) into dist/compiler.bundle.mjs, so that a command or an app's first compile
// starts in tens of milliseconds: loading Chevrotain's hundreds of modules one by one costs more
// than compiling a model. bin/condc.js uses the CLI bundle when it exists and dist/cli/main.js
// otherwise. Run by `npm run build` after the kernels and tsc.
import { build } from "esbuild";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
await build({
  entryPoints: [join(root, "cli", "main.ts")],
  outdir: join(root, "dist", "cli-bundle"),
  // Each command is loaded when run: split so that check and inspect load the front end only.
  splitting: true,
  chunkNames: "chunk-[hash]",
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  // The data packages are read as files next to their package.json, and Dawn (webgpu) is a native
  // module loaded only for --backend webgpu/auto: resolve them at run time.
  external: ["mnist", "webgpu"],
  minify: true,
  legalComments: "none",
  logLevel: "warning",
  banner: { js: "// condc command line, bundled by scripts/bundle-cli.mjs from cli/main.ts: do not edit." },
});
await build({
  entryPoints: [join(root, "compiler", "index.ts")],
  outfile: join(root, "dist", "compiler.bundle.mjs"),
  bundle: true,
  // No Node-only imports: the same file runs in Node and in browsers (through a bundler or not).
  platform: "neutral",
  mainFields: ["module", "main"],
  format: "esm",
  target: "es2022",
  minify: true,
  legalComments: "none",
  logLevel: "warning",
  banner: { js: "// condc compiler (import from \"condc\"), bundled by scripts/bundle-cli.mjs from compiler/index.ts: do not edit." },
});
