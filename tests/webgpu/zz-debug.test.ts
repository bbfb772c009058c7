import v8 from "node:v8";
v8.setFlagsFromString("--experimental-wasm-relaxed-simd");
import { it } from "vitest";
import { probeGpu } from "./gpu.js";
import { build, pair, rows, syntheticData } from "./compare.js";
import { closeness } from "./reference.js";

const probe = await probeGpu();
const text = process.env.DEBUG_MODEL!;
it("debug", async () => {
  const compiled = await build({ file: "d.cond", text }, 16);
  const { wasm, gpu } = await pair(probe.device!, compiled, Number(process.env.DEBUG_SEED ?? 11));
  const data = syntheticData(compiled.manifest.input.width, compiled.manifest.classes, 4000, 5);
  const n = Number(process.env.DEBUG_N ?? 13);
  const { x, y } = rows(data, 500, n);
  const steps = Number(process.env.DEBUG_STEPS ?? 1);
  for (let s = 0; s < steps; s++) { await gpu.trainStep(x, y, n); wasm.trainStep(x, y, n); }
  for (const r of compiled.manifest.memory.regions) {
    if (r.dtype !== "f32") { 
      if (r.dtype === "i32") {
        const w = new Int32Array(wasm.wasmMemory.buffer, r.offset, r.bytes / 4);
        const g = new Int32Array((await gpu.region(r.name)).buffer);
        let diff = 0; for (let i = 0; i < w.length; i++) if (w[i] !== g[i]) diff++;
        console.log(`${r.name} (i32): ${diff} differ`);
      }
      continue;
    }
    const w = wasm.regionView(r.name);
    const g = await gpu.region(r.name);
    const floor = 1e-3 * w.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    console.log(`${r.name}: ${closeness(g, w, w.map(() => floor)) || "ok"}`);
  }
});
