// Constants shared by the kernels (AssemblyScript) and the compiler and runtime (TypeScript),
// written in the subset both languages read alike (`export const NAME = <integer>;`), so each is
// defined once. Codes of the policy kernels (runtime/kernels/policy.ts).

/** REINFORCE baseline of `policyBaseline`. */
export const BASELINE_NONE = 0;
export const BASELINE_BATCH_MIN = 1;
export const BASELINE_BATCH_MEAN = 2;
export const BASELINE_MOVING_AVERAGE = 3;

/** Test-time policy mode of `policySample`: sample masks, or threshold p > 0.5. */
export const POLICY_TEST_SAMPLE = 0;
export const POLICY_TEST_THRESHOLD = 1;

/** RNG streams of test-time sampling start here (policyStream of this + the eval call count), far above any training step. */
export const POLICY_EVAL_STREAM_BASE = 0x2000000;
