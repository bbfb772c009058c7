/**
 * @fileoverview The model behind the panels: the last text that checked, compiled on demand
 * (`compile()`: milliseconds) and loaded in a Web Worker through `condc/worker`, so training
 * never blocks the page. A new text or a larger batch makes a new build and a new worker; the
 * old worker is disposed. Listeners hear when the weights change (trained, loaded, initialised).
 */
import { compile, type CompileSuccess } from "../../compiler/compile.js";
import { pickWasm } from "../../runtime/simd.js";
import { loadModelInWorker, type WorkerModel } from "../../runtime/worker/browser.js";
import { FILE_NAME } from "./editor/editor.js";

/** Every build allows at least this batch (the speed panel times batch 128). */
export const MIN_MAX_BATCH = 128;

export interface Build {
  source: string;
  result: CompileSuccess;
  wasm: Uint8Array;
  simd: "plain" | "relaxed";
  maxBatch: number;
}

export interface Loaded {
  build: Build;
  handle: WorkerModel;
}

export type WeightsState = "initialised" | "trained" | "loaded";

function spawnWorker(): Worker {
  return new Worker(new URL("../../runtime/worker/worker-browser.ts", import.meta.url), { type: "module" });
}

export class Session {
  private text = "";
  private current: Loaded | null = null;
  private loading: Promise<Loaded> | null = null;
  private listeners: Array<(loaded: Loaded, state: WeightsState) => void> = [];
  /** What the current weights are. */
  weights: WeightsState = "initialised";
  /** True while a training run uses the current worker: nothing else may replace or use it. */
  training = false;

  /** Throws when a training run holds the model (other panels call this before using it). */
  assertIdle(): void {
    if (this.training) throw new Error("a training run is in progress: stop it or wait for it to finish");
  }

  /** The latest text that checked without errors. */
  setSource(text: string): void {
    this.text = text;
  }

  get source(): string {
    return this.text;
  }

  /** The loaded model, if it is the current text's. */
  get loaded(): Loaded | null {
    return this.current && this.current.build.source === this.text ? this.current : null;
  }

  onWeights(listener: (loaded: Loaded, state: WeightsState) => void): void {
    this.listeners.push(listener);
  }

  /** Announces new weights (after training, loading or init). */
  weightsChanged(state: WeightsState): void {
    this.weights = state;
    if (this.current) for (const l of this.listeners) l(this.current, state);
  }

  /**
   * The current text's model in a worker with max batch >= `batch`, initialised with `seed` when
   * it is new. Compile errors cannot happen here (the text checked), but a memory plan too large
   * for wasm can: it is thrown as an Error with the diagnostics' text.
   */
  async model(batch: number, seed: number): Promise<Loaded> {
    const wanted = Math.max(MIN_MAX_BATCH, batch);
    const fits = (l: Loaded | null): l is Loaded => l !== null && l.build.source === this.text && l.build.maxBatch >= wanted;
    if (fits(this.current)) return this.current;
    if (this.loading) {
      const pending = await this.loading.catch(() => null);
      if (fits(pending)) return pending;
    }
    this.loading = this.load(this.text, wanted, seed);
    try {
      return await this.loading;
    } finally {
      this.loading = null;
    }
  }

  /** Compiles the dense equivalent of the current text (every gate removed), for the speed panel. */
  async denseBuild(maxBatch: number): Promise<Build> {
    return this.compileBuild(this.text, maxBatch, true);
  }

  private async compileBuild(source: string, maxBatch: number, denseEquivalent = false): Promise<Build> {
    const result = await compile(source, { file: FILE_NAME, maxBatch, simd: "both", denseEquivalent });
    if (!result.ok) throw new Error(result.diagnostics.map((d) => `${d.code}: ${d.message}`).join("\n"));
    const { wasm, simd } = pickWasm(result.wasm, result.relaxedWasm);
    return { source, result, wasm, simd, maxBatch };
  }

  private async load(source: string, maxBatch: number, seed: number): Promise<Loaded> {
    const build = await this.compileBuild(source, maxBatch);
    const handle = await loadModelInWorker(build.wasm, build.result.manifest, undefined, { create: spawnWorker });
    await handle.init(seed);
    this.current?.handle.dispose();
    this.current = { build, handle };
    this.weightsChanged("initialised");
    return this.current;
  }
}
