/**
 * @fileoverview The runtime in a real browser: examples/mnist-dense.cond is compiled here, and
 * headless Chromium loads it with the runtime's own ES modules (no bundler), runs init, predict,
 * one trainStep, predict, save and load; Node runs the same code on the same inputs, and the two
 * must agree bit for bit (probabilities, loss, checkpoint bytes).
 *
 * The runtime is transpiled from runtime/*.ts at test time (tests/browser/support.ts) rather than
 * taken from dist/: dist/ may be stale after source edits under a plain `npx vitest run`, and
 * running `tsc` here would rewrite dist/ under other test files running in parallel (and fail on
 * any unrelated type error in the tree). The emitted module graph is the one tsc writes to
 * dist/runtime (same target, ESM, one file at a time); it is checked for Node-only imports and
 * globals, served to the page, and imported by Node from a temp copy, so both engines run the
 * same JavaScript.
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
import type { CaseResult } from "./case.js";
import { JS, REPO, serve, transpileGraph, writeGraph, type Asset, type ModuleGraph, type StaticServer } from "./support.js";

// Node 20 has relaxed SIMD behind a flag; it must be set before any wasm is compiled.
v8.setFlagsFromString("--experimental-wasm-relaxed-simd");

const CHROMIUM = process.env["CONDC_CHROMIUM"] ?? "/usr/bin/chromium";
const HAVE_CHROMIUM = existsSync(CHROMIUM);
const SKIP_REASON = HAVE_CHROMIUM ? "" : ` [SKIPPED: ${CHROMIUM} not found; install it with apt-get install chromium]`;
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
];
const MAX_BATCH = 16;
const TIMEOUT = 60_000;

const PAGE_HTML = `<!doctype html>
<html><head><meta charset="utf-8"><title>condc browser test</title></head>
<body><p>condc browser test: the test drives this page through page.evaluate.</p></body></html>
`;

/** The runtime's module graph plus the two test modules, all transpiled the same way. */
function buildGraph(): ModuleGraph {
  return transpileGraph(["runtime/index.ts", "tests/browser/case.ts", "tests/browser/page.ts"]);
}

describe("browser runtime module graph", () => {
  it("runtime/index has no Node-only imports or globals (it is imported by browsers as is)", () => {
    const { files, problems } = transpileGraph(["runtime/index.ts"]);
    expect(files.has("/runtime/index.js")).toBe(true);
    expect(files.has("/runtime/model.js")).toBe(true);
    if (problems.length > 0) {
      throw new Error(`the runtime's import graph cannot load in a browser:\n  ${problems.join("\n  ")}`);
    }
  });

  it("the check reports Node-only imports, bare specifiers and Node globals with their import chain", () => {
    const { problems } = transpileGraph(["tests/browser/fixtures/node-leak/index.ts"]);
    const chain = "tests/browser/fixtures/node-leak/index.ts -> tests/browser/fixtures/node-leak/inner.ts";
    expect(problems).toEqual([
      `${chain} uses Node global 'Buffer' (tests/browser/fixtures/node-leak/inner.js:5)`,
      `${chain} -> node:fs: Node-only module 'node:fs' (the runtime must not import Node modules)`,
      `${chain} -> some-package: bare specifier 'some-package' cannot be loaded by a browser without a bundler`,
    ]);
  });
});

interface PageResult {
  userAgent: string;
  picked: string;
  validates: boolean;
  inputsSha: string;
  loss: number;
  saveSha: string;
  before: string;
  after: string;
  reloaded: string;
  save: string;
}

describe.skipIf(!HAVE_CHROMIUM)(`runtime in headless Chromium${SKIP_REASON}`, () => {
  let tmp: string | undefined;
  let server: StaticServer | undefined;
  let browser: Browser | undefined;
  let page: Page | undefined;
  const pageErrors: string[] = [];
  let plain: Uint8Array;
  let relaxed: Uint8Array;
  let manifest: Manifest;
  let nodeLoadModel: (wasm: Uint8Array, manifest: Manifest) => Promise<any>;
  let nodeRunCase: (loadModel: unknown, wasm: Uint8Array, manifest: Manifest) => Promise<CaseResult>;

  beforeAll(async () => {
    const file = "examples/mnist-dense.cond";
    const compiled = await compile(readFileSync(join(REPO, file), "utf8"), { file, maxBatch: MAX_BATCH, simd: "both" });
    if (!compiled.ok) throw new Error(`${file} did not compile: ${JSON.stringify(compiled.diagnostics)}`);
    plain = compiled.wasm;
    relaxed = compiled.relaxedWasm!;
    manifest = compiled.manifest;

    const graph = buildGraph();
    if (graph.problems.length > 0) throw new Error(`module graph problems:\n  ${graph.problems.join("\n  ")}`);
    tmp = await mkdtemp(join(tmpdir(), "condc-browser-"));
    await writeGraph(graph, tmp);
    nodeLoadModel = (await import(/* @vite-ignore */ pathToFileURL(join(tmp, "runtime/index.js")).href)).loadModel;
    nodeRunCase = (await import(/* @vite-ignore */ pathToFileURL(join(tmp, "tests/browser/case.js")).href)).runCase;

    const assets = new Map<string, Asset>();
    for (const [path, text] of graph.files) assets.set(path, { type: JS, body: text });
    assets.set("/", { type: "text/html; charset=utf-8", body: PAGE_HTML });
    assets.set("/model/plain.wasm", { type: "application/wasm", body: plain });
    assets.set("/model/relaxed.wasm", { type: "application/wasm", body: relaxed });
    assets.set("/model/manifest.json", { type: "application/json", body: JSON.stringify(manifest) });
    server = await serve(assets);

    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: TIMEOUT });
    page = await browser.newPage();
    page.on("console", (message) => {
      if (message.type() === "error") pageErrors.push(`console.error: ${message.text()}`);
    });
    page.on("pageerror", (error) => pageErrors.push(`page error: ${error.message}`));
    page.on("crash", () => pageErrors.push("the page crashed"));
    page.on("requestfailed", (request) => pageErrors.push(`request failed: ${request.url()} ${request.failure()?.errorText ?? ""}`));
    await page.goto(server.url + "/", { timeout: TIMEOUT });
  }, 2 * TIMEOUT);

  afterAll(async () => {
    await page?.close().catch(() => undefined);
    await browser?.close().catch(() => undefined);
    await server?.close();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  /** Runs the case in the page; fails with every page error and 404 seen so far. */
  async function inPage(variant: "plain" | "relaxed"): Promise<PageResult> {
    let result: PageResult | undefined;
    let thrown: unknown;
    try {
      result = await page!.evaluate(`import("/tests/browser/page.js").then((m) => m.runInPage(${JSON.stringify(variant)}))`);
    } catch (error) {
      thrown = error;
    }
    // Taken (and cleared) per call, so each test reports only its own errors.
    const problems = [...pageErrors.splice(0), ...server!.misses.splice(0).map((m) => `404: ${m}`)];
    if (thrown !== undefined || problems.length > 0) {
      throw new Error(`the page failed (${variant}): ${thrown instanceof Error ? thrown.message : String(thrown ?? "")}\n  ${problems.join("\n  ")}`);
    }
    return result!;
  }

  function decode(b64: string): Buffer {
    return Buffer.from(b64, "base64");
  }

  function expectSameBytes(what: string, browserBytes: Buffer, nodeBytes: Uint8Array): void {
    const node = Buffer.from(nodeBytes.buffer, nodeBytes.byteOffset, nodeBytes.byteLength);
    expect(browserBytes.length, `${what}: length`).toBe(node.length);
    if (!browserBytes.equals(node)) {
      let first = 0;
      while (browserBytes[first] === node[first]) first++;
      throw new Error(`${what}: Chromium and Node differ, first at byte ${first} of ${node.length}`);
    }
  }

  function maxAbsDiff(a: Buffer, b: Uint8Array): number {
    const x = new Float32Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
    const y = new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
    let worst = 0;
    for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i]! - y[i]!));
    return worst;
  }

  it("the page sees the modules and picks the relaxed build (Chromium has relaxed SIMD)", async () => {
    const result = await inPage("plain");
    expect(result.userAgent).toMatch(/Chrom/);
    expect(result.picked).toBe("relaxed");
  }, TIMEOUT);

  it("plain SIMD: predict, trainStep, save and load are bit-identical in Chromium and Node", async () => {
    const browserResult = await inPage("plain");
    const nodeResult = await nodeRunCase(nodeLoadModel, plain, manifest);
    expect(browserResult.validates).toBe(true);
    expect(nodeResult.validates).toBe(true);
    expect(browserResult.inputsSha).toBe(nodeResult.inputsSha);

    expect(Number.isFinite(nodeResult.loss) && nodeResult.loss > 0).toBe(true);
    expectSameBytes("probabilities after init", decode(browserResult.before), nodeResult.before);
    expect(Object.is(browserResult.loss, nodeResult.loss), `loss: Chromium ${browserResult.loss}, Node ${nodeResult.loss}`).toBe(true);
    expectSameBytes("probabilities after one trainStep", decode(browserResult.after), nodeResult.after);
    expectSameBytes("save() bytes", decode(browserResult.save), nodeResult.save);
    expect(browserResult.saveSha).toBe(nodeResult.saveSha);
    // load(save()) restores the trained model exactly, in both engines.
    expectSameBytes("probabilities after load(save()) in Chromium", decode(browserResult.reloaded), nodeResult.after);
    expectSameBytes("probabilities after load(save()) in Node", Buffer.from(nodeResult.reloaded), nodeResult.after);
    // The step changed the model.
    expect(Buffer.from(nodeResult.after).equals(Buffer.from(nodeResult.before))).toBe(false);
  }, TIMEOUT);

  it("relaxed SIMD: identical in Chromium and Node when both validate it", async () => {
    const browserResult = await inPage("relaxed");
    const nodeResult = await nodeRunCase(nodeLoadModel, relaxed, manifest);
    expect(browserResult.validates, "Chromium rejects the relaxed-SIMD build").toBe(true);
    if (!nodeResult.validates) {
      console.warn("relaxed SIMD: Node does not validate the relaxed build; compared nothing");
      return;
    }
    expect(browserResult.inputsSha).toBe(nodeResult.inputsSha);
    // Same V8 lowering of relaxed_madd (FMA where the CPU has it) in both engines on one machine,
    // so the results are expected to be identical, not just close.
    expectSameBytes("relaxed: probabilities after init", decode(browserResult.before), nodeResult.before);
    expect(Object.is(browserResult.loss, nodeResult.loss), `relaxed loss: Chromium ${browserResult.loss}, Node ${nodeResult.loss}`).toBe(true);
    expectSameBytes("relaxed: probabilities after one trainStep", decode(browserResult.after), nodeResult.after);
    expectSameBytes("relaxed: save() bytes", decode(browserResult.save), nodeResult.save);
    expectSameBytes("relaxed: probabilities after load(save())", decode(browserResult.reloaded), nodeResult.after);
    // For the record: whether the relaxed build really differs from the plain one here (it does
    // where the engine lowers relaxed_madd to an FMA instruction, e.g. x86-64 with FMA3).
    const plainResult = await nodeRunCase(nodeLoadModel, plain, manifest);
    const fused = !Buffer.from(plainResult.after).equals(Buffer.from(nodeResult.after));
    console.info(
      `relaxed SIMD: Chromium == Node bit for bit; relaxed vs plain after one step: ` +
        (fused ? `differ (FMA in use), max |diff| ${maxAbsDiff(Buffer.from(plainResult.after), nodeResult.after)}` : "identical (no FMA here)"),
    );
  }, TIMEOUT);
});
