// The in-memory asc wrapper (scripts/asc.mjs) and the kernel library build: kernel sources served
// under ./kernels/ (with the shared constants), static data at memoryBase, the packing buffers in
// a per-instance scratch block, the plain build free of relaxed ops, diagnostics on error; the
// generated library matches the current sources (else: npm run build:kernels).
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
// @ts-ignore: a JavaScript build script, typed by use
import { compileAssemblyScript, loadKernelSources } from "../../scripts/asc.mjs";
import { KERNEL_LIBRARY, KERNEL_SIGNATURES } from "../../runtime/generated/kernel-library.js";
import "./harness.js"; // sets the relaxed-SIMD flag

const ENTRY = `import { gemmNT } from "./kernels/gemm";
import { reluForward } from "./kernels/elementwise";
export { setScratch, scratchBytes } from "./kernels/scratch";
export function heapBase(): usize { return __heap_base; }
export function forward(x: usize, w: usize, h: usize): void { gemmNT(2, 3, 4, x, 4, w, 4, h, 3, 0); reluForward(h, h, 6); }
`;

describe("compileAssemblyScript", () => {
  it("serves every kernel family and the shared constants", () => {
    const names = Object.keys(loadKernelSources());
    for (const f of ["gemm.ts", "elementwise.ts", "loss.ts", "optim.ts", "rng.ts", "mathf4.ts", "scratch.ts", "support.ts", "codes/activation.ts"]) expect(names).toContain(`kernels/${f}`);
  });

  it("places static data at memoryBase; the packing buffers live in the scratch block set per instance", async () => {
    const memoryBase = 65536;
    const r = await compileAssemblyScript({ "model.ts": ENTRY }, "model.ts", { relaxedSimd: false, memoryBase, emitText: true });
    expect(r.ok, r.stderr).toBe(true);
    const { instance } = await WebAssembly.instantiate(r.wasm, {});
    const e = instance.exports as any;
    const heapBase = Number(e.heapBase());
    expect(heapBase).toBeGreaterThanOrEqual(memoryBase);
    expect(heapBase).toBeLessThan(memoryBase + 16384); // no megabyte of static packing buffers
    for (const m of r.text!.matchAll(/\(data \$\S+ \(i32\.const (\d+)\)/g)) expect(Number(m[1])).toBeGreaterThanOrEqual(memoryBase);
    const memory = e.memory as WebAssembly.Memory;
    const scratch = Math.ceil(heapBase / 64) * 64;
    const need = Math.ceil((scratch + Number(e.scratchBytes())) / 65536) - memory.buffer.byteLength / 65536;
    if (need > 0) memory.grow(need);
    e.setScratch(scratch);
    const f = new Float32Array(memory.buffer);
    f.set([1, 2, 3, 4, -1, -2, -3, -4], 64 / 4); // x [2x4] at 64, below memoryBase
    f.set([1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0], 128 / 4); // w [3x4] at 128
    e.forward(64, 128, 256);
    expect(Array.from(f.subarray(256 / 4, 256 / 4 + 6))).toEqual([1, 2, 3, 0, 0, 0]);
  });

  it("honours initial/maximum pages", async () => {
    const r = await compileAssemblyScript({ "model.ts": ENTRY }, "model.ts", { relaxedSimd: true, memoryBase: 1 << 20, initialPages: 64, maximumPages: 64, emitText: true });
    expect(r.ok, r.stderr).toBe(true);
    expect(r.text).toMatch(/\(memory \$0 64 64\)/);
  });

  it("plain build has no relaxed op and validates; relaxed build uses relaxed_madd", async () => {
    const plain = await compileAssemblyScript({ "model.ts": ENTRY }, "model.ts", { relaxedSimd: false, emitText: true });
    const relaxed = await compileAssemblyScript({ "model.ts": ENTRY }, "model.ts", { relaxedSimd: true, emitText: true });
    expect(plain.text).not.toMatch(/relaxed/);
    expect(relaxed.text).toMatch(/f32x4\.relaxed_madd/);
    expect(WebAssembly.validate(plain.wasm)).toBe(true);
  });

  it("reports errors with ok = false and the diagnostics", async () => {
    const r = await compileAssemblyScript({ "bad.ts": `import { nope } from "./kernels/gemm";\nexport function f(): i32 { return nope; }` }, "bad.ts", { relaxedSimd: false });
    expect(r.ok).toBe(false);
    expect(r.stderr).toMatch(/nope/);
  });
});

describe("the prebuilt kernel library", () => {
  it("was built from the current kernel sources (else run: npm run build:kernels)", () => {
    const hash = createHash("sha256");
    for (const [name, text] of Object.entries(loadKernelSources() as Record<string, string>)) hash.update(name).update("\0").update(text).update("\0");
    expect(KERNEL_LIBRARY.sourceHash).toBe(hash.digest("hex"));
  });

  it("exports every kernel a model calls, with scratch and static data the runtime places", () => {
    for (const name of ["gemmNT", "gemmNN", "gemmTN", "softmaxCrossEntropy", "sgdStep", "adamStep", "lowrankForward", "treeForwardLevels", "bsForward", "policySample", "setScratch", "zeroBytes", "logF64"]) {
      expect(KERNEL_SIGNATURES, name).toHaveProperty(name);
    }
    expect(KERNEL_LIBRARY.scratchBytes % 64).toBe(0);
    expect(KERNEL_LIBRARY.staticDataEnd).toBeLessThan(65536);
  });
});
