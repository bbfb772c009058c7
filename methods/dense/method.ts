/**
 * @fileoverview The dense layer, `dense(source, units) ACT`: the spine every conditional
 * method is built on and measured against (`compile(..., { denseEquivalent: true })` compiles
 * every layer with this unit).
 */
import { defineMethod, type ParamRequest } from "../unit.js";
import { emitActivationBackward, emitDenseBackward, emitDenseForward } from "./emit.js";

/** The weight and bias of a dense layer: `<layer>.weight [units, inputs]`, `<layer>.bias [units]`. */
export function denseParams(layer: { inputs: number; units: number }): ParamRequest[] {
  return [
    { suffix: "weight", shape: [layer.units, layer.inputs], init: "glorot_uniform", decay: true, update: "optimizer", role: "weight" },
    { suffix: "bias", shape: [layer.units], init: "zeros", decay: false, update: "optimizer", role: "bias" },
  ];
}

export const denseMethod = defineMethod<Record<string, never>>({
  key: "dense",
  kind: "dense",
  gate: null,
  kindOptions: [],
  gateOptions: [],
  refusesGates: null,
  allowedOnOutput: true,
  messages: {},
  check: () => ({}),
  // The dense GEMM reads its whole input: a block-masked source saves it nothing.
  cost: (layer) => ({
    weights: layer.inputs * layer.units,
    biases: layer.units,
    gateParameters: 0,
    bodyMacs: layer.inputs * layer.units,
    gateMacs: 0,
    density: null,
    densityAssumed: false,
    inputDensity: 1,
  }),
  label: () => "-",
  params: denseParams,
  wasm: {
    forward: (f, layer, _ctx, n) => emitDenseForward(f, layer, n),
    backward(f, layer, _ctx, n, source) {
      emitActivationBackward(f, layer, n);
      emitDenseBackward(f, layer, n, source);
    },
  },
});
