/**
 * @fileoverview The speed panel's worker: loads the conditional build and its dense equivalent,
 * gives the dense one the same weights by name and shape, and times `predict` of both with the
 * runtime's bench code (`timeDenseAgainstConditional`, as `condc bench` does), off the page's thread
 * and without message round trips inside the timings.
 */
import { copyWeightsByShape, timeDenseAgainstConditional } from "../../../runtime/bench.js";
import { loadModel } from "../../../runtime/model.js";
import type { BenchReply, BenchRequest } from "./protocol.js";

const post = (reply: BenchReply): void => (self as unknown as { postMessage(m: BenchReply): void }).postMessage(reply);

self.addEventListener("message", (event: MessageEvent<BenchRequest>) => {
  void (async () => {
    const request = event.data;
    try {
      const conditional = await loadModel(request.conditional.wasm, request.conditional.manifest);
      const dense = await loadModel(request.dense.wasm, request.dense.manifest);
      conditional.load(request.weights, "the current weights");
      dense.init(request.seed);
      const apart = await copyWeightsByShape(conditional, dense);
      for (const batch of request.batches) {
        const timed = await timeDenseAgainstConditional(dense, conditional, request.x, batch, request.reps);
        post({ kind: "case", result: { batch, denseMs: timed.denseMs, conditionalMs: timed.conditionalMs, macs: timed.figures.macsPerExample, denseMacs: timed.figures.denseMacsPerExample } });
      }
      post({ kind: "done", apart });
    } catch (error) {
      post({ kind: "error", message: error instanceof Error ? error.message : String(error) });
    }
  })();
});
