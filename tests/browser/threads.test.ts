/**
 * @fileoverview Threads in a real browser. A page served with COOP/COEP (cross-origin isolated)
 * runs every browser-test model on 3 threads, every kernel call split (workers from Blob URLs,
 * the main thread spinning while it waits, as it may not block); a page without those headers
 * asks for 2 threads and gets one, with one console warning naming the two headers. Both give
 * the bits Node gives on one thread (probabilities, loss, checkpoint, the methods' observations).
 */
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import v8 from "node:v8";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compile } from "../../compiler/index.js";
import type { Manifest } from "../../runtime/index.js";
import type { CaseResult, Runtime } from "./case.js";
import { CASES } from "./models.js";
import { JS, REPO, serve, transpileGraph, writeGraph, type Asset, type StaticServer } from "./support.js";

v8.setFlagsFromString("--experimental-wasm-relaxed-simd");

const CHROMIUM = process.env["CONDC_CHROMIUM"] ?? "/usr/bin/chromium";
const HAVE_CHROMIUM = existsSync(CHROMIUM);
const SKIP_REASON = HAVE_CHROMIUM ? "" : ` [SKIPPED: ${CHROMIUM} not found; install it with apt-get install chromium]`;
const TIMEOUT = 60_000;
const ISOLATION = { "cross-origin-opener-policy": "same-origin", "cross-origin-embedder-policy": "require-corp" };
const PAGE_HTML = "<!doctype html><meta charset=utf-8><title>condc threads test</title>";

interface PageResult {
  threads: number;
  crossOriginIsolated: boolean;
  inputsSha: string;
  loss: number;
  before: string;
  after: string;
  reloaded: string;
  save: string;
  checks: Array<{ what: string; bytes: string }>;
}

describe.skipIf(!HAVE_CHROMIUM)(`threads in headless Chromium${SKIP_REASON}`, () => {
  let tmp: string | undefined;
  const servers: StaticServer[] = [];
  let browser: Browser | undefined;
  const pages = new Map<"isolated" | "plain", Page>();
  const messages = new Map<"isolated" | "plain", string[]>([["isolated", []], ["plain", []]]);
  const builds = new Map<string, { plain: Uint8Array; relaxed: Uint8Array; manifest: Manifest }>();
  let nodeRuntime: Runtime;
  let nodeRunCase: (runtime: Runtime, wasm: Uint8Array, manifest: Manifest, load?: object) => Promise<CaseResult>;

  beforeAll(async () => {
    for (const spec of CASES) {
      const text = spec.source ?? readFileSync(join(REPO, spec.file), "utf8");
      const compiled = await compile(text, { file: spec.file, maxBatch: 16, simd: "both" });
      if (!compiled.ok) throw new Error(`${spec.file} did not compile`);
      builds.set(spec.name, { plain: compiled.wasm, relaxed: compiled.relaxedWasm!, manifest: compiled.manifest });
    }
    const graph = transpileGraph(["runtime/index.ts", "tests/browser/case.ts", "tests/browser/page.ts"]);
    if (graph.problems.length > 0) throw new Error(`module graph problems:\n  ${graph.problems.join("\n  ")}`);
    tmp = await mkdtemp(join(tmpdir(), "condc-threads-browser-"));
    await writeGraph(graph, tmp);
    const load = (path: string) => import(/* @vite-ignore */ pathToFileURL(join(tmp!, path)).href);
    nodeRuntime = await load("runtime/index.js");
    nodeRunCase = (await load("tests/browser/case.js")).runCase;
    const assets = new Map<string, Asset>();
    for (const [path, text] of graph.files) assets.set(path, { type: JS, body: text });
    assets.set("/", { type: "text/html; charset=utf-8", body: PAGE_HTML });
    for (const [name, build] of builds) {
      assets.set(`/model/${name}/plain.wasm`, { type: "application/wasm", body: build.plain });
      assets.set(`/model/${name}/relaxed.wasm`, { type: "application/wasm", body: build.relaxed });
      assets.set(`/model/${name}/manifest.json`, { type: "application/json", body: JSON.stringify(build.manifest) });
    }
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"], timeout: TIMEOUT });
    for (const [name, headers] of [["isolated", ISOLATION], ["plain", {}]] as const) {
      const server = await serve(assets, headers);
      servers.push(server);
      const page = await browser.newPage();
      page.on("console", (message) => messages.get(name)!.push(`${message.type()}: ${message.text()}`));
      page.on("pageerror", (error) => messages.get(name)!.push(`pageerror: ${error.message}`));
      page.on("crash", () => messages.get(name)!.push("crash"));
      await page.goto(server.url + "/", { timeout: TIMEOUT });
      pages.set(name, page);
    }
  }, 2 * TIMEOUT);

  afterAll(async () => {
    await browser?.close().catch(() => undefined);
    for (const s of servers) await s.close();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  const inPage = (page: "isolated" | "plain", name: string, variant: "plain" | "relaxed", load: object): Promise<PageResult> =>
    pages.get(page)!.evaluate(`import("/tests/browser/page.js").then((m) => m.runInPage(${JSON.stringify(name)}, ${JSON.stringify(variant)}, ${JSON.stringify(load)}))`) as Promise<PageResult>;

  const b64 = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");

  function expectSame(label: string, browserResult: PageResult, node: CaseResult): void {
    expect(browserResult.inputsSha, `${label}: inputs`).toBe(node.inputsSha);
    expect(browserResult.checks.map((c) => c.what), `${label}: observations`).toEqual(node.checks.map((c) => c.what));
    node.checks.forEach((c, i) => expect(browserResult.checks[i]!.bytes, `${label}: ${c.what}`).toBe(b64(c.bytes)));
    expect(browserResult.before, `${label}: probabilities after init`).toBe(b64(node.before));
    expect(Object.is(browserResult.loss, node.loss), `${label}: loss ${browserResult.loss} vs ${node.loss}`).toBe(true);
    expect(browserResult.after, `${label}: probabilities after the step`).toBe(b64(node.after));
    expect(browserResult.save, `${label}: save() bytes`).toBe(b64(node.save));
    expect(browserResult.reloaded, `${label}: after load(save())`).toBe(b64(node.reloaded));
  }

  for (const { name } of CASES) {
    it(`${name}: a cross-origin isolated page runs it on 3 threads, every call split, with Node's one-thread bits`, async () => {
      const build = builds.get(name)!;
      const node = await nodeRunCase(nodeRuntime, build.plain, build.manifest, { threads: 1 });
      const result = await inPage("isolated", name, "plain", { threads: 3, split: "always" });
      expect(result.crossOriginIsolated).toBe(true);
      expect(result.threads).toBe(3);
      expectSame(`${name} isolated`, result, node);
    }, TIMEOUT);
  }

  it("dense, relaxed SIMD: 3 threads in the isolated page equal Node on one", async () => {
    const build = builds.get("dense")!;
    const node = await nodeRunCase(nodeRuntime, build.relaxed, build.manifest, { threads: 1 });
    const result = await inPage("isolated", "dense", "relaxed", { threads: 3, split: "always" });
    expect(result.threads).toBe(3);
    expectSame("dense relaxed isolated", result, node);
  }, TIMEOUT);

  it("a page without COOP/COEP runs on one thread, says so once naming both headers, and gives the same bits", async () => {
    for (const name of ["dense", "policy"]) {
      const build = builds.get(name)!;
      const node = await nodeRunCase(nodeRuntime, build.plain, build.manifest, { threads: 1 });
      const result = await inPage("plain", name, "plain", { threads: 2 });
      expect(result.crossOriginIsolated).toBe(false);
      expect(result.threads).toBe(1);
      expectSame(`${name} not isolated`, result, node);
    }
    const said = messages.get("plain")!.filter((m) => m.includes("condc: running on one thread"));
    expect(said).toHaveLength(1);
    expect(said[0]).toMatch(/^warning: condc: running on one thread instead of 2: this page is not cross-origin isolated/);
    expect(said[0]).toContain("Cross-Origin-Opener-Policy: same-origin");
    expect(said[0]).toContain("Cross-Origin-Embedder-Policy: require-corp");
    expect(messages.get("plain")!.filter((m) => m.startsWith("error") || m.startsWith("pageerror"))).toEqual([]);
  }, TIMEOUT);

  it("the isolated page logged no warning and no error", () => {
    expect(messages.get("isolated")!.filter((m) => !m.startsWith("info") && !m.startsWith("log") && !m.startsWith("debug"))).toEqual([]);
  });
});
