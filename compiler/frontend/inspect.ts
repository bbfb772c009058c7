/**
 * @fileoverview What `condc inspect` shows: the cost model (`cost.ts`) of a checked model
 * as an aligned text table, or as JSON.
 */
import { modelCost, type LayerCost, type ModelCost } from "./cost.js";
import type { CheckedLayer, CheckedModel } from "./model.js";

export interface InspectReport extends ModelCost {
  input: CheckedModel["input"];
  target: CheckedModel["target"];
}

export function inspectModel(model: CheckedModel): InspectReport {
  return { ...modelCost(model), input: model.input, target: model.target };
}

export function inspectJson(model: CheckedModel): string {
  return JSON.stringify(inspectModel(model), null, 2);
}

const integer = (n: number) => Math.round(n).toLocaleString("en-US");

function decimal(n: number): string {
  if (n >= 100) return n.toFixed(1);
  if (n >= 10) return n.toFixed(2);
  return n.toFixed(3).replace(/\.?0+$/, "") || "0";
}

/** SI units: 3,140,000 bytes -> "3.14 MB". */
export function formatBytes(bytes: number): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(2)} ${units[unit]}`;
}

function gateLabel(layer: CheckedLayer): string {
  if (layer.tree) return `tree k=${layer.tree.depth}`;
  if (layer.gate?.kind === "lowrank") return `lowrank r=${layer.gate.rank}`;
  if (layer.gate?.kind === "policy") return `${layer.gate.uniform ? "uniform" : "policy"} nb=${layer.gate.blocks}`;
  return "-";
}

function densityLabel(cost: LayerCost): string {
  if (cost.density === null) return "-";
  return `${decimal(cost.density)}${cost.densityAssumed ? "*" : ""}`;
}

/** Loops, not `Math.max(...rows)`: a model may have thousands of layers (no spread of unbounded arrays). */
function alignTable(rows: string[][]): string {
  const widths = rows[0].map(() => 0);
  for (const row of rows) row.forEach((cell, column) => (widths[column] = Math.max(widths[column], cell.length)));
  return rows
    .map((row) => row.map((cell, column) => (column <= 2 ? cell.padEnd(widths[column]) : cell.padStart(widths[column]))).join("  ").trimEnd())
    .join("\n");
}

/** The table `condc inspect` prints, with footnotes for assumed densities and tree ratios. */
export function inspectTable(model: CheckedModel): string {
  const report = inspectModel(model);
  const header = ["layer", "shape", "method", "params", "dense MACs", "gate MACs", "cond. MACs", "density", "ratio", "memory"];
  const rows = report.layers.map((cost, index) => {
    const layer = model.layers[index];
    return [
      `${cost.layer}${layer.isOutput ? " (out)" : ""}`,
      `${cost.inputs}->${cost.units} ${layer.activation}`,
      gateLabel(layer),
      integer(cost.parameters),
      integer(cost.denseMacs),
      integer(cost.gateMacs),
      integer(cost.conditionalMacs),
      densityLabel(cost),
      decimal(cost.ratio),
      formatBytes(cost.memoryBytes),
    ];
  });
  const total = [
    "total",
    "",
    "",
    integer(report.parameters),
    integer(report.denseMacs),
    integer(report.gateMacs),
    integer(report.conditionalMacs),
    "",
    decimal(report.ratio),
    formatBytes(report.memoryBytes),
  ];
  const lines = [
    `model ${model.name}: input ${model.input.name} f32[${model.input.width}], target ${model.target.name} class[${model.target.classes}]`,
    "",
    alignTable([header, ...rows, total]),
    "",
    `speedup over dense (dense MACs / conditional MACs): ${report.speedup.toFixed(2)}x`,
    "MACs are per example; ratio = parameters / conditional MACs; memory = parameters x 4 bytes (f32).",
  ];
  if (report.layers.some((c) => c.densityAssumed)) {
    lines.push("* assumed density (the lowrank gate's `density` option), not a measurement.");
  }
  for (const [index, cost] of report.layers.entries()) {
    const tree = model.layers[index].tree;
    if (tree) {
      const k = tree.depth;
      lines.push(`tree ${cost.layer}: tree weights / tree MACs = (2^${k + 1} - 1) / ${k + 1} = ${cost.weightRatio.toFixed(1)}; gater overhead ${integer(cost.gateMacs)} MACs`);
    }
  }
  return lines.join("\n");
}
