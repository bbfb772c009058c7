/**
 * @fileoverview The build products the pool relies on: the shared-memory kernel library is the
 * prebuilt library with only its memory import's limits changed, exactly what AssemblyScript
 * emits with --sharedMemory (so the two builds compute alike by construction); and the pool
 * worker's scripts were generated from the current sources, the browsers' without Node's.
 */
import { describe, expect, it } from "vitest";
import { kernelLibraryBytes, sharedMemoryVariant, SHARED_MAXIMUM_PAGES } from "../../runtime/kernel-library.js";
import { POOL_WORKER_BROWSER, POOL_WORKER_BROWSER_SOURCE_HASH } from "../../runtime/generated/pool-worker-browser.js";
import { POOL_WORKER_NODE, POOL_WORKER_NODE_SOURCE_HASH } from "../../runtime/generated/pool-worker-node.js";
// @ts-expect-error: a JavaScript build script without types
import { compileAssemblyScript, kernelFamilies } from "../../scripts/asc.mjs";
// @ts-expect-error: a JavaScript build script without types
import { poolWorkerSourceHash } from "../../scripts/build-pool-worker.mjs";

const ENTRY = (kernelFamilies() as string[]).map((family) => `export * from "./kernels/${family}";`).join("\n") + "\n";

describe("the shared-memory kernel library", () => {
  for (const simd of ["plain", "relaxed"] as const) {
    it(`(${simd}) is byte-identical to asc --sharedMemory, and instantiates over a shared memory`, async () => {
      const patched = sharedMemoryVariant(await kernelLibraryBytes(simd));
      const asc = await compileAssemblyScript({ "library.ts": ENTRY }, "library.ts", {
        relaxedSimd: simd === "relaxed",
        importMemory: true,
        memoryBase: 1024,
        maximumPages: SHARED_MAXIMUM_PAGES,
        extraArgs: ["--sharedMemory", "--enable", "threads"],
      });
      expect(asc.ok).toBe(true);
      expect(Buffer.from(patched).equals(Buffer.from(asc.wasm))).toBe(true);
      if (simd === "plain") {
        const memory = new WebAssembly.Memory({ initial: 64, maximum: 64, shared: true });
        const { instance } = await WebAssembly.instantiate(patched, { env: { memory, abort: () => undefined } });
        expect(typeof instance.exports["gemmNT"]).toBe("function");
      }
    }, 120_000);
  }

  it("refuses a module without a memory import", () => {
    const empty = new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
    expect(() => sharedMemoryVariant(empty)).toThrow(/no memory import to share/);
  });
});

describe("the pool worker's scripts", () => {
  it("were generated from the current sources (else run: npm run build:kernels)", () => {
    expect(POOL_WORKER_BROWSER_SOURCE_HASH).toBe(poolWorkerSourceHash());
    expect(POOL_WORKER_NODE_SOURCE_HASH).toBe(poolWorkerSourceHash());
  });

  it("the browsers' carries nothing of Node's; Node's reaches its parent port through require", () => {
    expect(POOL_WORKER_BROWSER).not.toMatch(/node:|worker_threads|require\(/);
    expect(POOL_WORKER_NODE).toMatch(/require\("worker_threads"\)|require\("node:worker_threads"\)/);
  });
});
