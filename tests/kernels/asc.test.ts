// The in-memory asc wrapper: kernel sources served under ./kernels/, memoryBase placement of
// static data (the GEMM pack buffers), plain build free of relaxed ops, diagnostics on error.
import { describe, expect, it } from "vitest";
import { compileAssemblyScript, loadKernelSources } from "../../compiler/backend/codegen/asc.js";
import "./harness.js"; // sets the relaxed-SIMD flag

const ENTRY = `import { gemmNT, GEMM_SCRATCH_BYTES } from "./kernels/gemm";
import { reluForward } from "./kernels/elementwise";
export function heapBase(): usize { return __heap_base; }
export function scratch(): i32 { return GEMM_SCRATCH_BYTES; }
export function forward(x: usize, w: usize, h: usize): void { gemmNT(2, 3, 4, x, 4, w, 4, h, 3, 0); reluForward(h, h, 6); }
`;

describe("compileAssemblyScript", () => {
  it("serves every kernel family", () => {
    const names = Object.keys(loadKernelSources());
    for (const f of ["gemm.ts", "elementwise.ts", "loss.ts", "optim.ts", "rng.ts", "mathf4.ts"]) expect(names).toContain(f);
  });

  it("places static data at memoryBase and leaves [0, memoryBase) to the caller's plan", async () => {
    const memoryBase = 65536;
    const r = await compileAssemblyScript({ "model.ts": ENTRY }, "model.ts", { relaxedSimd: false, memoryBase, emitText: true });
    expect(r.ok, r.stderr).toBe(true);
    const { instance } = await WebAssembly.instantiate(r.wasm, {});
    const e = instance.exports as any;
    const heapBase = Number(e.heapBase());
    expect(heapBase).toBeGreaterThanOrEqual(memoryBase + e.scratch());
    expect(heapBase).toBeLessThan(memoryBase + e.scratch() + 4096);
    // every data segment lies at or above memoryBase; zero segments are dropped (small binary)
    for (const m of r.text!.matchAll(/\(data \$\S+ \(i32\.const (\d+)\)/g)) expect(Number(m[1])).toBeGreaterThanOrEqual(memoryBase);
    expect(r.wasm.length).toBeLessThan(100_000);
    expect((e.memory as WebAssembly.Memory).buffer.byteLength).toBeGreaterThanOrEqual(heapBase);
    // the plan region below memoryBase is usable
    const f = new Float32Array(e.memory.buffer);
    f.set([1, 2, 3, 4, -1, -2, -3, -4], 64 / 4); // x [2x4] at 64
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
