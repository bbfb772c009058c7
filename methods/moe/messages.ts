/**
 * @fileoverview The mixture-of-experts layer's diagnostics (docs/language.md lists them).
 */
import type { DiagnosticMessage } from "../../compiler/frontend/diagnostic-messages.js";

export const MOE_MESSAGES = {
  topKAboveExperts: { code: "CD3101", severity: "error", template: "moe layer '{layer}' routes each example to top_k = {k} experts but has only {experts}; top_k must be <= experts" },
  tooLarge: { code: "CD3102", severity: "error", template: "moe layer '{layer}' needs {bytes} bytes of parameters with {experts} experts, more than the 4 GiB WebAssembly memory; {advice}" },
  capacityNeverDrops: { code: "CD4101", severity: "warning", template: "capacity {capacity} of moe layer '{layer}' never drops a pair: an expert gets at most one pair per example, and capacity * top_k / experts = {ratio} >= 1; leave 'capacity' out for the dropless layer" },
  loadTermNeedsNoise: { code: "CD4102", severity: "warning", template: "the load term of balance 'cv' in moe layer '{layer}' gives no gradient without noisy gating (the routed count is piecewise constant); use 'gating: noisy', or a load weight of 0" },
  oneExpert: { code: "CD4103", severity: "warning", template: "moe layer '{layer}' has one expert: its {what} has no effect" },
} as const satisfies Record<string, DiagnosticMessage>;
