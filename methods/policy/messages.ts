/**
 * @fileoverview The policy gate's diagnostics (codes kept from the central table they came from).
 */
import type { DiagnosticMessage } from "../../compiler/frontend/diagnostic-messages.js";

export const POLICY_MESSAGES = {
  blocksMustDivide: { code: "CD3008", severity: "error", template: "policy blocks ({blocks}) must divide the layer's {units} units" },
  unknownTrainer: { code: "CD2028", severity: "error", template: "unknown policy trainer '{name}'" },
  unusedSettings: { code: "CD4003", severity: "warning", template: "train setting 'policy' has no effect: the model has no learned policy gate" },
} as const satisfies Record<string, DiagnosticMessage>;
