/**
 * @fileoverview The block-dropout policy's own WGSL kernels (the GPU side of runtime/kernels/
 * policy.ts and blocksparse.ts): Bernoulli masks from the shared counter RNG (Philox words in
 * the wasm kernels' order, so the masks are the same), per-block member lists for the grouped
 * forward product, the statistics, the masked activation derivative, dL/d(input) over the active
 * block pairs, and REINFORCE (costs, baselines, the regularised policy-logit gradient, the step).
 * Per-call values (seed, RNG stream, mode, rates) come from the layer's `call` words:
 * [0] seed, [1] stream, [2] sample (1) or threshold (0), [3] policy lr, [4] regScale, [5] decay lr.
 */
import { MATH_EXTRA_WGSL } from "../../runtime/webgpu/kernels/math.js";
import { PHILOX_WGSL } from "../../runtime/webgpu/kernels/random.js";
import {
  CALL_UNIFORM_WGSL,
  elementKernel,
  f32,
  groupGrid,
  LOSS_GUARD,
  NON_FINITE_WGSL,
  storageDeclarations,
  u32,
  type Kernel,
  type KernelBinding,
} from "../../runtime/webgpu/kernels/wgsl.js";

/** Words of a layer's `call` region. */
export const CALL_WORDS = 6;

export interface MaskShape {
  nb: number;
  /** The policy's squash s and its 1 - 2s (in f32, as the kernels compute it). */
  squash: number;
  /** Uniform block dropout: the keep rate; a learned policy: -1. */
  rate: number;
}

/** The policy probability p of element `at` from σ, in f32 as policySample computes it. */
function probability(shape: MaskShape): string {
  if (shape.rate >= 0) return f32(shape.rate);
  const scale = Math.fround(1 - Math.fround(2 * shape.squash));
  return `${f32(scale)} * sigma[at] + ${f32(shape.squash)}`;
}

/**
 * Per row (one thread): p, the mask u (0/1) — uniform(seed, stream, i·nb + j) < p when sampling,
 * p > 0.5 when thresholding a learned policy — the active-block list and its count.
 */
export function sampleKernel(shape: MaskShape): Kernel {
  const bindings: KernelBinding[] = [
    { name: "sigma", access: "read" },
    { name: "u", access: "read_write" },
    { name: "activeList", access: "read_write" },
    { name: "count", access: "read_write" },
    { name: "words", access: "read" },
  ];
  const threshold = shape.rate < 0;
  return elementKernel({
    label: `policySample nb=${shape.nb} squash=${shape.squash} rate=${shape.rate}`,
    bindings,
    types: { activeList: "i32", count: "i32", words: "u32" },
    declarations: PHILOX_WGSL,
    count: (n) => n,
    countExpr: "call.n",
    body: `  let seed = words[0];
  let stream = words[1];
  let sample = ${threshold ? "words[2] == 1u" : "true"};
  var c = 0;
  var block = vec4<u32>(0u);
  for (var j = 0u; j < ${u32(shape.nb)}; j++) {
    let at = i * ${u32(shape.nb)} + j;
    let p = ${probability(shape)};
    var on = false;
    if (sample) {
      if ((at & 3u) == 0u || j == 0u) { block = philox4x32(vec4u(at >> 2u, 0u, 0u, 0u), vec2u(seed, stream)); }
      on = uniformBits(block[at & 3u]) < p;
    } else {
      on = p > 0.5;
    }
    u[at] = select(0.0, 1.0, on);
    if (on) {
      activeList[i * ${u32(shape.nb)} + u32(c)] = i32(j);
      c = c + 1;
    }
  }
  count[i] = c;`,
  });
}

/**
 * The statistics policySample adds (a counters region [2nb + 2] f32): per block Σ p and Σ p² in
 * row order, then the examples and the active blocks. One thread per block, one more for the
 * totals; each sum starts from the stored value, as the wasm kernel's running sums do.
 */
export function statsKernel(shape: MaskShape): Kernel {
  const bindings: KernelBinding[] = [
    { name: "sigma", access: "read" },
    { name: "count", access: "read" },
    { name: "stats", access: "read_write" },
  ];
  return elementKernel({
    label: `policyStats nb=${shape.nb} rate=${shape.rate}`,
    bindings,
    types: { count: "i32" },
    count: () => shape.nb + 1,
    countExpr: u32(shape.nb + 1),
    body: `  let j = i;
  if (j == ${u32(shape.nb)}) {
    var activeSum = 0.0;
    for (var r = 0u; r < call.n; r++) { activeSum = activeSum + f32(count[r]); }
    stats[${u32(2 * shape.nb)}] = stats[${u32(2 * shape.nb)}] + f32(call.n);
    stats[${u32(2 * shape.nb + 1)}] = stats[${u32(2 * shape.nb + 1)}] + activeSum;
    return;
  }
  var s = stats[j];
  var q = stats[${u32(shape.nb)} + j];
  for (var r = 0u; r < call.n; r++) {
    let at = r * ${u32(shape.nb)} + j;
    let p = ${probability(shape)};
    s = s + p;
    q = q + p * p;
  }
  stats[j] = s;
  stats[${u32(shape.nb)} + j] = q;`,
  });
}

/** Per block (one thread): the examples with the block active, in row order, for the grouped product. */
export function groupsKernel(nb: number, capacity: number): Kernel {
  return elementKernel({
    label: `policyGroups nb=${nb}`,
    bindings: [
      { name: "u", access: "read" },
      { name: "counts", access: "read_write" },
      { name: "members", access: "read_write" },
    ],
    types: { counts: "i32", members: "i32" },
    count: () => nb,
    countExpr: u32(nb),
    body: `  var m = 0u;
  for (var r = 0u; r < call.n; r++) {
    if (u[r * ${u32(nb)} + i] != 0.0) {
      members[i * ${u32(capacity)} + m] = i32(r);
      m = m + 1u;
    }
  }
  counts[i] = i32(m);`,
  });
}

/** Δ ← Δ ⊙ f'(H) on the blocks with u = 1, zero on the others (bsActivationBackward). */
export function maskedActivationBackwardKernel(activation: string, units: number, block: number, nb: number): Kernel {
  const derivative =
    activation === "relu" ? "select(0.0, d, y > 0.0)" : activation === "tanh" ? "d * (1.0 - y * y)" : activation === "sigmoid" ? "d * (y * (1.0 - y))" : "d";
  return elementKernel({
    label: `policyMaskedBackward ${activation} units=${units} block=${block}`,
    bindings: [
      { name: "delta", access: "read_write" },
      { name: "h", access: "read" },
      { name: "u", access: "read" },
    ],
    count: (n) => n * units,
    countExpr: `call.n * ${u32(units)}`,
    body: `  let row = i / ${u32(units)};
  let b = (i % ${u32(units)}) / ${u32(block)};
  if (u[row * ${u32(nb)} + b] == 0.0) {
    delta[i] = 0.0;
    return;
  }
  let d = delta[i];
  let y = h[i];
  delta[i] = ${derivative};`,
  });
}

const INPUT_COLUMNS = 64;

export interface BackwardInputShape {
  units: number;
  inputs: number;
  block: number;
  nb: number;
  /** The source's masks when it is policy-gated too (its blocks of `sourceBlock` inputs). */
  source: { nb: number; block: number } | null;
  beta: 0 | 1;
}

/**
 * dX[i, k] (=, or += with beta 1) Σ over example i's active blocks of Σ_j g[i, j] W[j, k]: one
 * workgroup per (example, 64 input columns), one thread per column (consecutive threads read
 * consecutive weights), the example's active units in list order. With a policy-gated source,
 * only the columns of the source's active blocks are written; beta 0 zeroes the others.
 */
export function backwardInputKernel(shape: BackwardInputShape): Kernel {
  const bindings: KernelBinding[] = [
    { name: "g", access: "read" },
    { name: "w", access: "read" },
    { name: "dx", access: "read_write" },
    { name: "activeList", access: "read" },
    { name: "count", access: "read" },
  ];
  if (shape.source) bindings.push({ name: "sourceU", access: "read" });
  const chunks = Math.ceil(shape.inputs / INPUT_COLUMNS);
  const label = `policyBackwardInput units=${shape.units} inputs=${shape.inputs} block=${shape.block} ss=${shape.source !== null} beta=${shape.beta}`;
  const inactive = shape.beta === 0 ? "dx[at] = 0.0;" : "";
  const code = `// ${label}
${CALL_UNIFORM_WGSL}
${storageDeclarations(bindings, { activeList: "i32", count: "i32" })}

@compute @workgroup_size(${INPUT_COLUMNS})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lid: u32) {
  let flat = wid.y * groups.x + wid.x;
  let row = flat / ${u32(chunks)};
  if (row >= call.n) { return; }
  let k = (flat % ${u32(chunks)}) * ${u32(INPUT_COLUMNS)} + lid;
  if (k >= ${u32(shape.inputs)}) { return; }
  let at = row * ${u32(shape.inputs)} + k;${
    shape.source
      ? `
  if (sourceU[row * ${u32(shape.source.nb)} + k / ${u32(shape.source.block)}] == 0.0) {
    ${inactive}
    return;
  }`
      : ""
  }
  var acc = ${shape.beta === 1 ? "dx[at]" : "0.0"};
  let blocks = u32(count[row]);
  for (var q = 0u; q < blocks; q++) {
    let j0 = u32(activeList[row * ${u32(shape.nb)} + q]) * ${u32(shape.block)};
    let j1 = min(j0 + ${u32(shape.block)}, ${u32(shape.units)});
    for (var j = j0; j < j1; j++) {
      acc = acc + g[row * ${u32(shape.units)} + j] * w[j * ${u32(shape.inputs)} + k];
    }
  }
  dx[at] = acc;
}
`;
  return { label, code, bindings, grid: (n) => groupGrid(n * chunks) };
}

/** cost[i] = -log max(probs[i, label_i], 1e-30) (policyCosts). */
export function costsKernel(classes: number): Kernel {
  return elementKernel({
    label: `policyCosts classes=${classes}`,
    bindings: [
      { name: "probs", access: "read" },
      { name: "labels", access: "read" },
      { name: "cost", access: "read_write" },
    ],
    types: { labels: "i32" },
    declarations: MATH_EXTRA_WGSL,
    count: (n) => n,
    countExpr: "call.n",
    body: `  let label = labels[i];
  var c = 0.0;
  if (label >= 0 && label < ${classes}) {
    c = -logCephes(max(probs[i * ${u32(classes)} + u32(label)], ${f32(1e-30)}));
  }
  cost[i] = c;`,
  });
}

/** Baselines of policyBaseline (codes of runtime/kernels/codes/policy.ts). */
export type BaselineKind = "none" | "batch_min" | "batch_mean" | "moving_average";

/**
 * The baseline β into base[0] and, for the moving average, the EMA's next value into base[1]
 * (committed by the update only when the step's loss is finite): one thread, costs in row order.
 */
export function baselineKernel(kind: BaselineKind): Kernel {
  const body: Record<BaselineKind, string> = {
    none: `  base[0] = 0.0;`,
    batch_min: `  var lo = cost[0];
  for (var r = 1u; r < call.n; r++) { lo = min(lo, cost[r]); }
  base[0] = select(lo, 0.0, call.n == 0u);`,
    batch_mean: `  var sum = 0.0;
  for (var r = 0u; r < call.n; r++) { sum = sum + cost[r]; }
  base[0] = select(sum / f32(call.n), 0.0, call.n == 0u);`,
    moving_average: `  var sum = 0.0;
  for (var r = 0u; r < call.n; r++) { sum = sum + cost[r]; }
  let mean = select(sum / f32(call.n), 0.0, call.n == 0u);
  let old = ema[0];
  base[0] = select(old, mean, old < 0.0);
  base[1] = select(${f32(0.9)} * old + ${f32(0.1)} * mean, mean, old < 0.0);`,
  };
  const bindings: KernelBinding[] = [
    { name: "cost", access: "read" },
    { name: "ema", access: "read" },
    { name: "base", access: "read_write" },
  ];
  return elementKernel({ label: `policyBaseline ${kind}`, bindings, count: () => 1, countExpr: "1u", body: body[kind] });
}

export interface GradientShape {
  nb: number;
  squash: number;
  tau: number;
  lambdaS: number;
  lambdaV: number;
  /** 0: the paper's regularizer form (on σ); 1: the authors' code's (on p). */
  form: 0 | 1;
}

/** μ_j = (1/n) Σ_i σ_ij (or p_ij for the code's form), one thread per block, rows in order. */
export function meanKernel(shape: GradientShape): Kernel {
  const scale = Math.fround(1 - Math.fround(2 * shape.squash));
  return elementKernel({
    label: `policyMean nb=${shape.nb} form=${shape.form}`,
    bindings: [
      { name: "sigma", access: "read" },
      { name: "mu", access: "read_write" },
    ],
    count: () => shape.nb,
    countExpr: u32(shape.nb),
    body: `  var s = 0.0;
  for (var r = 0u; r < call.n; r++) {
    let sg = sigma[r * ${u32(shape.nb)} + i];
    s = s + ${shape.form === 1 ? `${f32(scale)} * sg + ${f32(shape.squash)}` : "sg"};
  }
  mu[i] = s * (1.0 / f32(call.n));`,
  });
}

/**
 * E[i, j], the policy-logit gradient of policyGradient: (c_i - β)/n · ∂log π/∂Q plus regScale
 * times the regularizers' gradient (see the wasm kernel for both forms). One thread per element.
 */
export function gradientKernel(shape: GradientShape): Kernel {
  const { nb } = shape;
  const scale = Math.fround(1 - Math.fround(2 * shape.squash));
  const invNb = Math.fround(1 / nb);
  const useP = shape.form === 1;
  const reg = useP
    ? `let p = ${f32(scale)} * sg + ${f32(shape.squash)};
      let dr = ${f32(shape.lambdaS)} * (2.0 * (m - ${f32(shape.tau)}) * invN + ${f32(0.001)} * 2.0 * (nu - ${f32(shape.tau)}) * ${f32(invNb)})
        - ${f32(shape.lambdaV)} * (2.0 * (p - m) * invN + ${f32(0.1)} * 2.0 * (p - nu) * ${f32(invNb)});
      g = g + regScale * dr * ${f32(scale)} * sg * (1.0 - sg);`
    : `let dr = ${f32(shape.lambdaS)} * (signOf(m - ${f32(shape.tau)}) * invN + signOf(nu - ${f32(shape.tau)}) * invN * ${f32(invNb)}) + ${f32(shape.lambdaV)} * (-2.0 * (sg - m) * invN);
      g = g + regScale * dr * sg * (1.0 - sg);`;
  return elementKernel({
    label: `policyGradient nb=${nb} squash=${shape.squash} tau=${shape.tau} form=${shape.form}`,
    bindings: [
      { name: "sigma", access: "read" },
      { name: "u", access: "read" },
      { name: "cost", access: "read" },
      { name: "base", access: "read" },
      { name: "mu", access: "read" },
      { name: "words", access: "read" },
      { name: "e", access: "read_write" },
    ],
    types: { words: "u32" },
    declarations: `fn signOf(x: f32) -> f32 { return select(select(0.0, -1.0, x < 0.0), 1.0, x > 0.0); }`,
    count: (n) => n * nb,
    countExpr: `call.n * ${u32(nb)}`,
    body: `  let row = i / ${u32(nb)};
  let j = i % ${u32(nb)};
  let invN = 1.0 / f32(call.n);
  let regScale = bitcast<f32>(words[4]);
  let regOn = regScale != 0.0 && ${shape.lambdaS !== 0 || shape.lambdaV !== 0};
  var nu = 0.0;
  if (regOn) {
    for (var b = 0u; b < ${u32(nb)}; b++) {
      let s = sigma[row * ${u32(nb)} + b];
      nu = nu + ${useP ? `${f32(scale)} * s + ${f32(shape.squash)}` : "s"};
    }
    nu = nu * ${f32(invNb)};
  }
  let adv = (cost[row] - base[0]) * invN;
  let sg = sigma[i];
  let uj = u[i];
  var dlog = 0.0;
  ${
    shape.squash === 0
      ? "dlog = uj - sg;"
      : `let pp = ${f32(scale)} * sg + ${f32(shape.squash)};
  dlog = ${f32(scale)} * sg * (1.0 - sg) * select(-1.0 / (1.0 - pp), 1.0 / pp, uj != 0.0);`
  }
  var g = adv * dlog;
  if (regOn) {
    let m = mu[j];
    {
      ${reg}
    }
  }
  e[i] = g;`,
  });
}

/**
 * param ← param - lr·grad - (2·l2·decayLr)·param (policyStep), lr and decayLr from the call
 * words; when `commitEma`, thread 0 also stores the baseline's next EMA. Nothing changes when
 * the step's loss is not finite.
 */
export function stepKernel(count: number, l2: number, commitEma: boolean): Kernel {
  const bindings: KernelBinding[] = [
    { name: "param", access: "read_write" },
    { name: "grad", access: "read" },
    { name: "words", access: "read" },
    { name: "loss", access: "read" },
  ];
  if (commitEma) bindings.push({ name: "ema", access: "read_write" }, { name: "base", access: "read" });
  return elementKernel({
    label: `policyStep count=${count} l2=${l2}${commitEma ? " +ema" : ""}`,
    bindings,
    types: { words: "u32" },
    declarations: NON_FINITE_WGSL,
    count: () => count,
    countExpr: u32(count),
    body: `  ${LOSS_GUARD}
  let lr = bitcast<f32>(words[3]);
  let k = ${f32(Math.fround(2 * l2))} * bitcast<f32>(words[5]);
  let p = param[i];
  param[i] = p - lr * grad[i] - k * p;${commitEma ? "\n  if (i == 0u) { ema[0] = base[1]; }" : ""}`,
  });
}
