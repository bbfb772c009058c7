/**
 * @fileoverview The speed panel: the same weights in the conditional build and in the dense
 * equivalent (`compile(text, { denseEquivalent: true })`), `predict` timed at batch 1 and 128 in a
 * worker of its own; bars of the median times per batch, with the time ratio beside the MAC ratio
 * (what the gates saved in arithmetic against what they saved in time).
 */
import type { Session } from "../session.js";
import type { Status } from "../status.js";
import { el, formatCount, messageOf } from "../ui.js";
import type { BenchCaseResult, BenchReply, BenchRequest } from "./protocol.js";

const BATCHES = [1, 128];
const REPS = 9;

export class SpeedPanel {
  private readonly button = el("button", { textContent: "measure", attrs: { type: "button", "data-testid": "speed-button" } });
  private readonly results = el("div", { className: "speed-results", attrs: { "data-testid": "speed-results" } });
  private readonly note = el("p", { className: "note" });
  private busy = false;

  constructor(root: HTMLElement, private readonly session: Session, private readonly status: Status, private readonly seed: () => number, private readonly data: () => { test: { images: Float32Array; width: number; count: number } } | string) {
    root.append(
      el("h2", {}, ["speed ", el("small", {}, ["dense vs conditional build, same weights"])]),
      el("p", {}, [
        "Times predict of both builds, interleaved, medians of ", String(REPS), " samples, at batch ", BATCHES.join(" and "),
        ", in a worker. Ratios are dense / conditional: above 1, the conditional build is cheaper. ", this.button,
      ]),
      this.results,
      this.note,
    );
    this.button.addEventListener("click", () => void this.measure());
  }

  set enabled(on: boolean) {
    this.button.disabled = !on || this.busy;
  }

  private async measure(): Promise<void> {
    if (this.busy) return;
    try {
      this.session.assertIdle();
    } catch (error) {
      this.status.set(messageOf(error), "error");
      return;
    }
    this.busy = true;
    this.button.disabled = true;
    this.status.set("measuring speed…", "busy");
    try {
      const maxBatch = Math.max(...BATCHES);
      const loaded = await this.session.model(maxBatch, this.seed());
      const dense = await this.session.denseBuild(loaded.build.maxBatch);
      const width = loaded.build.result.manifest.input.width;
      const data = this.data();
      const notes: string[] = [];
      let x: Float32Array;
      if (typeof data !== "string" && data.test.width === width && data.test.count >= maxBatch) {
        x = data.test.images.slice(0, maxBatch * width);
      } else {
        let s = 12345;
        x = new Float32Array(maxBatch * width).map(() => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 4294967296);
        notes.push("random inputs (no test set of the model's width): active fractions are not representative");
      }
      const trained = this.session.weights !== "initialised";
      if (!trained) notes.push("untrained weights: active fractions and speedups say nothing about a trained model; train first");
      const request: BenchRequest = {
        conditional: { wasm: loaded.build.wasm, manifest: loaded.build.result.manifest },
        dense: { wasm: dense.wasm, manifest: dense.result.manifest },
        weights: await loaded.handle.save(),
        seed: this.seed(),
        x,
        batches: BATCHES,
        reps: REPS,
      };
      const cases: BenchCaseResult[] = [];
      const apart = await this.run(request, (c) => {
        cases.push(c);
        this.render(cases);
      });
      if (apart.length > 0) notes.push(`${apart.join(", ")}: timed against a dense layer of the same shape with its own weights`);
      this.note.textContent = [`${loaded.build.simd} SIMD, ${trained ? "the current weights" : "initial weights"}.`, ...notes].join(" ");
      this.status.set("speed measured");
    } catch (error) {
      this.status.set(messageOf(error), "error");
    } finally {
      this.busy = false;
      this.button.disabled = false;
    }
  }

  private run(request: BenchRequest, onCase: (c: BenchCaseResult) => void): Promise<string[]> {
    const worker = new Worker(new URL("./bench-worker.ts", import.meta.url), { type: "module" });
    return new Promise<string[]>((resolve, reject) => {
      worker.addEventListener("message", (event: MessageEvent<BenchReply>) => {
        const reply = event.data;
        if (reply.kind === "case") return onCase(reply.result);
        worker.terminate();
        if (reply.kind === "done") resolve(reply.apart);
        else reject(new Error(reply.message));
      });
      worker.addEventListener("error", (event) => {
        event.preventDefault();
        worker.terminate();
        reject(new Error(`the benchmark worker failed: ${event.message || "it could not start"}`));
      });
      worker.postMessage(request, [request.x.buffer as ArrayBuffer]);
    });
  }

  private render(cases: BenchCaseResult[]): void {
    this.results.replaceChildren(
      ...cases.map((c) => {
        const longest = Math.max(c.denseMs, c.conditionalMs);
        const bar = (label: string, ms: number, cls: string) =>
          el("div", { className: `bar-row ${cls}` }, [
            el("span", { className: "bar-label" }, [label]),
            el("span", { className: "bar", attrs: { style: `width: ${Math.max(1, (100 * ms) / longest).toFixed(1)}%` } }),
            el("span", { className: "bar-value" }, [ms < 1 ? `${(ms * 1000).toFixed(0)} µs` : `${ms.toFixed(2)} ms`]),
          ]);
        const timeRatio = c.denseMs / c.conditionalMs;
        const macRatio = c.denseMacs / c.macs;
        return el("div", { className: "speed-case", dataset: { batch: String(c.batch), timeRatio: String(timeRatio), macRatio: String(macRatio) } }, [
          el("h3", {}, [`batch ${c.batch}`]),
          bar("dense", c.denseMs, "dense"),
          bar("conditional", c.conditionalMs, "conditional"),
          el("div", { className: "ratios" }, [
            el("span", { className: "ratio", title: "dense time / conditional time: above 1, the conditional build is faster" }, ["time ratio ", el("b", {}, [`${timeRatio.toFixed(2)}×`])]),
            el("span", { className: "ratio", title: "dense MACs / conditional MACs per example, as the conditional build counted them while timed" }, [
              "MAC ratio ", el("b", {}, [`${macRatio.toFixed(2)}×`]), ` (${formatCount(c.denseMacs)} → ${formatCount(c.macs)} MACs/example)`,
            ]),
          ]),
        ]);
      }),
    );
  }
}
