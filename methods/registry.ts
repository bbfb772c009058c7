/**
 * @fileoverview The compiler's registry of methods. Adding a method is one entry here and one
 * in `runtime-registry.ts` (or no edit at all: `compile(text, { methods })` and
 * `loadModel(..., { methods })` take units from outside; docs/adding-a-method.md).
 */
import type { MethodUnit } from "./unit.js";
import { denseMethod } from "./dense/method.js";
import { lowrankMethod } from "./lowrank/method.js";
import { treeMethod } from "./tree/method.js";
import { policyMethod } from "./policy/method.js";
import { moeMethod } from "./moe/method.js";

export const METHODS: readonly MethodUnit[] = [denseMethod, lowrankMethod, treeMethod, policyMethod, moeMethod] as readonly MethodUnit<any, any>[];
