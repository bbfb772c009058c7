/**
 * @fileoverview Per-layer checks that need the whole layer: gate rules (low-rank rank
 * range and break-even, relu; policy blocks; no gate on the output or a tree) and the
 * tree's WebAssembly memory limit. Builds the checked gate and tree options.
 */
import type { LayerDecl } from "./ast.js";
import { largestTreeDepth, treeWeightBytes } from "./cost.js";
import type { DiagnosticBag } from "./diagnostics.js";
import {
  LOWRANK_DEFAULTS,
  POLICY_DEFAULTS,
  TREE_DEFAULTS,
  WASM_MEMORY_BYTES,
  type GateName,
  type LayerKind,
} from "./language-spec.js";
import type { Activation, Gate, TreeOptions } from "./model.js";
import { booleanOption, choiceOption, numberOption, type OptionValues } from "./options.js";

/** What the first pass learned about a layer; undefined fields were invalid (and reported). */
export interface LayerFacts {
  decl: LayerDecl;
  name: string;
  source: string;
  op?: LayerKind;
  inputs?: number;
  units?: number;
  activation?: Activation;
  options: OptionValues;
  gateName?: GateName;
  gateOptions: OptionValues;
}

/** Rounded for messages: 29.97 -> "30", 383.6 -> "383.6". */
function formatBreakEven(value: number): string {
  return String(Math.round(value * 10) / 10);
}

function checkLowRank(facts: LayerFacts, diagnostics: DiagnosticBag): void {
  const { inputs, units, gateOptions, decl } = facts;
  const rank = gateOptions.get("rank");
  const gateSpan = decl.gate?.name.span ?? decl.span;
  if (typeof rank === "number" && inputs !== undefined && units !== undefined) {
    const limit = Math.min(inputs, units);
    const rankSpan = decl.gate?.options.find((o) => o.name.name === "rank")?.value.span ?? gateSpan;
    if (rank < 1 || rank >= limit) {
      diagnostics.report("lowRankRankRange", rankSpan, { limit, layer: facts.name, rank });
    } else {
      const breakEven = (inputs * units) / (inputs + units);
      if (rank >= breakEven) {
        const args = { rank, breakEven: formatBreakEven(breakEven), inputs, units, layer: facts.name };
        diagnostics.report("rankAboveBreakEven", rankSpan, args);
      }
    }
  }
  if (facts.activation !== undefined && facts.activation !== "relu") {
    const span = decl.activation?.span ?? gateSpan;
    diagnostics.report("lowRankNeedsRelu", span, { layer: facts.name, activation: facts.activation });
  }
}

function checkPolicy(facts: LayerFacts, diagnostics: DiagnosticBag): void {
  const blocks = facts.gateOptions.get("blocks");
  if (typeof blocks === "number" && facts.units !== undefined && facts.units % blocks !== 0) {
    const span = facts.decl.gate?.options.find((o) => o.name.name === "blocks")?.value.span ?? facts.decl.span;
    diagnostics.report("blocksMustDivide", span, { blocks, units: facts.units });
  }
}

/** Reports gate errors; returns the checked gate (meaningful only when no error was reported). */
export function buildGate(facts: LayerFacts, isOutput: boolean, diagnostics: DiagnosticBag): Gate | null {
  const gate = facts.decl.gate;
  if (!gate || !facts.gateName) return null;
  if (isOutput) diagnostics.report("gateOnOutput", gate.span, { layer: facts.name });
  if (facts.op === "tree") diagnostics.report("gateOnTree", gate.span, { gate: facts.gateName, layer: facts.name });
  const values = facts.gateOptions;
  if (facts.gateName === "lowrank") {
    checkLowRank(facts, diagnostics);
    return {
      kind: "lowrank",
      rank: numberOption(values, "rank", 1),
      threshold: numberOption(values, "threshold", LOWRANK_DEFAULTS.threshold),
      refresh: choiceOption(values, "refresh", LOWRANK_DEFAULTS.refresh),
      mode: choiceOption(values, "mode", LOWRANK_DEFAULTS.mode),
      assumedDensity: numberOption(values, "density", LOWRANK_DEFAULTS.density),
    };
  }
  checkPolicy(facts, diagnostics);
  return {
    kind: "policy",
    blocks: numberOption(values, "blocks", 1),
    tau: numberOption(values, "tau", 1),
    squash: numberOption(values, "squash", POLICY_DEFAULTS.squash),
    test: choiceOption(values, "test", POLICY_DEFAULTS.test),
    uniform: booleanOption(values, "uniform", POLICY_DEFAULTS.uniform),
  };
}

export function buildTree(facts: LayerFacts): TreeOptions | null {
  if (facts.op !== "tree") return null;
  const values = facts.options;
  return {
    depth: numberOption(values, "depth", 1),
    layout: choiceOption(values, "layout", TREE_DEFAULTS.layout),
    gaterTraining: choiceOption(values, "gater_training", TREE_DEFAULTS.gaterTraining),
    sigma: numberOption(values, "sigma", TREE_DEFAULTS.sigma),
    levelLr: choiceOption(values, "level_lr", TREE_DEFAULTS.levelLr),
    levelLrMax: numberOption(values, "level_lr_max", TREE_DEFAULTS.levelLrMax),
  };
}

/** Exact byte count for the message, even past 2^53. */
function exactTreeBytes(depth: number, inputs: number, units: number): string {
  if (depth > 200) return `about ${treeWeightBytes(depth, inputs, units).toExponential(2)}`;
  const nodes = 2n ** BigInt(depth + 1) - 1n;
  return (nodes * BigInt(inputs) * BigInt(units) * 4n).toLocaleString("en-US");
}

/** The tree's node weights, (2^(depth+1) - 1) * inputs * units * 4 bytes, must fit wasm32 memory. */
export function checkTreeFits(facts: LayerFacts, tree: TreeOptions | null, diagnostics: DiagnosticBag): void {
  const depth = facts.options.get("depth");
  const { inputs, units } = facts;
  if (!tree || typeof depth !== "number" || inputs === undefined || units === undefined) return;
  if (treeWeightBytes(depth, inputs, units) <= WASM_MEMORY_BYTES) return;
  const largest = largestTreeDepth(inputs, units, WASM_MEMORY_BYTES);
  const advice = largest >= 1 ? `the largest depth that fits is ${largest}` : "no depth fits: use fewer units or inputs";
  const span = facts.decl.options.find((o) => o.name.name === "depth")?.value.span ?? facts.decl.span;
  diagnostics.report("treeTooLarge", span, { layer: facts.name, bytes: exactTreeBytes(depth, inputs, units), depth, advice });
}
