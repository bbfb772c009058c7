// Constants shared by the kernels (AssemblyScript) and the compiler and runtime (TypeScript),
// written in the subset both languages read alike (`export const NAME = <integer>;`), so each is
// defined once. The counters (f64 slots of a layer's stats region) written by
// lowrankForward and lowrankSignStats (runtime/kernels/lowrank.ts).

export const LOWRANK_STAT_EXAMPLES = 0;
export const LOWRANK_STAT_COMPUTED = 1;
export const LOWRANK_STAT_MACS = 2;
export const LOWRANK_STAT_AGREE = 3;
export const LOWRANK_STAT_POSITIVE = 4;
export const LOWRANK_STAT_FALSE_NEGATIVE = 5;
export const LOWRANK_STAT_MEASURED = 6;
export const LOWRANK_STAT_ESTIMATED = 7;
export const LOWRANK_STAT_COUNT = 8;

/** lowrankProjectionMode: T = X U as one GEMM, or per example over the input's nonzeros. */
export const LOWRANK_PROJECT_SPARSE = 0;
export const LOWRANK_PROJECT_GEMM = 1;
/** lowrankExactMode: per example, unit-major over active lists, or the dense GEMM masked. */
export const LOWRANK_EXACT_BY_EXAMPLE = 0;
export const LOWRANK_EXACT_BY_UNIT = 1;
export const LOWRANK_EXACT_DENSE = 2;
