/**
 * @fileoverview A float64 reference of a compiled dense model, written from the IR alone:
 * forward (softmax probabilities), the loss (mean cross-entropy plus L1 activation
 * penalties, the same definition the generated trainStep uses) and its exact gradient by
 * backpropagation, plus central finite differences of the loss. Independent of the
 * kernels: plain loops, f64 throughout.
 */
import type { IrModule } from "../../compiler/backend/ir.js";

export type Params = Map<string, Float64Array>;

interface RefLayer {
  name: string;
  source: string | null;
  inputs: number;
  units: number;
  activation: string;
  l1: number;
  live: boolean;
  isOutput: boolean;
}

function activate(kind: string, z: number): number {
  switch (kind) {
    case "relu":
      return z > 0 ? z : 0;
    case "tanh":
      return Math.tanh(z);
    case "sigmoid":
      return 1 / (1 + Math.exp(-z));
    case "linear":
      return z;
  }
  throw new Error(`reference: unknown activation ${kind}`);
}

/** d(activation)/dz expressed through h = activation(z). */
function derivative(kind: string, h: number): number {
  switch (kind) {
    case "relu":
      return h > 0 ? 1 : 0;
    case "tanh":
      return 1 - h * h;
    case "sigmoid":
      return h * (1 - h);
    case "linear":
      return 1;
  }
  throw new Error(`reference: unknown activation ${kind}`);
}

export class Reference {
  readonly layers: RefLayer[];
  readonly classes: number;
  readonly width: number;

  constructor(ir: IrModule) {
    this.layers = ir.layers.map((l) => ({
      name: l.name,
      source: l.source,
      inputs: l.inputs,
      units: l.units,
      activation: l.activation,
      l1: l.l1,
      live: l.delta !== null,
      isOutput: l.isOutput,
    }));
    this.classes = ir.classes;
    this.width = ir.inputWidth;
  }

  /** Post-activation outputs of the live layers, each n x units. */
  forward(params: Params, x: Float64Array, n: number): Map<string, Float64Array> {
    const outs = new Map<string, Float64Array>();
    for (const layer of this.layers) {
      if (!layer.live) continue;
      const src = layer.source === null ? x : outs.get(layer.source)!;
      const w = params.get(`${layer.name}.weight`)!;
      const b = params.get(`${layer.name}.bias`)!;
      const h = new Float64Array(n * layer.units);
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < layer.units; j++) {
          let z = b[j]!;
          for (let k = 0; k < layer.inputs; k++) z += src[i * layer.inputs + k]! * w[j * layer.inputs + k]!;
          h[i * layer.units + j] = activate(layer.activation, z);
        }
      }
      outs.set(layer.name, h);
    }
    return outs;
  }

  private output(): RefLayer {
    return this.layers.find((l) => l.isOutput)!;
  }

  probs(params: Params, x: Float64Array, n: number): Float64Array {
    const logits = this.forward(params, x, n).get(this.output().name)!;
    return softmaxRows(logits, n, this.classes);
  }

  loss(params: Params, x: Float64Array, labels: ArrayLike<number>, n: number): number {
    const outs = this.forward(params, x, n);
    const logits = outs.get(this.output().name)!;
    const c = this.classes;
    let total = 0;
    for (let i = 0; i < n; i++) {
      let max = -Infinity;
      for (let j = 0; j < c; j++) max = Math.max(max, logits[i * c + j]!);
      let sum = 0;
      for (let j = 0; j < c; j++) sum += Math.exp(logits[i * c + j]! - max);
      total += Math.log(sum) + max - logits[i * c + labels[i]!]!;
    }
    let loss = total / n;
    for (const layer of this.layers) {
      if (layer.l1 === 0) continue;
      const h = outs.get(layer.name)!;
      let s = 0;
      for (let i = 0; i < n * layer.units; i++) s += Math.abs(h[i]!);
      loss += (layer.l1 * s) / n;
    }
    return loss;
  }

  /** Exact gradient of `loss` with respect to every parameter (zeros for dead layers). */
  gradients(params: Params, x: Float64Array, labels: ArrayLike<number>, n: number): Params {
    const outs = this.forward(params, x, n);
    const c = this.classes;
    const grads: Params = new Map([...params].map(([name, v]) => [name, new Float64Array(v.length)]));
    const dh = new Map<string, Float64Array>();
    for (const layer of this.layers) if (layer.live) dh.set(layer.name, new Float64Array(n * layer.units));
    const out = this.output();
    const probs = softmaxRows(outs.get(out.name)!, n, c);
    const dOut = dh.get(out.name)!;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < c; j++) dOut[i * c + j] = (probs[i * c + j]! - (j === labels[i] ? 1 : 0)) / n;
    }
    for (let li = this.layers.length - 1; li >= 0; li--) {
      const layer = this.layers[li]!;
      if (!layer.live) continue;
      const h = outs.get(layer.name)!;
      const d = dh.get(layer.name)!;
      const u = layer.units;
      const dz = new Float64Array(n * u);
      for (let i = 0; i < n * u; i++) {
        const sign = h[i]! > 0 ? 1 : h[i]! < 0 ? -1 : 0;
        dz[i] = (d[i]! + (layer.l1 / n) * sign) * derivative(layer.activation, h[i]!);
      }
      const src = layer.source === null ? x : outs.get(layer.source)!;
      const w = params.get(`${layer.name}.weight`)!;
      const gw = grads.get(`${layer.name}.weight`)!;
      const gb = grads.get(`${layer.name}.bias`)!;
      const dsrc = layer.source === null ? null : dh.get(layer.source)!;
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < u; j++) {
          const g = dz[i * u + j]!;
          gb[j] += g;
          for (let k = 0; k < layer.inputs; k++) {
            gw[j * layer.inputs + k] += g * src[i * layer.inputs + k]!;
            if (dsrc) dsrc[i * layer.inputs + k] += g * w[j * layer.inputs + k]!;
          }
        }
      }
    }
    return grads;
  }

  /** Central finite differences of `loss` in f64, one parameter element at a time. */
  finiteDifferences(params: Params, x: Float64Array, labels: ArrayLike<number>, n: number, h: number): Params {
    const grads: Params = new Map();
    for (const [name, values] of params) {
      const g = new Float64Array(values.length);
      for (let i = 0; i < values.length; i++) {
        const keep = values[i]!;
        values[i] = keep + h;
        const up = this.loss(params, x, labels, n);
        values[i] = keep - h;
        const down = this.loss(params, x, labels, n);
        values[i] = keep;
        g[i] = (up - down) / (2 * h);
      }
      grads.set(name, g);
    }
    return grads;
  }
}

export function softmaxRows(logits: Float64Array, n: number, c: number): Float64Array {
  const p = new Float64Array(n * c);
  for (let i = 0; i < n; i++) {
    let max = -Infinity;
    for (let j = 0; j < c; j++) max = Math.max(max, logits[i * c + j]!);
    let sum = 0;
    for (let j = 0; j < c; j++) sum += (p[i * c + j] = Math.exp(logits[i * c + j]! - max));
    for (let j = 0; j < c; j++) p[i * c + j]! /= sum;
  }
  return p;
}

/** A small deterministic PRNG (mulberry32) for test data. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Largest violation of |a - b| <= rtol * |b| + atol over two arrays, as a ratio (<= 1 passes),
 * with the index where it happens, for readable failures.
 */
export function worstMismatch(a: ArrayLike<number>, b: ArrayLike<number>, rtol: number, atol: number): { ratio: number; index: number; a: number; b: number } {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let worst = { ratio: 0, index: -1, a: 0, b: 0 };
  for (let i = 0; i < a.length; i++) {
    const ratio = Math.abs(a[i]! - b[i]!) / (rtol * Math.abs(b[i]!) + atol);
    if (!(ratio <= worst.ratio)) worst = { ratio, index: i, a: a[i]!, b: b[i]! };
  }
  return worst;
}
