/**
 * @fileoverview How `train`, `eval` and `bench` print the shared figures (docs/reports.md): the
 * JSON fields (snake_case: whole-model `macs_per_example` and `dense_macs_per_example`; per layer
 * under `layers`) and one text line per layer with something to say.
 */
import type { ModelAnalyses, ModelFigures } from "../runtime/report.js";

/** Every method's extra measurements (runtime/report.ts's `analyzeModel`). */
export type Analyses = ModelAnalyses;

/** The figures as JSON fields; `analyses` (e.g. sign agreement) are merged into the layers. */
export function figuresJson(figures: ModelFigures, analyses?: Analyses): Record<string, unknown> {
  const layers: Record<string, unknown> = {};
  for (const [name, f] of figures.layers) {
    layers[name] = {
      method: f.method,
      macs_per_example: f.macsPerExample,
      dense_macs_per_example: f.denseMacsPerExample,
      macs_source: f.macsCounted ? "counted" : "cost_model",
      ...(f.activeFraction !== null ? { active_fraction: f.activeFraction } : {}),
      ...f.metrics,
      ...(analyses?.layers[name] ?? {}),
    };
  }
  return {
    macs_per_example: figures.macsPerExample,
    dense_macs_per_example: figures.denseMacsPerExample,
    mac_ratio: figures.macsPerExample > 0 ? figures.denseMacsPerExample / figures.macsPerExample : 0,
    ...(analyses?.model ?? {}),
    layers,
  };
}

const integer = (n: number) => Math.round(n).toLocaleString("en-US");

function metricText(key: string, value: number | number[] | string): string | null {
  if (typeof value === "string") return `${key.replace(/_/g, " ")} ${value}`;
  if (Array.isArray(value)) {
    if (value.length === 0) return null;
    let lo = value[0]!, hi = value[0]!;
    for (const v of value) {
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    return `${key.replace(/_/g, " ")} [${lo.toFixed(3)}, ${hi.toFixed(3)}]`;
  }
  return `${key.replace(/_/g, " ")} ${Number.isInteger(value) ? value : value.toFixed(3)}`;
}

/** One line per layer that is not plain dense, then the whole model. */
export function figuresText(figures: ModelFigures, analyses?: Analyses): string[] {
  const lines: string[] = [];
  for (const [name, f] of figures.layers) {
    if (f.method === "dense") continue;
    const parts = [`${integer(f.macsPerExample)} MACs/example${f.macsCounted ? "" : " (cost model)"} of ${integer(f.denseMacsPerExample)} dense`];
    if (f.activeFraction !== null) parts.unshift(`${(100 * f.activeFraction).toFixed(1)}% active`);
    for (const [key, value] of Object.entries({ ...f.metrics, ...(analyses?.layers[name] ?? {}) })) {
      const text = metricText(key, value);
      if (text) parts.push(text);
    }
    lines.push(`  ${name} (${f.method}): ${parts.join(", ")}`);
  }
  const ratio = figures.macsPerExample > 0 ? figures.denseMacsPerExample / figures.macsPerExample : 0;
  lines.push(`  whole model: ${integer(figures.macsPerExample)} MACs/example vs ${integer(figures.denseMacsPerExample)} dense (${ratio.toFixed(2)}x)`);
  for (const [key, value] of Object.entries(analyses?.model ?? {})) lines.push(`  ${key.replace(/_/g, " ")}: ${value.toFixed(4)}`);
  return lines;
}
