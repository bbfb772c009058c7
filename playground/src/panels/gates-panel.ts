/**
 * @fileoverview The gate views. Nothing here knows a method: each view is chosen by the shape of
 * what the runtime reports (docs/reports.md), so a new method's figures appear without code here.
 *  - every method's extra measurements (`analyze`: e.g. the low-rank estimators' sign agreement
 *    and false-negative rate) as lines over training, one plot per measure, one line per layer;
 *  - every per-layer array figure (e.g. a policy's per-block activation probability) as a heat
 *    map over training steps;
 *  - per-example decisions (`gateDecisions`): how often each unit, block, leaf or expert is used
 *    over the test set (a tree's leaf occupancy, experts' load), a row of test digits with the
 *    prediction, and for the selected one which units, blocks, leaves or experts fired.
 */
import type { Dataset } from "../../../runtime/data/dataset.js";
import type { DecisionsReport, GateDecisions } from "../../../runtime/decisions.js";
import type { Manifest } from "../../../runtime/manifest.js";
import type { ModelAnalyses, ModelFigures } from "../../../runtime/report.js";
import type { DecisionUnit } from "../../../methods/runtime-unit.js";
import type { WorkerModel } from "../../../runtime/worker/client.js";
import { BarStrip, HeatMap, LinePlot } from "../plots.js";
import { el } from "../ui.js";
import { CellGrid, drawDigit } from "./pictures.js";

/** Test examples whose decisions are counted, and how many are shown as digits. */
const DECISION_EXAMPLES = 2000;
const ROW = 12;

const NOUNS: Record<DecisionUnit, { plural: string; usage: string }> = {
  unit: { plural: "units", usage: "share of test examples computing each unit" },
  block: { plural: "blocks", usage: "block activation rate over the test set" },
  leaf: { plural: "leaves", usage: "leaf occupancy over the test set" },
  expert: { plural: "experts", usage: "expert load over the test set" },
};

const words = (key: string): string => key.replace(/_/g, " ");

export class GatesPanel {
  private readonly summary = el("div", { className: "gate-summary", attrs: { "data-testid": "gate-summary" } });
  private readonly measures = el("div", { className: "plots" });
  private readonly heatmaps = el("div", { className: "plots" });
  private readonly digits = el("div", { className: "digits-row", attrs: { "data-testid": "digits-row" } });
  private readonly fired = el("div", { className: "fired", attrs: { "data-testid": "fired" } });
  private readonly usage = el("div", { className: "plots" });
  private readonly measurePlots = new Map<string, LinePlot>();
  private readonly heat = new Map<string, HeatMap>();
  private latest: { figures: ModelFigures | null; analyses: ModelAnalyses | null } = { figures: null, analyses: null };
  private manifest: Manifest | null = null;
  private report: DecisionsReport | null = null;
  private test: Dataset | null = null;
  private selected = 0;

  constructor(root: HTMLElement) {
    root.append(
      el("h2", {}, ["gates ", el("small", {}, ["what the gates choose, and how well"])]),
      this.summary,
      this.measures,
      this.heatmaps,
      el("h3", {}, ["test digits ", el("small", {}, ["prediction; click one to see what fired"])]),
      this.digits,
      this.fired,
      this.usage,
    );
    this.summary.textContent = "train a model to see its gates.";
  }

  /** A new run: forget the previous views. */
  start(manifest: Manifest, test: Dataset): void {
    this.manifest = manifest;
    this.test = test;
    this.latest = { figures: null, analyses: null };
    this.measurePlots.clear();
    this.heat.clear();
    this.measures.replaceChildren();
    this.heatmaps.replaceChildren();
    this.renderSummary();
  }

  /** Extra measurements (per layer, numbers) at a step: one line per layer in each measure's plot. */
  analysis(step: number, analyses: ModelAnalyses | null): void {
    if (!analyses) return;
    this.latest.analyses = analyses;
    const byMeasure = new Map<string, Record<string, number>>();
    for (const [layer, metrics] of Object.entries(analyses.layers)) {
      for (const [key, value] of Object.entries(metrics)) byMeasure.set(key, { ...byMeasure.get(key), [layer]: value });
    }
    for (const [key, values] of byMeasure) {
      let plot = this.measurePlots.get(key);
      if (!plot) {
        plot = new LinePlot(this.measures, { title: `${words(key)} (test examples)`, xLabel: "step", yRange: [0, 1], markers: true }, `measure-${key}`);
        this.measurePlots.set(key, plot);
      }
      plot.push(step, values);
    }
    this.renderSummary();
  }

  /** Training figures so far this epoch: array figures become heat map columns. */
  progress(_step: number, figures: ModelFigures | null): void {
    for (const [layer, f] of figures?.layers ?? []) {
      for (const [key, value] of Object.entries(f.metrics)) {
        if (!Array.isArray(value) || value.length === 0) continue;
        const id = `${layer}/${key}`;
        let map = this.heat.get(id);
        if (!map) {
          map = new HeatMap(this.heatmaps, `${layer}: ${words(key)} per index, over training steps`, "index");
          map.root.dataset["testid"] = `heatmap-${layer}-${key}`;
          this.heat.set(id, map);
        }
        map.push(value);
      }
    }
  }

  /** After an epoch: its test figures and measurements. */
  epoch(step: number, figures: ModelFigures, analyses: ModelAnalyses | null): void {
    this.latest.figures = figures;
    this.analysis(step, analyses);
    this.renderSummary();
  }

  private renderSummary(): void {
    const figures = this.latest.figures;
    const manifest = this.manifest;
    if (!manifest) return;
    const lines = manifest.layers
      .filter((l) => l.delta !== null)
      .map((l) => {
        const f = figures?.layers.get(l.name);
        const parts = [`${l.name}`, l.method, `${l.inputs} → ${l.units}`];
        if (f?.activeFraction != null) parts.push(`${(100 * f.activeFraction).toFixed(1)}% active (test)`);
        if (f) parts.push(`${Math.round(f.macsPerExample).toLocaleString("en-US")} of ${Math.round(f.denseMacsPerExample).toLocaleString("en-US")} MACs/example${f.macsCounted ? "" : " (cost model)"}`);
        for (const [key, value] of Object.entries(this.latest.analyses?.layers[l.name] ?? {})) parts.push(`${words(key)} ${value.toFixed(3)}`);
        return el("li", { dataset: { layer: l.name } }, [parts.join(" · ")]);
      });
    this.summary.replaceChildren(el("ul", {}, lines));
  }

  /** Runs the first test examples through the model and shows what the gates chose. */
  async showDecisions(handle: WorkerModel, test: Dataset): Promise<void> {
    const n = Math.min(test.count, DECISION_EXAMPLES);
    this.test = test;
    this.manifest = handle.manifest;
    this.report = await handle.decisions(test.images.subarray(0, n * test.width), n, { keep: ROW });
    this.selected = Math.min(this.selected, Math.max(0, Math.min(ROW, n) - 1));
    this.renderDigits();
    this.renderFired();
  }

  private renderDigits(): void {
    const report = this.report;
    const test = this.test;
    if (!report || !test) return;
    const k = this.manifest?.classes ?? 1;
    const items: HTMLElement[] = [];
    for (let i = 0; i < Math.min(ROW, test.count); i++) {
      let best = 0;
      for (let c = 1; c < k; c++) if (report.probs[i * k + c]! > report.probs[i * k + best]!) best = c;
      const label = test.labels[i]!;
      const canvas = drawDigit(test.images.subarray(i * test.width, (i + 1) * test.width));
      const item = el("button", {
        className: `digit ${best === label ? "right" : "wrong"}${i === this.selected ? " selected" : ""}`,
        title: `example ${i}: label ${label}, predicted ${best} (p = ${report.probs[i * k + best]!.toFixed(2)})`,
        dataset: { example: String(i), prediction: String(best), label: String(label) },
        attrs: { type: "button" },
      }, [canvas, el("span", {}, [best === label ? `${best}` : `${best} (${label})`])]);
      item.addEventListener("click", () => {
        this.selected = i;
        this.renderDigits();
        this.renderFired();
      });
      items.push(item);
    }
    this.digits.replaceChildren(...items);
  }

  private renderFired(): void {
    const report = this.report;
    if (!report) return;
    if (report.layers.length === 0) {
      this.fired.replaceChildren(el("p", { className: "note" }, ["no layer of this model reports per-example decisions (a dense model computes everything)."]));
      this.usage.replaceChildren();
      return;
    }
    const i = this.selected;
    this.fired.replaceChildren(
      ...report.layers.map((layer: GateDecisions) => {
        const chosen = layer.perExample[i] ?? new Int32Array(0);
        const grid = new CellGrid(layer.total);
        grid.show(new Set(chosen));
        return el("figure", { className: "cells", dataset: { layer: layer.layer, active: String(chosen.length), total: String(layer.total) } }, [
          el("figcaption", {}, [`${layer.layer} (${layer.method}), example ${i}: ${chosen.length} of ${layer.total} ${NOUNS[layer.of].plural} computed`]),
          grid.canvas,
        ]);
      }),
    );
    this.usage.replaceChildren();
    for (const layer of report.layers) {
      const bars = new BarStrip(this.usage, `${layer.layer}: ${NOUNS[layer.of].usage} (${layer.examples} examples; orange: example ${i})`);
      bars.root.dataset["testid"] = `usage-${layer.layer}`;
      bars.show(Array.from(layer.counts, (c) => c / Math.max(layer.examples, 1)), Math.max(...Array.from(layer.counts, (c) => c / Math.max(layer.examples, 1)), 1e-9), new Set(layer.perExample[i] ?? []));
    }
  }
}
