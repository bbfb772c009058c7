/**
 * @fileoverview Every example model (examples/*.cond) on the GPU against its wasm build, from the
 * same init(0), on MNIST digits (every example reads 784 pixels): predictions within 1e-4
 * relative at n = 1 and 8, one training step's loss and parameters within 1e-4, and checkpoints
 * both ways (the GPU's save() loads into wasm and predicts the same; wasm's save() loaded on the
 * GPU saves the same bytes). Max batch 8 keeps the software adapter's time down; the 200-step
 * runs are in the methods' own files, on small models.
 */
import v8 from "node:v8";
v8.setFlagsFromString("--experimental-wasm-relaxed-simd");

import { readdirSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Dataset } from "../../runtime/data/dataset.js";
import type { Model } from "../../runtime/model.js";
import { loadDataset } from "../../runtime/node/data.js";
import { probeGpu, skipNote } from "./gpu.js";
import { addBiasScales, addTreeScales, addUpdateScales, build, expectParamsClose, expectPredictionsClose, gpuModel, pair, rows } from "./compare.js";
import { closeness } from "./reference.js";

const probe = await probeGpu();
afterAll(() => probe.device?.destroy());

const N = 8;
const EXAMPLES = readdirSync("examples").filter((f) => f.endsWith(".cond")).sort();

/**
 * Σ|terms| scales of the gradients that are sums cancelling far below their terms: the policies'
 * advantage-weighted sums, the tree nodes' sums over their buckets (root: every row), the biases'
 * column sums of δ.
 */
function sumScales(wasm: Model, n: number): Record<string, Float64Array> {
  const scales: Record<string, Float64Array> = {};
  addTreeScales(wasm, scales, n, Number(wasm.manifest.train.optimizer["lr"]));
  addBiasScales(wasm, scales, n, Number(wasm.manifest.train.optimizer["lr"]));
  const lr = (wasm.manifest.train.settings["policy"] as { lr?: number } | undefined)?.lr ?? 0;
  for (const layer of wasm.manifest.layers) {
    const weight = layer.params["policy_weight"];
    if (weight === undefined || layer.delta === null) continue;
    const blocks = wasm.manifest.params.find((p) => p.name === weight)!.shape[1]!;
    const x = layer.source === null ? "input" : wasm.manifest.layers.find((l) => l.name === layer.source)!.output;
    addUpdateScales(wasm, scales, weight, layer.params["policy_bias"]!, x, layer.regions["policy_e"]!, n, layer.inputs, blocks, lr);
  }
  return scales;
}

describe(`every example model on the GPU against its wasm build${skipNote(probe)}`, () => {
  let test: Dataset;
  let train: Dataset;
  beforeAll(async () => {
    if (!probe.device) return;
    ({ train, test } = await loadDataset({ kind: "mnist" }));
  });

  for (const file of EXAMPLES) {
    it.skipIf(!probe.device)(`${file}: predictions, one step, checkpoints both ways`, async () => {
      const compiled = await build({ file: `examples/${file}` }, N);
      const { wasm, gpu } = await pair(probe.device!, compiled, 0);
      try {
        await expectPredictionsClose(wasm, gpu, rows(test, 10, 1).x, 1, `${file}: n = 1`);
        await expectPredictionsClose(wasm, gpu, rows(test, 20, N).x, N, `${file}: n = ${N}`);
        const { x, y } = rows(train, 0, N);
        const gpuLoss = (await gpu.trainStep(x, y, N)).loss;
        const wasmLoss = wasm.trainStep(x, y, N).loss;
        expect(closeness([gpuLoss], [wasmLoss]), `${file}: loss`).toBe("");
        await expectParamsClose(wasm, gpu, `${file}: after one step`, sumScales(wasm, N));
        const fromGpu = await gpu.save();
        wasm.load(fromGpu, "gpu.safetensors");
        await expectPredictionsClose(wasm, gpu, rows(test, 40, N).x, N, `${file}: wasm loaded from the GPU`);
        const fresh = await gpuModel(probe.device!, compiled);
        await fresh.load(wasm.save(), "wasm.safetensors");
        expect(Buffer.from(await fresh.save()).equals(Buffer.from(fromGpu)), `${file}: save() of the GPU model loaded from wasm`).toBe(true);
        fresh.destroy();
      } finally {
        gpu.destroy();
      }
    }, 600_000);
  }
});
