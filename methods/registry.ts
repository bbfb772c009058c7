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

/** Every method the compiler knows: the built-in ones and those registered from outside. */
export const METHODS: MethodUnit[] = [denseMethod, lowrankMethod, treeMethod, policyMethod, moeMethod] as MethodUnit<any, any>[];

/**
 * Adds a method from outside (an app's or a test's own unit) to the registry, as if it had a
 * line here: `check`, `compile` and the CLI then accept its syntax. Throws a TypeError, and
 * registers nothing, when it contradicts the registry (a key, a syntax or a diagnostic code
 * already taken); `validate` builds the lookup table that checks this.
 */
export function registerMethod(unit: MethodUnit<any, any>, validate: (units: readonly MethodUnit[]) => void): void {
  validate([...METHODS, unit]);
  METHODS.push(unit);
}
