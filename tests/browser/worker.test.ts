/**
 * @fileoverview condc/worker in headless Chromium (Web Workers): the Model methods and train()
 * through the worker equal the model on the page's thread bit for bit; cancelling keeps the
 * model usable, on a plain page (no shared memory: the worker restarts from the last finished
 * epoch's weights) and on a cross-origin isolated one (shared memory: it stops after the step in
 * progress); on the isolated page a worker's model runs on a pool of its own; a worker that
 * throws, or whose script is missing, rejects with a WorkerError.
 */
import { existsSync } from "node:fs";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compile } from "../../compiler/index.js";
import { JS, serve, transpileGraph, type Asset, type StaticServer } from "./support.js";

const CHROMIUM = process.env["CONDC_CHROMIUM"] ?? "/usr/bin/chromium";
const HAVE_CHROMIUM = existsSync(CHROMIUM);
const SKIP_REASON = HAVE_CHROMIUM ? "" : ` [SKIPPED: ${CHROMIUM} not found; install it with apt-get install chromium]`;
const TIMEOUT = 60_000;
const ISOLATION = { "cross-origin-opener-policy": "same-origin", "cross-origin-embedder-policy": "require-corp" };

const MLP = `model WorkerMlp {
  input  x: f32[20]
  target y: class[3]
  layer h   = dense(x, 16) relu
  layer out = dense(h, 3)
  loss = softmax_cross_entropy(out, y)
}
train { optimizer = sgd(lr: 0.1, momentum: 0.9) batch = 8 epochs = 3 seed = 5 }`;

describe.skipIf(!HAVE_CHROMIUM)(`condc/worker in headless Chromium${SKIP_REASON}`, () => {
  const servers: StaticServer[] = [];
  let browser: Browser | undefined;
  const pages = new Map<string, Page>();
  const pageErrors: string[] = [];

  beforeAll(async () => {
    const graph = transpileGraph(["runtime/index.ts", "runtime/worker/worker-browser.ts", "tests/browser/worker-page.ts", "tests/browser/worker-crash.ts"]);
    if (graph.problems.length > 0) throw new Error(`module graph problems:\n  ${graph.problems.join("\n  ")}`);
    const compiled = await compile(MLP, { file: "mlp.cond", maxBatch: 16, simd: "plain" });
    if (!compiled.ok) throw new Error("mlp did not compile");
    const assets = new Map<string, Asset>();
    for (const [path, text] of graph.files) assets.set(path, { type: JS, body: text });
    assets.set("/", { type: "text/html; charset=utf-8", body: "<!doctype html><meta charset=utf-8><title>condc worker test</title>" });
    assets.set("/model/mlp/plain.wasm", { type: "application/wasm", body: compiled.wasm });
    assets.set("/model/mlp/manifest.json", { type: "application/json", body: JSON.stringify(compiled.manifest) });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"], timeout: TIMEOUT });
    for (const [name, headers] of [["plain", {}], ["isolated", ISOLATION]] as const) {
      const server = await serve(assets, headers);
      servers.push(server);
      const page = await browser.newPage();
      page.on("pageerror", (error) => pageErrors.push(`${name} page error: ${error.message}`));
      page.on("crash", () => pageErrors.push(`${name}: the page crashed`));
      await page.goto(server.url + "/", { timeout: TIMEOUT });
      pages.set(name, page);
    }
  }, 2 * TIMEOUT);

  afterAll(async () => {
    await browser?.close().catch(() => undefined);
    for (const s of servers) await s.close();
  });

  async function call<T>(page: "plain" | "isolated", fn: string, ...args: unknown[]): Promise<T> {
    const result = await pages.get(page)!.evaluate(`import("/tests/browser/worker-page.js").then((m) => m.${fn}(...${JSON.stringify(args)}))`);
    const misses = servers.flatMap((s) => s.misses.splice(0)).filter((m) => m !== "GET /no-such-worker.js");
    const problems = [...pageErrors.splice(0), ...misses.map((m) => `404: ${m}`)];
    if (problems.length > 0) throw new Error(`the page failed in ${fn}:\n  ${problems.join("\n  ")}`);
    return result as T;
  }

  it("every method and train() through the worker equal the model on the page's thread", async () => {
    const r = await call<Record<string, unknown>>("plain", "methods");
    expect(r).toMatchObject({ isolated: false, predictSame: true, lossSame: true, saveSame: true, trainedSame: true });
    const [worker, page] = r["accuracies"] as number[][];
    expect(worker).toEqual(page);
    // 64 examples, batch 8: 8 steps an epoch, events at step 8 (end of epoch) and 16, after the trainStep's 1.
    expect(r["progress"]).toEqual([9, 17]);
    expect(r["error"]).toEqual({ name: "CheckpointError", message: "junk.bin: too short: 3 bytes, but a safetensors file starts with an 8-byte header length" });
    expect(r["afterDispose"]).toEqual({ name: "WorkerError", message: "the model's worker was disposed; the handle cannot be used any more" });
  });

  it("cancel without shared memory: the worker restarts with the last finished epoch's weights, usable", async () => {
    // 400 examples, batch 8: 50 steps an epoch; cancel in the second epoch.
    const r = await call<Record<string, unknown>>("plain", "cancel", 80);
    expect(r["isolated"]).toBe(false);
    expect(r["error"]).toEqual({ name: "AbortError", message: "signal is aborted without reason" });
    expect(r["epochsDone"]).toBe(1);
    expect(r["step"]).toBe(50);
    expect(r).toMatchObject({ weightsSame: true, usable: true, againEpochs: 1 });
  });

  it("cancel with shared memory (cross-origin isolated page): stops after the step in progress, usable", async () => {
    const r = await call<Record<string, unknown>>("isolated", "cancel", 80);
    expect(r["isolated"]).toBe(true);
    expect(r["error"]).toEqual({ name: "AbortError", message: "signal is aborted without reason" });
    expect(r["step"]).toBeGreaterThanOrEqual(80);
    expect(r["step"]).toBeLessThan(40 * 50);
    expect(r).toMatchObject({ weightsSame: true, usable: true, againEpochs: 1 });
  });

  it("on a cross-origin isolated page, a worker's model runs on its own pool (nested workers) with one thread's bits", async () => {
    const r = await call<Record<string, unknown>>("isolated", "pooled");
    expect(r).toEqual({ isolated: true, predictSame: true, lossSame: true, saveSame: true });
  });

  it("a worker that throws rejects the pending call and the later ones; a missing script fails the start", async () => {
    const r = await call<Record<string, unknown>>("plain", "crashes");
    expect(r["crashed"]).toEqual({ name: "WorkerError", message: "the model's worker stopped: Uncaught Error: crashed on purpose" });
    expect(r["later"]).toEqual({ name: "WorkerError", message: "the model's worker stopped: Uncaught Error: crashed on purpose; the handle cannot be used any more" });
    expect(r["missing"]).toEqual({ name: "WorkerError", message: "the model's worker failed to start: the worker script failed to load or threw an uncaught error" });
    expect(r["alive"]).toBe(false);
  });
});
