// Constants shared by the kernels (AssemblyScript) and the compiler and runtime (TypeScript),
// written in the subset both languages read alike (`export const NAME = <integer>;`), so each is
// defined once. Codes of the mixture-of-experts kernels (runtime/kernels/moe.ts, moerouter.ts).

/** Mixture-of-experts balance loss of `moeBalanceLoss` / `moeRouterBackward` (c1, c2: docs/methods/moe.md). */
export const MOE_BALANCE_NONE = 0;
export const MOE_BALANCE_SWITCH = 1;
export const MOE_BALANCE_CV = 2;

/** Mixture-of-experts counters (f64 slots of a stats region) added to by moeAccumulateStats; then one load per expert. */
export const MOE_STAT_EXAMPLES = 0;
export const MOE_STAT_PAIRS = 1;
export const MOE_STAT_DROPPED = 2;
export const MOE_STAT_MACS = 3;
export const MOE_STAT_ENTROPY = 4;
export const MOE_STAT_BALANCE = 5;
export const MOE_STAT_LOAD = 6;
