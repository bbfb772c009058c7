/**
 * @fileoverview Vite settings of the playground: `npm run playground` (dev server) and
 * `npm run playground:build` (a static site in build/playground). Both serve the page
 * cross-origin isolated (COOP/COEP below), which gives the runtime shared memory: threads,
 * and training that stops at a step boundary (docs/playground.md).
 */
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";
import { digitsPlugin } from "./tools/digits-asset.js";
// The headers that make a page cross-origin isolated (`crossOriginIsolated`, SharedArrayBuffer);
// data, shared with the playground test's server.
import ISOLATION_HEADERS from "./isolation-headers.json" with { type: "json" };

export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  // Relative URLs: the built site works from any folder of any static host.
  base: "./",
  plugins: [digitsPlugin()],
  server: { headers: ISOLATION_HEADERS, fs: { allow: [fileURLToPath(new URL("..", import.meta.url))] } },
  preview: { headers: ISOLATION_HEADERS },
  // Module workers: the runtime loads its kernel library with a dynamic import inside the worker.
  worker: { format: "es" },
  build: {
    outDir: fileURLToPath(new URL("../build/playground", import.meta.url)),
    emptyOutDir: true,
    target: "es2022",
    chunkSizeWarningLimit: 1024,
  },
});
