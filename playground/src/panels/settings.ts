/**
 * @fileoverview The train panel's settings: epochs, batch, learning rate and seed, filled from the
 * model's `train { }` block whenever the block changes, editable for the next run; each value
 * checked with a message naming the field.
 */
import type { TrainConfig } from "../../../compiler/frontend/model.js";
import { el } from "../ui.js";

export interface RunSettings {
  epochs: number;
  batch: number;
  lr: number;
  seed: number;
}

interface Field {
  key: keyof RunSettings;
  label: string;
  input: HTMLInputElement;
  parse(text: string): number | string;
}

const integer = (min: number, max: number, what: string) => (text: string): number | string => {
  const n = Number(text);
  return text.trim() !== "" && Number.isInteger(n) && n >= min && n <= max ? n : `${what} must be an integer from ${min} to ${max}, got "${text}"`;
};

export class SettingsForm {
  readonly root: HTMLElement;
  private readonly fields: Field[];
  private fromSource = "";

  constructor() {
    const make = (key: keyof RunSettings, label: string, parse: Field["parse"], step: string): Field => {
      const input = el("input", { attrs: { type: "number", step, "data-testid": key, "aria-label": label } });
      return { key, label, input, parse };
    };
    this.fields = [
      make("epochs", "epochs", integer(1, 1000, "epochs"), "1"),
      make("batch", "batch", integer(1, 4096, "batch"), "1"),
      make("lr", "learning rate", (t) => {
        const n = Number(t);
        return t.trim() !== "" && Number.isFinite(n) && n > 0 && Number.isFinite(Math.fround(n)) ? n : `learning rate must be a positive number, got "${t}"`;
      }, "any"),
      make("seed", "seed", integer(0, 2 ** 32 - 1, "seed"), "1"),
    ];
    this.root = el("div", { className: "settings" }, this.fields.map((f) => el("label", {}, [f.label, " ", f.input])));
  }

  /** Refills the fields when the source's settings changed (edits to the fields stay otherwise). */
  fromModel(train: TrainConfig): void {
    const values: RunSettings = { epochs: train.epochs, batch: train.batch, lr: train.optimizer.lr, seed: train.seed };
    const key = JSON.stringify(values);
    if (key === this.fromSource) return;
    this.fromSource = key;
    for (const f of this.fields) f.input.value = String(values[f.key]);
  }

  /** The settings, or the first problem. */
  read(): RunSettings | string {
    const out: Partial<RunSettings> = {};
    for (const f of this.fields) {
      const value = f.parse(f.input.value);
      if (typeof value === "string") return value;
      out[f.key] = value;
    }
    return out as RunSettings;
  }
}
