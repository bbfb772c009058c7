// Per-instance scratch memory. Every instance of the kernel library (one per thread) owns a
// block of SCRATCH_BYTES in the shared linear memory, set once with setScratch; the packing
// buffers and small temporaries of the kernels live there, so threads never share them.
// wasm globals are per instance, so `scratchBase` differs between threads over one memory.

/** GEMM pack buffer A: MC*KC f32 pre-splatted (x4) = 128*256*16 bytes. */
export const SCRATCH_PACK_A: usize = 0;
/** GEMM pack buffer B: KC*NC f32 = 256*1024*4 bytes. */
export const SCRATCH_PACK_B: usize = 524288;
/** GEMM edge tile: MR*NR f32. */
export const SCRATCH_EDGE_TILE: usize = 1572864;
/**
 * A gather buffer for kernels that run no GEMM meanwhile (a thread's tile of a low-rank
 * layer's per-example work): the GEMM's pack buffer B, reused.
 */
export const SCRATCH_GATHER: usize = SCRATCH_PACK_B;
export const SCRATCH_GATHER_BYTES: usize = 1048576;
/** Four 16-byte temporaries (Philox output blocks, a 4x4 f32 transpose area). */
export const SCRATCH_SMALL: usize = 1572992;
/** Bytes of one instance's scratch block (64-byte multiple). */
export const SCRATCH_BYTES: usize = 1573120;

let scratchBase: usize = 0;

/** Sets this instance's scratch block: [base, base + SCRATCH_BYTES), 64-byte aligned. */
export function setScratch(base: usize): void {
  scratchBase = base;
}

/** The address of `offset` in this instance's scratch block. */
@inline export function scratchAt(offset: usize): usize {
  return scratchBase + offset;
}

/** Bytes of scratch each instance needs (for the runtime's memory plan). */
export function scratchBytes(): usize {
  return SCRATCH_BYTES;
}
