/**
 * @fileoverview The runtime in a real browser: examples/mnist-dense.cond and one small model per
 * conditional method (low-rank gate, tree layer, policy gate) are compiled here, and headless
 * Chromium loads each with the runtime's own ES modules (no bundler), runs init, predict, one
 * trainStep, predict, save and load, plus each method's runtime steps (tests/browser/case.ts);
 * Node runs the same code on the same inputs, and the two must agree bit for bit (probabilities,
 * loss, checkpoint bytes, the estimator's SVD, the sampled policy masks, the tree counters).
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
import type { CaseResult, Runtime } from "./case.js";
import { JS, REPO, serve, transpileGraph, writeGraph, type Asset, type ModuleGraph, type StaticServer } from "./support.js";
import { CASES } from "./models.js";

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

/** What the page and Node import: the runtime's entry (it exports the methods' runtime API too). */
const RUNTIME_ENTRIES = ["runtime/index.ts"];

/** The runtime's module graph plus the two test modules, all transpiled the same way. */
function buildGraph(): ModuleGraph {
  return transpileGraph([...RUNTIME_ENTRIES, "tests/browser/case.ts", "tests/browser/page.ts"]);
}

describe("browser runtime module graph", () => {
  it("runtime/index has no Node-only imports or globals (they are imported by browsers as is)", () => {
    const { files, problems } = transpileGraph(RUNTIME_ENTRIES);
    for (const file of ["runtime/index", "runtime/model", "methods/lowrank/runtime", "methods/policy/runtime", "methods/tree/runtime", "runtime/generated/kernels-plain"]) expect(files.has(`/${file}.js`), file).toBe(true);
    for (const file of files.keys()) expect(file, "the runtime must not load the compiler").not.toMatch(/^\/compiler/);
    if (problems.length > 0) {
      throw new Error(`the runtime's import graph cannot load in a browser:\n  ${problems.join("\n  ")}`);
    }
  });

  it("the page imports only the checked runtime entries (and case.ts)", () => {
    const page = transpileGraph(["tests/browser/page.ts"]).files;
    const checked = transpileGraph(RUNTIME_ENTRIES).files;
    const extra = [...page.keys()].filter((path) => !checked.has(path) && !path.startsWith("/tests/browser/"));
    expect(extra).toEqual([]);
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
  checks: Array<{ what: string; bytes: string }>;
}

interface Build {
  plain: Uint8Array;
  relaxed: Uint8Array;
  manifest: Manifest;
}

describe.skipIf(!HAVE_CHROMIUM)(`runtime in headless Chromium${SKIP_REASON}`, () => {
  let tmp: string | undefined;
  let server: StaticServer | undefined;
  let browser: Browser | undefined;
  let page: Page | undefined;
  const pageErrors: string[] = [];
  const builds = new Map<string, Build>();
  let nodeRuntime: Runtime;
  let nodeRunCase: (runtime: Runtime, wasm: Uint8Array, manifest: Manifest) => Promise<CaseResult>;

  beforeAll(async () => {
    for (const spec of CASES) {
      const text = spec.source ?? readFileSync(join(REPO, spec.file), "utf8");
      const compiled = await compile(text, { file: spec.file, maxBatch: MAX_BATCH, simd: "both" });
      if (!compiled.ok) throw new Error(`${spec.file} did not compile: ${JSON.stringify(compiled.diagnostics)}`);
      builds.set(spec.name, { plain: compiled.wasm, relaxed: compiled.relaxedWasm!, manifest: compiled.manifest });
    }

    const graph = buildGraph();
    if (graph.problems.length > 0) throw new Error(`module graph problems:\n  ${graph.problems.join("\n  ")}`);
    tmp = await mkdtemp(join(tmpdir(), "condc-browser-"));
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

  /** Runs a case in the page; fails with every page error and 404 seen so far. */
  async function inPage(name: string, variant: "plain" | "relaxed"): Promise<PageResult> {
    let result: PageResult | undefined;
    let thrown: unknown;
    try {
      result = await page!.evaluate(`import("/tests/browser/page.js").then((m) => m.runInPage(${JSON.stringify(name)}, ${JSON.stringify(variant)}))`);
    } catch (error) {
      thrown = error;
    }
    // Taken (and cleared) per call, so each test reports only its own errors.
    const problems = [...pageErrors.splice(0), ...server!.misses.splice(0).map((m) => `404: ${m}`)];
    if (thrown !== undefined || problems.length > 0) {
      throw new Error(`the page failed (${name}, ${variant}): ${thrown instanceof Error ? thrown.message : String(thrown ?? "")}\n  ${problems.join("\n  ")}`);
    }
    return result!;
  }

  function decode(b64: string): Buffer {
    return Buffer.from(b64, "base64");
  }

  function asBuffer(bytes: Uint8Array): Buffer {
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Where two float arrays of the same length differ: count, first index and largest |diff|. */
  function describeDiff(what: string, a: Buffer, b: Buffer): string {
    const f64 = what.includes("(f64)") || what.includes("statistics") || what.includes("counters");
    const view = (x: Buffer) => (f64 ? new Float64Array(x.buffer.slice(x.byteOffset, x.byteOffset + x.byteLength)) : new Float32Array(x.buffer.slice(x.byteOffset, x.byteOffset + x.byteLength)));
    if (a.length % (f64 ? 8 : 4) !== 0) return "";
    const x = view(a), y = view(b);
    let count = 0, first = -1, worst = 0;
    for (let i = 0; i < x.length; i++) {
      if (Object.is(x[i], y[i])) continue;
      count++;
      if (first < 0) first = i;
      worst = Math.max(worst, Math.abs(x[i]! - y[i]!));
    }
    return ` (${count} of ${x.length} ${f64 ? "f64" : "f32"} values; first [${first}]: Chromium ${x[first]}, Node ${y[first]}; max |diff| ${worst})`;
  }

  function expectSameBytes(what: string, browserBytes: Buffer, nodeBytes: Uint8Array): void {
    const node = asBuffer(nodeBytes);
    expect(browserBytes.length, `${what}: length`).toBe(node.length);
    if (!browserBytes.equals(node)) {
      let first = 0;
      while (browserBytes[first] === node[first]) first++;
      throw new Error(`${what}: Chromium and Node differ, first at byte ${first} of ${node.length}${describeDiff(what, browserBytes, node)}`);
    }
  }

  function maxAbsDiff(a: Uint8Array, b: Uint8Array): number {
    const x = new Float32Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
    const y = new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
    let worst = 0;
    for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i]! - y[i]!));
    return worst;
  }

  /** Every result of one case and build, Chromium against Node, bit for bit. */
  function expectIdentical(label: string, browserResult: PageResult, nodeResult: CaseResult): void {
    expect(browserResult.inputsSha, `${label}: inputs`).toBe(nodeResult.inputsSha);
    // The method-specific observations first, in the order taken: the first difference is the cause.
    expect(browserResult.checks.map((c) => c.what), `${label}: observations`).toEqual(nodeResult.checks.map((c) => c.what));
    nodeResult.checks.forEach((check, i) => expectSameBytes(`${label}: ${check.what}`, decode(browserResult.checks[i]!.bytes), check.bytes));
    expectSameBytes(`${label}: probabilities after init`, decode(browserResult.before), nodeResult.before);
    expect(Object.is(browserResult.loss, nodeResult.loss), `${label}: loss: Chromium ${browserResult.loss}, Node ${nodeResult.loss}`).toBe(true);
    expectSameBytes(`${label}: probabilities after one trainStep`, decode(browserResult.after), nodeResult.after);
    expectSameBytes(`${label}: save() bytes`, decode(browserResult.save), nodeResult.save);
    expect(browserResult.saveSha).toBe(nodeResult.saveSha);
    // load(save()) restores the trained model exactly, in both engines.
    expectSameBytes(`${label}: probabilities after load(save()) in Chromium`, decode(browserResult.reloaded), nodeResult.after);
    expectSameBytes(`${label}: probabilities after load(save()) in Node`, asBuffer(nodeResult.reloaded), nodeResult.after);
  }

  /** The case really exercised its method (so "identical" is not vacuous). */
  function expectMethodExercised(name: string, result: CaseResult): void {
    const check = (what: string): Buffer => {
      const found = result.checks.find((c) => c.what === what);
      if (!found) throw new Error(`${name}: no observation '${what}' (have: ${result.checks.map((c) => c.what).join("; ")})`);
      return asBuffer(found.bytes);
    };
    expect(Number.isFinite(result.loss) && result.loss > 0).toBe(true);
    expect(asBuffer(result.after).equals(asBuffer(result.before)), `${name}: the step changed the model`).toBe(false);
    if (name === "dense") expect(result.checks).toEqual([]);
    if (name === "lowrank") {
      expect(new Float64Array(check("h: truncatedSvd sigma (f64)").buffer.slice(0))[0]).toBeGreaterThan(0);
      // The estimator skipped units: predict with it on differs from the dense layer.
      expect(check("probabilities after init with the estimators off").equals(asBuffer(result.before)), "lowrank: the estimator changed nothing").toBe(false);
    }
    if (name === "tree") {
      const [macs, examples] = new Float64Array(check("tree counters (macs, examples) after predict and trainStep").buffer.slice(0));
      expect(macs).toBeGreaterThan(0);
      expect(examples).toBeGreaterThan(0);
    }
    if (name === "policy") {
      const masks = new Float32Array(check("h.policy_u: masks sampled by the trainStep").buffer.slice(0));
      expect(masks.every((m) => m === 0 || m === 1)).toBe(true);
      expect(masks.includes(0) && masks.includes(1), "policy: the trainStep sampled both kept and dropped blocks").toBe(true);
      expect(check("probabilities after the step, threshold mode").equals(asBuffer(result.after)), "policy: threshold == sampled").toBe(false);
    }
  }

  it("the page sees the modules and picks the relaxed build (Chromium has relaxed SIMD)", async () => {
    const result = await inPage("dense", "plain");
    expect(result.userAgent).toMatch(/Chrom/);
    expect(result.picked).toBe("relaxed");
  }, TIMEOUT);

  for (const { name } of CASES) {
    it(`${name}, plain SIMD: predict, trainStep, save and load are bit-identical in Chromium and Node`, async () => {
      const { plain, manifest } = builds.get(name)!;
      const browserResult = await inPage(name, "plain");
      const nodeResult = await nodeRunCase(nodeRuntime, plain, manifest);
      expect(browserResult.validates).toBe(true);
      expect(nodeResult.validates).toBe(true);
      expectMethodExercised(name, nodeResult);
      expectIdentical(`${name} plain`, browserResult, nodeResult);
    }, TIMEOUT);

    it(`${name}, relaxed SIMD: identical in Chromium and Node when both validate it`, async () => {
      const { plain, relaxed, manifest } = builds.get(name)!;
      const browserResult = await inPage(name, "relaxed");
      const nodeResult = await nodeRunCase(nodeRuntime, relaxed, manifest);
      expect(browserResult.validates, "Chromium rejects the relaxed-SIMD build").toBe(true);
      if (!nodeResult.validates) {
        console.warn(`${name}, relaxed SIMD: Node does not validate the relaxed build; compared nothing`);
        return;
      }
      // Same V8 lowering of relaxed_madd (FMA where the CPU has it) in both engines on one machine,
      // so the results are expected to be identical, not just close.
      expectIdentical(`${name} relaxed`, browserResult, nodeResult);
      // For the record: whether the relaxed build really differs from the plain one here (it does
      // where the engine lowers relaxed_madd to an FMA instruction, e.g. x86-64 with FMA3).
      const plainResult = await nodeRunCase(nodeRuntime, plain, manifest);
      const fused = !asBuffer(plainResult.after).equals(asBuffer(nodeResult.after));
      console.info(
        `${name}, relaxed SIMD: Chromium == Node bit for bit; relaxed vs plain after one step: ` +
          (fused ? `differ (FMA in use), max |diff| ${maxAbsDiff(plainResult.after, nodeResult.after)}` : "identical (no FMA here)"),
      );
    }, TIMEOUT);
  }
});
