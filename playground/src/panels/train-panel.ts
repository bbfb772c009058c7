/**
 * @fileoverview The train panel: data (bundled digits or dropped IDX files), the run's settings,
 * Train and Stop, and live plots fed by `condc/worker`'s training events: the loss of every step,
 * test accuracy per epoch, examples per second, and each gated layer's active fraction (while
 * training, and on the test set after each epoch). Stop aborts the run through its AbortSignal.
 */
import type { CheckedModel } from "../../../compiler/frontend/model.js";
import type { Dataset } from "../../../runtime/data/dataset.js";
import type { ModelFigures } from "../../../runtime/report.js";
import type { DataStore } from "../data/data-store.js";
import { LinePlot } from "../plots.js";
import type { Loaded, Session } from "../session.js";
import type { Status } from "../status.js";
import { el, messageOf } from "../ui.js";
import type { GatesPanel } from "./gates-panel.js";
import { SettingsForm, type RunSettings } from "./settings.js";

/** Test examples each epoch's extra measurements (sign agreement, ...) run on. */
const ANALYZE_EXAMPLES = 1000;

/** The first `count` examples (views). */
export function prefix(data: Dataset, count: number): Dataset {
  const n = Math.min(count, data.count);
  return { ...data, count: n, images: data.images.subarray(0, n * data.width), labels: data.labels.subarray(0, n) };
}

/** Active fraction of every layer that reports one. */
function fractions(figures: ModelFigures | null, suffix: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, f] of figures?.layers ?? []) if (f.activeFraction !== null) out[`${name} ${suffix}`] = f.activeFraction;
  return out;
}

export class TrainPanel {
  private readonly settings = new SettingsForm();
  private readonly dataSelect = el("select", { attrs: { "data-testid": "data-select", "aria-label": "data" } });
  private readonly fileInput = el("input", { attrs: { type: "file", multiple: "", "data-testid": "idx-files", "aria-label": "IDX files" } });
  private readonly trainButton = el("button", { textContent: "train", attrs: { type: "button", "data-testid": "train-button" } });
  private readonly stopButton = el("button", { textContent: "stop", attrs: { type: "button", "data-testid": "stop-button", disabled: "" } });
  private readonly dataHint = el("p", { className: "note", attrs: { "data-testid": "data-hint" } });
  private readonly continueBox = el("input", { attrs: { type: "checkbox", "data-testid": "continue" } });
  private readonly readout = {
    step: el("span", { textContent: "–", attrs: { "data-testid": "step" } }),
    epoch: el("span", { textContent: "–" }),
    loss: el("span", { textContent: "–", attrs: { "data-testid": "loss" } }),
    accuracy: el("span", { textContent: "–", attrs: { "data-testid": "accuracy" } }),
    speed: el("span", { textContent: "–", attrs: { "data-testid": "examples-per-second" } }),
  };
  private readonly loss: LinePlot;
  private readonly accuracy: LinePlot;
  private readonly throughput: LinePlot;
  private readonly active: LinePlot;
  private checked: CheckedModel | null = null;
  private controller: AbortController | null = null;

  constructor(root: HTMLElement, private readonly session: Session, private readonly store: DataStore, private readonly status: Status, private readonly gates: GatesPanel) {
    const plots = el("div", { className: "plots" });
    root.append(
      el("h2", {}, ["train ", el("small", {}, ["in a worker, through condc/worker"])]),
      el("div", { className: "row" }, [el("label", {}, ["data ", this.dataSelect]), el("label", { className: "file", title: "or drop them anywhere on the page" }, ["IDX files… ", this.fileInput])]),
      this.dataHint,
      this.settings.root,
      el("div", { className: "row" }, [this.trainButton, this.stopButton, el("label", {}, [this.continueBox, " continue from the current weights"])]),
      el("p", { className: "readout" }, [
        "step ", this.readout.step, " · epoch ", this.readout.epoch, " · loss ", this.readout.loss,
        " · test accuracy ", this.readout.accuracy, " · examples/s ", this.readout.speed,
      ]),
      plots,
    );
    this.loss = new LinePlot(plots, { title: "training loss per step", xLabel: "step" }, "loss-plot");
    this.accuracy = new LinePlot(plots, { title: "accuracy per epoch", xLabel: "epoch", yRange: [0, 1], points: true }, "accuracy-plot");
    this.throughput = new LinePlot(plots, { title: "training examples / s", xLabel: "step" }, "speed-plot");
    this.active = new LinePlot(plots, { title: "active fraction per gated layer (lines: training steps, dots: test set)", xLabel: "step", yRange: [0, 1], pointSeries: (name) => name.endsWith(" test") }, "active-fraction");
    this.trainButton.addEventListener("click", () => void this.train());
    this.stopButton.addEventListener("click", () => this.stop());
    this.fileInput.addEventListener("change", () => void this.addFiles([...(this.fileInput.files ?? [])]));
    store.onChange(() => this.renderDataChoices());
    this.dataSelect.addEventListener("change", () => this.updateHint());
    this.renderDataChoices();
    this.updateButtons();
  }

  /** After each check: the settings follow the source's train block; Train needs a clean text. */
  modelChecked(model: CheckedModel | null): void {
    this.checked = model;
    if (model) this.settings.fromModel(model.train);
    this.updateButtons();
    this.updateHint();
  }

  /** Says when the chosen data is not what the model's train block names. */
  private updateHint(): void {
    const wanted = this.checked?.train.data;
    const chosen = this.dataSelect.value;
    const named = wanted === undefined ? null : wanted.kind === "idx" ? `idx("${wanted.dir}")` : wanted.kind;
    const matches = wanted === undefined || (wanted.kind === "mnist" ? chosen === "mnist" : chosen === "dropped");
    this.dataHint.textContent = matches
      ? ""
      : `The model's train block names ${named}: drop its IDX files on the page (train-images, train-labels, t10k-images, t10k-labels) to train on them; until then it trains on ${this.store.get(chosen)?.label ?? "the chosen data"}.`;
  }

  /** The settings as typed, or the model's defaults where a field is not valid. */
  currentSettings(): RunSettings {
    const read = this.settings.read();
    if (typeof read !== "string") return read;
    const t = this.checked?.train;
    return { epochs: t?.epochs ?? 1, batch: t?.batch ?? 128, lr: t?.optimizer.lr ?? 0.05, seed: t?.seed ?? 0 };
  }

  get running(): boolean {
    return this.controller !== null;
  }

  async addFiles(files: File[]): Promise<void> {
    if (files.length === 0) return;
    this.status.set(`reading ${files.length} files…`, "busy");
    try {
      const choice = await this.store.addFiles(files);
      this.dataSelect.value = choice.id;
      this.updateHint();
      this.status.set(`data: ${choice.label}`);
    } catch (error) {
      this.status.set(messageOf(error), "error");
    }
  }

  /** The chosen data, checked against the model's input and classes; a string says what is wrong. */
  chosenData(): { train: Dataset; test: Dataset } | string {
    const choice = this.store.get(this.dataSelect.value);
    if (!choice) return this.store.choices.length === 0 ? "the bundled digits are still loading" : "choose the data";
    const model = this.checked;
    if (!model) return "the model has errors";
    if (choice.split.train.width !== model.input.width) return `the model's input ${model.input.name} has ${model.input.width} features; ${choice.label} has ${choice.split.train.width}`;
    const classes = Math.max(choice.split.train.classes, choice.split.test.classes);
    if (classes > model.target.classes) return `${choice.label} has labels up to ${classes - 1}; the model's target ${model.target.name} has ${model.target.classes} classes`;
    return choice.split;
  }

  private renderDataChoices(): void {
    const selected = this.dataSelect.value;
    this.dataSelect.replaceChildren(...this.store.choices.map((c) => el("option", { textContent: c.label, attrs: { value: c.id } })));
    if (selected && this.store.get(selected)) this.dataSelect.value = selected;
    this.updateButtons();
    this.updateHint();
  }

  private updateButtons(): void {
    this.trainButton.disabled = this.running || this.checked === null || this.store.choices.length === 0;
    this.stopButton.disabled = !this.running;
  }

  private stop(): void {
    if (!this.controller) return;
    this.status.set("stopping…", "busy");
    this.controller.abort(new DOMException("training stopped", "AbortError"));
  }

  private async train(): Promise<void> {
    if (this.running) return;
    const settings = this.settings.read();
    const data = this.chosenData();
    const problem = typeof settings === "string" ? settings : typeof data === "string" ? data : null;
    if (problem !== null || typeof settings === "string" || typeof data === "string") {
      this.status.set(problem ?? "", "error");
      return;
    }
    const controller = new AbortController();
    this.controller = controller;
    this.updateButtons();
    for (const plot of [this.loss, this.accuracy, this.throughput, this.active]) plot.clear();
    for (const readout of Object.values(this.readout)) readout.textContent = "–";
    let step = 0;
    let loaded: Loaded | null = null;
    this.session.training = true;
    try {
      this.status.set("compiling…", "busy");
      loaded = await this.session.model(settings.batch, settings.seed);
      const { build, handle } = loaded;
      if (!this.continueBox.checked) await handle.init(settings.seed);
      const analyzed = prefix(data.test, ANALYZE_EXAMPLES);
      this.gates.start(build.result.manifest, data.test);
      this.gates.analysis(handle.step, await handle.analyze(analyzed));
      this.status.set(`training ${build.result.manifest.model} on ${data.train.name} (${build.simd} SIMD${crossOriginIsolated ? ", shared memory" : ""})…`, "busy");
      const result = await handle.train(data, {
        ...settings,
        progressEvery: 1,
        figures: true,
        analyze: ANALYZE_EXAMPLES,
        signal: controller.signal,
        onProgress: (p) => {
          step = p.step;
          this.loss.push(p.step, { loss: p.stepLoss });
          this.throughput.push(p.step, { "examples/s": p.examplesPerSecond });
          const active = fractions(p.figures, "train");
          if (Object.keys(active).length > 0) this.active.push(p.step, active);
          this.gates.progress(p.step, p.figures);
          this.readout.step.textContent = String(p.step);
          this.readout.epoch.textContent = `${p.epoch} / ${p.epochs}`;
          this.readout.loss.textContent = p.stepLoss.toFixed(4);
          this.readout.speed.textContent = Math.round(p.examplesPerSecond).toLocaleString("en-US");
        },
        onEpoch: (e) => {
          this.accuracy.push(e.epoch, { test: e.test.accuracy, train: e.trainAccuracy });
          const active = fractions(e.testFigures, "test");
          if (Object.keys(active).length > 0) this.active.push(e.step, active);
          this.readout.accuracy.textContent = e.test.accuracy.toFixed(4);
          this.gates.epoch(e.step, e.testFigures, e.analyses);
        },
      });
      this.status.set(`trained ${result.epochs.length} epochs: test accuracy ${(100 * result.testAccuracy).toFixed(2)}%, ${Math.round(result.examplesPerSecond).toLocaleString("en-US")} examples/s`);
    } catch (error) {
      if (!controller.signal.aborted) this.status.set(messageOf(error), "error");
      else if (step === 0) this.status.set("stopped before the first step");
      else if (crossOriginIsolated) this.status.set(`stopped after step ${loaded?.handle.step ?? step}`);
      // Without shared memory the worker cannot be interrupted: it was restarted with the weights of the last finished epoch.
      else this.status.set(`stopped at step ${step}; the model is back at step ${loaded?.handle.step ?? 0}, the last finished epoch (no shared memory: the worker restarted)`);
    } finally {
      this.session.training = false;
      this.controller = null;
      this.updateButtons();
      if (loaded?.handle.alive) {
        this.session.weightsChanged("trained");
        await this.gates.showDecisions(loaded.handle, data.test).catch((error) => this.status.set(messageOf(error), "error"));
      }
    }
  }
}
