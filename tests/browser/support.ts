/**
 * @fileoverview Helpers for the browser test: transpile the runtime's module graph from source
 * (checking it for Node-only imports), write it where Node can import it, and serve it, the
 * compiled model and a test page from a tiny node:http server.
 */
import { existsSync, readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { isBuiltin } from "node:module";
import type { AddressInfo } from "node:net";
import { dirname, join, posix, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** Free identifiers that only exist in Node (or CommonJS). */
const NODE_GLOBALS = new Set(["process", "Buffer", "require", "__dirname", "__filename", "setImmediate"]);

export interface ModuleGraph {
  /** Served path ("/runtime/index.js") -> JavaScript. */
  files: Map<string, string>;
  /** Every problem that would stop the graph from loading in a browser, with its import chain. */
  problems: string[];
}

/**
 * Transpile `entries` (repo-relative .ts paths) and every module they import, following the
 * emitted JavaScript's imports (so type-only imports, which are erased, don't count). Each file
 * is emitted as tsc emits it for dist/ (ES2022, ESM, one file at a time), under "/<repo path>.js".
 */
export function transpileGraph(entries: string[]): ModuleGraph {
  const files = new Map<string, string>();
  const problems: string[] = [];
  const queue: Array<{ path: string; chain: string[] }> = entries.map((path) => ({ path, chain: [path] }));
  const seen = new Set<string>();
  while (queue.length > 0) {
    const { path, chain } = queue.shift()!;
    if (seen.has(path)) continue;
    seen.add(path);
    const source = readFileSync(join(REPO, path), "utf8");
    const out = path.endsWith(".ts")
      ? ts.transpileModule(source, {
          fileName: path,
          reportDiagnostics: true,
          compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext, isolatedModules: true, sourceMap: false },
        })
      : { outputText: source, diagnostics: [] };
    for (const d of out.diagnostics ?? []) {
      problems.push(`${chain.join(" -> ")}: ${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`);
    }
    const jsPath = path.replace(/\.ts$/, ".js");
    files.set("/" + jsPath, out.outputText);
    problems.push(...nodeGlobalUses(out.outputText, jsPath).map((use) => `${chain.join(" -> ")} uses ${use}`));

    for (const { fileName: spec } of ts.preProcessFile(out.outputText, true, true).importedFiles) {
      const via = [...chain, spec].join(" -> ");
      if (spec.startsWith("node:") || isBuiltin(spec)) {
        problems.push(`${via}: Node-only module '${spec}' (the runtime must not import Node modules)`);
      } else if (spec.startsWith("./") || spec.startsWith("../")) {
        const target = posix.normalize(posix.join(posix.dirname(path), spec));
        const ts_ = target.replace(/\.js$/, ".ts");
        if (target.endsWith(".js") && existsSync(join(REPO, ts_))) queue.push({ path: ts_, chain: [...chain, ts_] });
        else if (existsSync(join(REPO, target))) queue.push({ path: target, chain: [...chain, target] });
        else problems.push(`${via}: cannot resolve '${spec}' (browsers need the full file name, e.g. './x.js')`);
      } else {
        problems.push(`${via}: bare specifier '${spec}' cannot be loaded by a browser without a bundler`);
      }
    }
  }
  return { files, problems };
}

/** Free (unbound, non-property) uses of Node globals in emitted JavaScript. */
function nodeGlobalUses(js: string, path: string): string[] {
  const file = ts.createSourceFile(path, js, ts.ScriptTarget.ES2022, true, ts.ScriptKind.JS);
  const uses: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isIdentifier(node) && NODE_GLOBALS.has(node.text)) {
      const parent = node.parent;
      const isMemberName =
        (ts.isPropertyAccessExpression(parent) && parent.name === node) ||
        (ts.isPropertyAssignment(parent) && parent.name === node) ||
        ((ts.isMethodDeclaration(parent) || ts.isPropertyDeclaration(parent)) && parent.name === node);
      const guarded = ts.isTypeOfExpression(parent);
      if (!isMemberName && !guarded) {
        const { line } = file.getLineAndCharacterOfPosition(node.getStart());
        uses.push(`Node global '${node.text}' (${path}:${line + 1})`);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return uses;
}

/** Write a graph's files under `dir` (same layout as served), so Node can import them. */
export async function writeGraph(graph: ModuleGraph, dir: string): Promise<void> {
  for (const [path, text] of graph.files) {
    const target = join(dir, path);
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, text);
  }
}

export interface Asset {
  type: string;
  body: string | Uint8Array;
}

export interface StaticServer {
  url: string;
  /** Requests answered 404 (or failed), for the test to report. */
  misses: string[];
  close(): Promise<void>;
}

/**
 * Serve `assets` (exact paths) on 127.0.0.1 at a random port; everything else is a 404.
 * `headers` go on every answer (e.g. COOP/COEP for a cross-origin isolated page).
 */
export async function serve(assets: Map<string, Asset>, headers: Record<string, string> = {}): Promise<StaticServer> {
  const misses: string[] = [];
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    const asset = assets.get(path);
    if (!asset || req.method !== "GET") {
      if (path !== "/favicon.ico") misses.push(`${req.method} ${path}`);
      res.writeHead(path === "/favicon.ico" ? 204 : 404, { "cache-control": "no-store" });
      res.end();
      return;
    }
    res.writeHead(200, { ...headers, "content-type": asset.type, "cache-control": "no-store" });
    res.end(asset.body);
  });
  await new Promise<void>((ok, fail) => {
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => ok());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    misses,
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}

export const JS = "text/javascript; charset=utf-8";
