/**
 * @fileoverview The runtime half of the dense layer: nothing to do besides calling the module,
 * and its GPU program (methods/dense/webgpu.ts), which the WebGPU frame asks for as for any method.
 */
import { defineRuntime } from "../runtime-unit.js";

export const denseRuntime = defineRuntime<Record<string, never>>({
  key: "dense",
  webgpu: () => import("./webgpu.js").then((m) => m.denseGpu),
});
