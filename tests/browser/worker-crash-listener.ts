/**
 * @fileoverview Installed before condc's worker listener (worker-crash.ts imports it first):
 * on a predict call, stops the message from reaching the model and throws.
 */
const scope = globalThis as unknown as { addEventListener(type: "message", handler: (event: MessageEvent<{ kind: string; method?: string }>) => void): void };
scope.addEventListener("message", (event) => {
  if (event.data.kind !== "call" || event.data.method !== "predict") return;
  event.stopImmediatePropagation();
  throw new Error("crashed on purpose");
});
