/**
 * @fileoverview The layout of a moe layer's counters (`<layer>.moe_train_stats`, `moe_eval_stats`,
 * f64), shared by the compiler half (region fields) and the runtime half (reading them); the
 * slots are runtime/kernels/codes/moe.ts's MOE_STAT_*, written by the kernel moeAccumulateStats.
 */
import { MOE_STAT_BALANCE, MOE_STAT_DROPPED, MOE_STAT_ENTROPY, MOE_STAT_EXAMPLES, MOE_STAT_LOAD, MOE_STAT_MACS, MOE_STAT_PAIRS } from "../../runtime/kernels/codes/moe.js";

/** The fixed fields, by slot; then `load_<i>` per expert (pairs routed to expert i, before the capacity). */
export const MOE_COUNTER_FIELDS: readonly string[] = (() => {
  const fields: string[] = [];
  fields[MOE_STAT_EXAMPLES] = "examples";
  fields[MOE_STAT_PAIRS] = "pairs";
  fields[MOE_STAT_DROPPED] = "dropped";
  fields[MOE_STAT_MACS] = "macs";
  fields[MOE_STAT_ENTROPY] = "entropy_sum";
  fields[MOE_STAT_BALANCE] = "balance_sum";
  if (fields.length !== MOE_STAT_LOAD || fields.some((f) => f === undefined)) throw new TypeError("moe counters: MOE_STAT_* slots are not 0..MOE_STAT_LOAD-1");
  return fields;
})();

export function moeCounterFields(experts: number): string[] {
  return [...MOE_COUNTER_FIELDS, ...Array.from({ length: experts }, (_, i) => `load_${i}`)];
}
