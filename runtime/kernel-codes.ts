// Constants shared by the kernels (AssemblyScript, runtime/kernels/) and the compiler and runtime
// (TypeScript): integer codes passed as kernel arguments and counter layouts. Written in the
// subset both languages read alike (`export const NAME = <integer>;`), so each is defined once.

/** Activation of the block-sparse and policy kernels' `kind` argument. */
export const ACTIVATION_LINEAR = 0;
export const ACTIVATION_RELU = 1;
export const ACTIVATION_TANH = 2;
export const ACTIVATION_SIGMOID = 3;

/** REINFORCE baseline of `policyBaseline`. */
export const BASELINE_NONE = 0;
export const BASELINE_BATCH_MIN = 1;
export const BASELINE_BATCH_MEAN = 2;
export const BASELINE_MOVING_AVERAGE = 3;

/** Test-time policy mode of `policySample`: sample masks, or threshold p > 0.5. */
export const POLICY_TEST_SAMPLE = 0;
export const POLICY_TEST_THRESHOLD = 1;

/** Tree gater bits of `treeBits`. */
export const TREE_BITS_DETERMINISTIC = 0;
export const TREE_BITS_REINFORCE = 1;
export const TREE_BITS_NOISY = 2;

/** Tree node learning-rate multiplier of `treeUpdate` / `treeUnitUpdate`. */
export const TREE_LEVEL_UNIFORM = 0;
export const TREE_LEVEL_SCALED = 1;
export const TREE_LEVEL_BUCKET = 2;

/** Low-rank counters (f64 slots of the stats region) written by lowrankForward / lowrankSignStats. */
export const LOWRANK_STAT_EXAMPLES = 0;
export const LOWRANK_STAT_COMPUTED = 1;
export const LOWRANK_STAT_MACS = 2;
export const LOWRANK_STAT_AGREE = 3;
export const LOWRANK_STAT_POSITIVE = 4;
export const LOWRANK_STAT_FALSE_NEGATIVE = 5;
export const LOWRANK_STAT_MEASURED = 6;
export const LOWRANK_STAT_ESTIMATED = 7;
export const LOWRANK_STAT_COUNT = 8;

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
