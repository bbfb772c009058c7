/**
 * @fileoverview The low-rank gate's diagnostics (codes kept from the central table they came from).
 */
import type { DiagnosticMessage } from "../../compiler/frontend/diagnostic-messages.js";

export const LOWRANK_MESSAGES = {
  rankRange: { code: "CD3006", severity: "error", template: "lowrank rank must satisfy 1 <= rank < min(inputs, units) = {limit} for layer '{layer}', got {rank}" },
  needsRelu: { code: "CD3007", severity: "error", template: "gate 'lowrank' needs activation 'relu' (a sign estimate only predicts zeros under a rectifier); layer '{layer}' is {activation}" },
  rankAboveBreakEven: { code: "CD4001", severity: "warning", template: "lowrank rank {rank} is at or above the break-even rank {breakEven} = {inputs}*{units}/({inputs}+{units}) of layer '{layer}': the estimator costs at least as much as it can save" },
} as const satisfies Record<string, DiagnosticMessage>;
