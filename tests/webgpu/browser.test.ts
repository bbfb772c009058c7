/**
 * @fileoverview The WebGPU back end in headless Chromium (its WebGPU on SwiftShader when the
 * machine has no GPU): runtime/webgpu's modules load as they are (no Node-only imports), and
 * examples/mnist-dense.cond run on `navigator.gpu` from the wasm build's init(0) weights agrees
 * with the wasm build run in Node within 1e-4 relative: predictions before and after one
 * trainStep, the loss, and every saved parameter. Skips, counted and with the reason printed,
 * when Chromium is missing or offers no WebGPU adapter.
 */
import v8 from "node:v8";
v8.setFlagsFromString("--experimental-wasm-relaxed-simd");

import { existsSync, readFileSync } from "node:fs";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compile, type CompileSuccess } from "../../compiler/index.js";
import { decodeSafetensors } from "../../runtime/checkpoint/safetensors.js";
import { loadModel } from "../../runtime/model.js";
import { gpuModelSpec } from "../../runtime/webgpu/dense.js";
import { JS, serve, transpileGraph, type Asset, type StaticServer } from "../browser/support.js";
import type { PageResult } from "./page.js";
import { closeness, randomArray } from "./reference.js";

const CHROMIUM = process.env["CONDC_CHROMIUM"] ?? "/usr/bin/chromium";
const HAVE_CHROMIUM = existsSync(CHROMIUM);
const SKIP = HAVE_CHROMIUM ? "" : ` [SKIPPED: ${CHROMIUM} not found; install it with apt-get install chromium]`;
/** WebGPU on: Chromium picks a GPU if there is one, else its bundled SwiftShader Vulkan driver. */
const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--enable-unsafe-webgpu", "--enable-features=Vulkan", "--disable-background-networking", "--no-first-run"];
const TIMEOUT = 180_000;
const N = 8;
const SEED = 0;

const ENTRIES = ["runtime/webgpu/index.ts", "runtime/index.ts"];

describe("runtime/webgpu module graph", () => {
  it("runtime/webgpu/index has no Node-only imports or globals (browsers import it as is)", () => {
    const { files, problems } = transpileGraph(["runtime/webgpu/index.ts"]);
    for (const file of ["index", "device", "model", "executor", "dense", "kernels/gemm"]) expect(files.has(`/runtime/webgpu/${file}.js`), file).toBe(true);
    if (problems.length > 0) throw new Error(`runtime/webgpu cannot load in a browser:\n  ${problems.join("\n  ")}`);
  });
});

describe.skipIf(!HAVE_CHROMIUM)(`WebGPU back end in headless Chromium${SKIP}`, () => {
  let compiled: CompileSuccess;
  let server: StaticServer | undefined;
  let browser: Browser | undefined;
  let page: Page | undefined;
  const pageErrors: string[] = [];
  const x = randomArray(N * 784, 3).map((v) => (v + 1) / 2);
  const y = Int32Array.from({ length: N }, (_, i) => (i * 3) % 10);

  beforeAll(async () => {
    const file = "examples/mnist-dense.cond";
    const result = await compile(readFileSync(file, "utf8"), { file, maxBatch: N, simd: "plain" });
    if (!result.ok) throw new Error(`${file} did not compile`);
    compiled = result;
    const graph = transpileGraph([...ENTRIES, "tests/webgpu/page.ts"]);
    if (graph.problems.length > 0) throw new Error(`module graph problems:\n  ${graph.problems.join("\n  ")}`);
    const assets = new Map<string, Asset>();
    for (const [path, text] of graph.files) assets.set(path, { type: JS, body: text });
    assets.set("/", { type: "text/html; charset=utf-8", body: "<!doctype html><title>condc webgpu test</title><p>condc WebGPU test page</p>" });
    assets.set("/model/plain.wasm", { type: "application/wasm", body: compiled.wasm });
    assets.set("/model/spec.json", { type: "application/json", body: JSON.stringify(gpuModelSpec(compiled.manifest)) });
    assets.set("/model/x.bin", { type: "application/octet-stream", body: new Uint8Array(x.buffer) });
    assets.set("/model/y.bin", { type: "application/octet-stream", body: new Uint8Array(y.buffer) });
    server = await serve(assets);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 60_000 });
    page = await browser.newPage();
    page.on("pageerror", (error) => pageErrors.push(`page error: ${error.message}`));
    page.on("crash", () => pageErrors.push("the page crashed"));
    // http://127.0.0.1 is a secure context: navigator.gpu exists there (not on about:blank).
    await page.goto(server.url + "/", { timeout: 60_000 });
  }, TIMEOUT);

  afterAll(async () => {
    await page?.close().catch(() => undefined);
    await browser?.close().catch(() => undefined);
    await server?.close();
  });

  it("examples/mnist-dense.cond on navigator.gpu: predict, one trainStep, predict and save() within 1e-4 of the wasm build in Node", async (context) => {
    const result = (await page!.evaluate(`import("/tests/webgpu/page.js").then((m) => m.runGpuInPage(${N}, ${SEED}))`)) as PageResult;
    const problems = [...pageErrors.splice(0), ...server!.misses.splice(0).map((m) => `404: ${m}`)];
    if (problems.length > 0) throw new Error(`the page failed:\n  ${problems.join("\n  ")}`);
    if (!result.available) {
      console.warn(`[webgpu browser test SKIPPED] Chromium offers no WebGPU adapter: ${result.reason}`);
      context.skip();
      return;
    }
    console.info(`Chromium WebGPU adapter: ${result.adapter}`);
    const wasm = await loadModel(compiled.wasm, compiled.manifest);
    wasm.init(SEED);
    const floats = (b64: string) => new Float32Array(new Uint8Array(Buffer.from(b64, "base64")).buffer);
    expect(closeness(floats(result.before), wasm.predict(x, N)), "predictions after init").toBe("");
    const { loss } = wasm.trainStep(x, y, N);
    expect(closeness([result.loss], [loss]), "loss").toBe("");
    expect(closeness(floats(result.after), wasm.predict(x, N)), "predictions after one step").toBe("");
    expect(result.step).toBe(1);
    const saved = decodeSafetensors(new Uint8Array(Buffer.from(result.save, "base64")), "chromium.safetensors");
    expect(saved.metadata).toEqual(decodeSafetensors(wasm.save(), "wasm.safetensors").metadata);
    for (const p of compiled.manifest.params) {
      const want = wasm.parameter(p.name);
      const floor = 1e-3 * want.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      expect(closeness(saved.tensors.get(p.name)!.data, want, want.map(() => floor)), p.name).toBe("");
    }
  }, TIMEOUT);
});
