/**
 * @fileoverview The registry of layer methods. A method not listed here is refused by
 * `build` with CD5001 ("cannot be built yet").
 */
import { denseMethod } from "./dense.js";
import { lowrankMethod } from "./lowrank.js";
import { policyMethod } from "./policy.js";
import { treeMethod } from "./tree.js";
import { methodKey, type LayerMethod } from "./method.js";

const METHODS: readonly LayerMethod[] = [denseMethod, lowrankMethod, policyMethod, treeMethod];

export function findMethod(layer: { op: string; gate: { kind: string } | null }): LayerMethod | undefined {
  const key = methodKey(layer);
  return METHODS.find((m) => m.key === key);
}

export function allMethods(): readonly LayerMethod[] {
  return METHODS;
}
