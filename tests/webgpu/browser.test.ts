/**
 * @fileoverview The WebGPU back end in headless Chromium (its WebGPU on SwiftShader when the
 * machine has no GPU): runtime/webgpu's modules and the methods' GPU programs load as they are
 * (no Node-only imports), and examples/mnist-dense.cond and the gated examples/mnist-policy.cond
 * (masks from the GPU's counter RNG) loaded with loadModel's "webgpu" back end on
 * `navigator.gpu`, after init(0), agree with the wasm build run in Node within 1e-4 relative:
 * predictions before and after one trainStep, the loss, and every saved parameter. Skips,
 * counted and with the reason printed, when Chromium is missing or offers no WebGPU adapter.
 */
import v8 from "node:v8";
v8.setFlagsFromString("--experimental-wasm-relaxed-simd");

import { existsSync, readFileSync } from "node:fs";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compile, type CompileSuccess } from "../../compiler/index.js";
import { decodeSafetensors } from "../../runtime/checkpoint/safetensors.js";
import { loadModel } from "../../runtime/model.js";
import { JS, serve, transpileGraph, type Asset, type StaticServer } from "../browser/support.js";
import type { PageResult } from "./page.js";
import { closeness, randomArray } from "./reference.js";
import { addBiasScales, addUpdateScales } from "./compare.js";

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
    for (const file of ["index", "device", "model", "executor", "frame", "kernels/gemm"]) expect(files.has(`/runtime/webgpu/${file}.js`), file).toBe(true);
    if (problems.length > 0) throw new Error(`runtime/webgpu cannot load in a browser:\n  ${problems.join("\n  ")}`);
  });

  it("runtime/index reaches every method's GPU program through loadModel's dynamic imports, browser-clean", () => {
    const { files, problems } = transpileGraph(["runtime/index.ts"]);
    for (const file of ["runtime/backend", "runtime/webgpu/model", "methods/dense/webgpu", "methods/lowrank/webgpu", "methods/tree/webgpu", "methods/policy/webgpu", "methods/moe/webgpu"]) {
      expect(files.has(`/${file}.js`), file).toBe(true);
    }
    if (problems.length > 0) throw new Error(`runtime/index cannot load in a browser:\n  ${problems.join("\n  ")}`);
  });
});

const MODELS = ["mnist-dense", "mnist-policy"];

describe.skipIf(!HAVE_CHROMIUM)(`WebGPU back end in headless Chromium${SKIP}`, () => {
  const compiled = new Map<string, CompileSuccess>();
  let server: StaticServer | undefined;
  let browser: Browser | undefined;
  let page: Page | undefined;
  const pageErrors: string[] = [];
  const x = randomArray(N * 784, 3).map((v) => (v + 1) / 2);
  const y = Int32Array.from({ length: N }, (_, i) => (i * 3) % 10);

  beforeAll(async () => {
    const assets = new Map<string, Asset>();
    for (const name of MODELS) {
      const file = `examples/${name}.cond`;
      const result = await compile(readFileSync(file, "utf8"), { file, maxBatch: N, simd: "plain" });
      if (!result.ok) throw new Error(`${file} did not compile`);
      compiled.set(name, result);
      assets.set(`/model/${name}.wasm`, { type: "application/wasm", body: result.wasm });
      assets.set(`/model/${name}.json`, { type: "application/json", body: JSON.stringify(result.manifest) });
    }
    const graph = transpileGraph([...ENTRIES, "tests/webgpu/page.ts"]);
    if (graph.problems.length > 0) throw new Error(`module graph problems:\n  ${graph.problems.join("\n  ")}`);
    for (const [path, text] of graph.files) assets.set(path, { type: JS, body: text });
    assets.set("/", { type: "text/html; charset=utf-8", body: "<!doctype html><title>condc webgpu test</title><p>condc WebGPU test page</p>" });
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

  for (const name of MODELS) {
    it(`examples/${name}.cond on navigator.gpu: predict, one trainStep, predict and save() within 1e-4 of the wasm build in Node`, async (context) => {
      const result = (await page!.evaluate(`import("/tests/webgpu/page.js").then((m) => m.runGpuInPage("${name}", ${N}, ${SEED}))`)) as PageResult;
      const problems = [...pageErrors.splice(0), ...server!.misses.splice(0).map((m) => `404: ${m}`)];
      if (problems.length > 0) throw new Error(`the page failed:\n  ${problems.join("\n  ")}`);
      if (!result.available) {
        console.warn(`[webgpu browser test SKIPPED] Chromium offers no WebGPU adapter: ${result.reason}`);
        context.skip();
        return;
      }
      console.info(`Chromium WebGPU adapter: ${result.adapter}`);
      const model = compiled.get(name)!;
      const wasm = await loadModel(model.wasm, model.manifest);
      wasm.init(SEED);
      const floats = (b64: string) => new Float32Array(new Uint8Array(Buffer.from(b64, "base64")).buffer);
      expect(closeness(floats(result.before), wasm.predict(x, N)), "predictions after init").toBe("");
      const { loss } = wasm.trainStep(x, y, N);
      expect(closeness([result.loss], [loss]), "loss").toBe("");
      expect(closeness(floats(result.after), wasm.predict(x, N)), "predictions after one step").toBe("");
      expect(result.step).toBe(1);
      const saved = decodeSafetensors(new Uint8Array(Buffer.from(result.save, "base64")), "chromium.safetensors");
      expect(saved.metadata).toEqual(decodeSafetensors(wasm.save(), "wasm.safetensors").metadata);
      const scales: Record<string, Float64Array> = {};
      addPolicyScales(wasm, scales, N);
      addBiasScales(wasm, scales, N, Number(model.manifest.train.optimizer["lr"]));
      for (const p of model.manifest.params) {
        const want = wasm.parameter(p.name);
        const floor = 1e-3 * want.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
        const own = scales[p.name];
        expect(closeness(saved.tensors.get(p.name)!.data, want, own ? own.map((v) => Math.max(v, floor)) : want.map(() => floor)), p.name).toBe("");
      }
    }, TIMEOUT);
  }
});

/** Σ|terms| scales of the policy's updates (sums of advantage terms that cancel; see compare.ts). */
function addPolicyScales(wasm: Awaited<ReturnType<typeof loadModel>>, scales: Record<string, Float64Array>, n: number): void {
  const lr = (wasm.manifest.train.settings["policy"] as { lr?: number } | undefined)?.lr ?? 0;
  for (const layer of wasm.manifest.layers) {
    const weight = layer.params["policy_weight"];
    if (weight === undefined || layer.delta === null) continue;
    const blocks = wasm.manifest.params.find((p) => p.name === weight)!.shape[1]!;
    const x = layer.source === null ? "input" : wasm.manifest.layers.find((l) => l.name === layer.source)!.output;
    addUpdateScales(wasm, scales, weight, layer.params["policy_bias"]!, x, layer.regions["policy_e"]!, n, layer.inputs, blocks, lr);
  }
}
