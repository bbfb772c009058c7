/**
 * @fileoverview The tree layer's diagnostics (codes kept from the central table they came from).
 */
import type { DiagnosticMessage } from "../../compiler/frontend/diagnostic-messages.js";

export const TREE_MESSAGES = {
  tooLarge: { code: "CD3010", severity: "error", template: "tree layer '{layer}' needs {bytes} bytes of weights at depth {depth}, more than the 4 GiB WebAssembly memory; {advice}" },
  decayNeedsPlainSgd: { code: "CD4004", severity: "warning", template: "tree layers decay weights lazily, which is exact only for plain SGD; momentum {momentum} makes weight_decay approximate" },
} as const satisfies Record<string, DiagnosticMessage>;
