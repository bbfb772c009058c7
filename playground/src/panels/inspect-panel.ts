/**
 * @fileoverview The inspect panel: `condc inspect --json` in the page (the cost model of
 * `inspectModel`, in the JSON fields of `cli/inspect-format.ts`): per layer and for the whole
 * model, parameters, MACs per example (dense, gate overhead, conditional), the expected active
 * fraction, capacity/computation ratio and memory. Recomputed after every clean check.
 */
import { inspectModel } from "../../../compiler/frontend/inspect.js";
import { methodTable } from "../../../compiler/frontend/frontend.js";
import type { CheckedModel } from "../../../compiler/frontend/model.js";
import { formatBytes, inspectJson } from "../../../cli/inspect-format.js";
import { el, formatCount, formatRatio } from "../ui.js";

interface LayerJson {
  method: string;
  label: string;
  inputs: number;
  units: number;
  parameters: number;
  macs_per_example: number;
  dense_macs_per_example: number;
  gate_macs_per_example: number;
  active_fraction?: number;
  active_fraction_assumed?: boolean;
  ratio: number;
  memory_bytes: number;
}

const COLUMNS = ["layer", "method", "shape", "params", "dense MACs", "gate MACs", "cond. MACs", "active", "params / MAC", "memory"];

export class InspectPanel {
  constructor(private readonly root: HTMLElement) {}

  /** Shows the cost of a checked model; with null, marks the last table stale (the text has errors). */
  show(model: CheckedModel | null): void {
    if (model === null) {
      this.root.classList.add("stale");
      this.root.title = "the text has errors: this is the last model that checked";
      return;
    }
    this.root.classList.remove("stale");
    this.root.title = "";
    const json = inspectJson(inspectModel(model, methodTable(undefined)));
    const layers = json["layers"] as Record<string, LayerJson>;
    const rows = Object.entries(layers).map(([name, l]) =>
      el("tr", { dataset: { layer: name } }, [
        el("td", {}, [name]),
        el("td", {}, [l.label]),
        el("td", {}, [`${l.inputs} → ${l.units}`]),
        el("td", { className: "num" }, [formatCount(l.parameters)]),
        el("td", { className: "num" }, [formatCount(l.dense_macs_per_example)]),
        el("td", { className: "num" }, [formatCount(l.gate_macs_per_example)]),
        el("td", { className: "num" }, [formatCount(l.macs_per_example)]),
        el("td", { className: "num", title: l.active_fraction_assumed ? "assumed (an option of the gate), not measured" : "" }, [
          l.active_fraction === undefined ? "–" : `${(100 * l.active_fraction).toFixed(1)}%${l.active_fraction_assumed ? "*" : ""}`,
        ]),
        el("td", { className: "num" }, [formatRatio(l.ratio)]),
        el("td", { className: "num" }, [formatBytes(l.memory_bytes)]),
      ]),
    );
    const total = el("tr", { className: "total" }, [
      el("td", {}, ["model"]),
      el("td", {}, [String(json["model"])]),
      el("td", {}, [`${(json["input"] as { width: number }).width} → ${(json["target"] as { classes: number }).classes}`]),
      el("td", { className: "num" }, [formatCount(json["parameters"] as number)]),
      el("td", { className: "num" }, [formatCount(json["dense_macs_per_example"] as number)]),
      el("td", { className: "num" }, [formatCount(json["gate_macs_per_example"] as number)]),
      el("td", { className: "num" }, [formatCount(json["macs_per_example"] as number)]),
      el("td", {}, []),
      el("td", { className: "num" }, [formatRatio(json["ratio"] as number)]),
      el("td", { className: "num" }, [formatBytes(json["memory_bytes"] as number)]),
    ]);
    const speedup = json["speedup"] as number;
    this.root.replaceChildren(
      el("table", { className: "grid" }, [el("thead", {}, [el("tr", {}, COLUMNS.map((c) => el("th", {}, [c])))]), el("tbody", {}, [...rows, total])]),
      el("p", { className: "note" }, [
        `dense MACs / conditional MACs: ${speedup.toFixed(2)}×. MACs are per example; params / MAC is capacity over computation; memory is the parameters in f32.`,
        Object.values(layers).some((l) => l.active_fraction_assumed) ? " * an assumed density (the gate's option), not a measurement: train to measure it." : "",
      ]),
    );
  }
}
