/**
 * @fileoverview `condc inspect`'s presentation: the cost model as an aligned text table with
 * footnotes, or as JSON with the report fields every command shares (docs/reports.md).
 */
import type { InspectReport } from "../compiler/frontend/inspect.js";
import type { LayerCost } from "../compiler/frontend/cost.js";

const integer = (n: number) => Math.round(n).toLocaleString("en-US");

function decimal(n: number): string {
  if (n >= 100) return n.toFixed(1);
  if (n >= 10) return n.toFixed(2);
  return n.toFixed(3).replace(/\.?0+$/, "") || "0";
}

/** SI units: 3,140,000 bytes -> "3.14 MB". */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return "more than any memory";
  const units = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(2)} ${units[unit]}`;
}

function densityLabel(cost: LayerCost): string {
  if (cost.density === null) return "-";
  return `${decimal(cost.density)}${cost.densityAssumed ? "*" : ""}`;
}

/** Column widths by a loop, not a spread (a model may have very many layers). */
function alignTable(rows: string[][]): string {
  const widths = rows[0]!.map(() => 0);
  for (const row of rows) row.forEach((cell, column) => (widths[column] = Math.max(widths[column]!, cell.length)));
  return rows
    .map((row) => row.map((cell, column) => (column <= 2 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join("  ").trimEnd())
    .join("\n");
}

/** The table `condc inspect` prints, with footnotes for assumed densities and weight ratios. */
export function inspectTable(report: InspectReport, outputLayer: string, activations: Map<string, string>): string {
  const header = ["layer", "shape", "method", "params", "dense MACs", "gate MACs", "cond. MACs", "density", "ratio", "memory"];
  const rows = report.layers.map((cost) => [
    `${cost.layer}${cost.layer === outputLayer ? " (out)" : ""}`,
    `${cost.inputs}->${cost.units} ${activations.get(cost.layer) ?? ""}`.trimEnd(),
    cost.label,
    integer(cost.parameters),
    integer(cost.denseMacs),
    integer(cost.gateMacs),
    integer(cost.conditionalMacs),
    densityLabel(cost),
    decimal(cost.ratio),
    formatBytes(cost.memoryBytes),
  ]);
  const total = ["total", "", "", integer(report.parameters), integer(report.denseMacs), integer(report.gateMacs), integer(report.conditionalMacs), "", decimal(report.ratio), formatBytes(report.memoryBytes)];
  const lines = [
    `model ${report.model}: input ${report.input.name} f32[${report.input.width}], target ${report.target.name} class[${report.target.classes}]`,
    "",
    alignTable([header, ...rows, total]),
    "",
    `speedup over dense (dense MACs / conditional MACs): ${report.speedup.toFixed(2)}x`,
    "MACs are per example; ratio = parameters / conditional MACs; memory = parameters x 4 bytes (f32).",
  ];
  if (report.layers.some((c) => c.densityAssumed)) lines.push("* assumed density (an option of the layer's gate), not a measurement.");
  for (const cost of report.layers) {
    if (cost.weightRatio > 1.0001) {
      lines.push(`${cost.layer}: weights / MACs of its body = ${cost.weightRatio.toFixed(1)}; gate overhead ${integer(cost.gateMacs)} MACs`);
    }
  }
  return lines.join("\n");
}

/** The JSON `condc inspect --json` prints: the shared report fields plus the cost model's. */
export function inspectJson(report: InspectReport): Record<string, unknown> {
  return {
    model: report.model,
    input: report.input,
    target: report.target,
    parameters: report.parameters,
    macs_per_example: report.conditionalMacs,
    dense_macs_per_example: report.denseMacs,
    gate_macs_per_example: report.gateMacs,
    macs_source: "cost_model",
    speedup: report.speedup,
    ratio: report.ratio,
    memory_bytes: report.memoryBytes,
    layers: Object.fromEntries(
      report.layers.map((c) => [
        c.layer,
        {
          method: c.method,
          label: c.label,
          inputs: c.inputs,
          units: c.units,
          parameters: c.parameters,
          weights: c.weights,
          biases: c.biases,
          gate_parameters: c.gateParameters,
          macs_per_example: c.conditionalMacs,
          dense_macs_per_example: c.denseMacs,
          body_macs_per_example: c.bodyMacs,
          gate_macs_per_example: c.gateMacs,
          ...(c.density !== null ? { active_fraction: c.density, active_fraction_assumed: c.densityAssumed } : {}),
          input_density: c.inputDensity,
          ratio: c.ratio,
          weight_ratio: c.weightRatio,
          memory_bytes: c.memoryBytes,
        },
      ]),
    ),
  };
}
