/**
 * @fileoverview The playground test's setup: the static site built with Vite from
 * playground/vite.config.ts into a directory, and a static server for a directory that sends the
 * cross-origin isolation headers (as docs/playground.md asks of any host).
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { extname, join, relative } from "node:path";
import { build } from "vite";
import { REPO, serve, type Asset, type StaticServer } from "../browser/support.js";

/** The headers the dev server and `vite preview` send (playground/isolation-headers.json). */
export const ISOLATION: Record<string, string> = JSON.parse(readFileSync(join(REPO, "playground", "isolation-headers.json"), "utf8"));

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".wasm": "application/wasm",
  ".gz": "application/gzip",
};

/** Builds the playground into `outDir` (what `npm run playground:build` writes to build/playground). */
export async function buildSite(outDir: string): Promise<void> {
  await build({
    configFile: join(REPO, "playground", "vite.config.ts"),
    logLevel: "warn",
    build: { outDir, emptyOutDir: true },
  });
}

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

/** Serves every file under `dir` (index.html at "/") with `headers`. */
export function serveDirectory(dir: string, headers: Record<string, string>): Promise<StaticServer> {
  const assets = new Map<string, Asset>();
  for (const path of files(dir)) {
    const url = "/" + relative(dir, path).split("\\").join("/");
    const asset = { type: TYPES[extname(path)] ?? "application/octet-stream", body: readFileSync(path) };
    assets.set(url, asset);
    if (url === "/index.html") assets.set("/", asset);
  }
  return serve(assets, headers);
}
