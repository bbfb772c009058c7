/**
 * @fileoverview The mixture of experts' own WGSL kernels (the GPU side of runtime/kernels/moe.ts
 * and moerouter.ts): routing (noisy top-k gating with the gating noise from the same Philox
 * counter and key as the wasm kernel), the dispatch of (example, slot) pairs by expert with the
 * capacity, gather, combine and their backward, the balance losses and the router's backward,
 * and the counters. The router's per-example math is f32 here (f64 in the wasm kernels). The
 * layer's `call` words: [0] seed, [1] step (before the increment), [2] noisy (1 in a training
 * pass with noisy gating), [3] capacity (i32, -1 dropless).
 */
import { MATH_EXTRA_WGSL, MATH_WGSL } from "../../runtime/webgpu/kernels/math.js";
import { PHILOX_WGSL } from "../../runtime/webgpu/kernels/random.js";
import type { Activation } from "../../runtime/webgpu/kernels/elementwise.js";
import { addCounter64, CALL_UNIFORM_WGSL, elementKernel, f32, storageDeclarations, u32, type Kernel, type KernelBinding } from "../../runtime/webgpu/kernels/wgsl.js";

export const CALL_WORDS = 4;
/** Philox key word 1 of the gating noise is MOE_RNG_KEY ^ layer (moerouter.ts). */
const MOE_RNG_KEY = 0x4d6f4500;

/** Counter words (u32) of a phase: 64-bit examples, pairs, dropped, then entropy and balance sums (f32), then each expert's load (64-bit). */
export const COUNTER_EXAMPLES = 0;
export const COUNTER_PAIRS = 1;
export const COUNTER_DROPPED = 2;
export const COUNTER_ENTROPY_WORD = 6;
export const COUNTER_BALANCE_WORD = 7;
export const COUNTER_LOAD_WORD = 8;
export const counterWords = (experts: number) => COUNTER_LOAD_WORD + 2 * experts;

/** The balance region: [0] value, then E each of fraction, mean prob, importance, load, d importance, d load. */
export const BALANCE_FRACTION = 1;
export const balanceWords = (experts: number) => 1 + 6 * experts;

const SHARED = `
fn softplusF(x: f32) -> f32 {
  if (x > 0.0) { return x + logCephes(1.0 + expCephes(-x)); }
  let t = expCephes(x);
  if (t < 1e-4) { return t - 0.5 * t * t; }
  return logCephes(1.0 + t);
}
fn sigmoidF(x: f32) -> f32 { return 1.0 / (1.0 + expCephes(-x)); }
/** erfc by Numerical Recipes' Chebyshev fit (the wasm kernel's), in f32. */
fn erfcF(x: f32) -> f32 {
  let z = abs(x);
  let t = 1.0 / (1.0 + 0.5 * z);
  let r = t * expCephes(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
    t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return select(2.0 - r, r, x >= 0.0);
}
fn normalCdf(u: f32) -> f32 { return 0.5 * erfcF(-u * 0.7071067811865476); }
`;

export interface RouteShape {
  experts: number;
  k: number;
  layerIndex: number;
}

/** Whether expert j is among the first \`count\` selected of row e (WGSL, reads \`top\`). */
const SELECTED = (k: number) => `
fn isSelected(e: u32, count: u32, j: i32) -> bool {
  for (var s = 0u; s < count; s++) { if (top[e * ${u32(k)} + s] == j) { return true; } }
  return false;
}
/** The largest G of row e not among its first \`count\` selected (ties: lower index); -1 if none. */
fn nextLargest(e: u32, count: u32) -> i32 {
  var best = -1;
  var bestValue = 0.0;
  for (var j = 0; j < EXPERTS; j++) {
    if (isSelected(e, count, j)) { continue; }
    let v = gateLogits[e * u32(EXPERTS) + u32(j)];
    if (best < 0 || v > bestValue) { best = j; bestValue = v; }
  }
  return best;
}`;

/**
 * Routing of each example (one thread): G = l, or l + z ⊙ softplus(nl) with z ~ N(0, 1) from the
 * gating noise's Philox words (Box-Muller, cos for an even expert, sin for an odd one); probs =
 * softmax(G); top [n x k] the k largest G (ties to the lower index); gates = the selected probs
 * renormalised (k > 1) or the probability (k = 1); the row's router entropy.
 */
export function routeKernel(shape: RouteShape, noisy: boolean): Kernel {
  const { experts: E, k } = shape;
  const bindings: KernelBinding[] = [
    { name: "logits", access: "read" },
    { name: "gateLogits", access: "read_write" },
    { name: "probs", access: "read_write" },
    { name: "top", access: "read_write" },
    { name: "gates", access: "read_write" },
    { name: "rowEntropy", access: "read_write" },
    { name: "words", access: "read" },
  ];
  if (noisy) bindings.push({ name: "noiseLogits", access: "read" }, { name: "noise", access: "read_write" });
  const noise = noisy
    ? `  let seed = words[0];
  let step = words[1];
  for (var j = 0u; j < ${u32(E)}; j += 2u) {
    let bits = philox4x32(vec4u(i, j >> 1u, step, ${u32(shape.layerIndex)}), vec2u(seed, ${u32((MOE_RNG_KEY ^ shape.layerIndex) >>> 0)}));
    let r = sqrt(-2.0 * logCephes(uniformOpenBits(bits.x)));
    let sc = sinCosCephes(6.283185307179586 * uniformOpenBits(bits.y));
    noise[base + j] = r * sc.y;
    if (j + 1u < ${u32(E)}) { noise[base + j + 1u] = r * sc.x; }
  }
  for (var j = 0u; j < ${u32(E)}; j++) { gateLogits[base + j] = logits[base + j] + noise[base + j] * softplusF(noiseLogits[base + j]); }`
    : `  for (var j = 0u; j < ${u32(E)}; j++) { gateLogits[base + j] = logits[base + j]; }`;
  return elementKernel({
    label: `moeRoute E=${E} k=${k}${noisy ? " noisy" : ""}`,
    bindings,
    types: { top: "i32", words: "u32" },
    declarations: `const EXPERTS: i32 = ${E};\n${MATH_WGSL}\n${MATH_EXTRA_WGSL}\n${noisy ? PHILOX_WGSL : ""}\n${SHARED}\n${SELECTED(k)}`,
    count: (n) => n,
    countExpr: "call.n",
    body: `  let base = i * ${u32(E)};
${noise}
  var best = gateLogits[base];
  for (var j = 1u; j < ${u32(E)}; j++) { best = max(best, gateLogits[base + j]); }
  var sum = 0.0;
  for (var j = 0u; j < ${u32(E)}; j++) {
    let v = expCephes(gateLogits[base + j] - best);
    probs[base + j] = v;
    sum = sum + v;
  }
  var expected = 0.0;
  for (var s = 0u; s < ${u32(k)}; s++) { top[i * ${u32(k)} + s] = nextLargest(i, s); }
  var selectedSum = 0.0;
  for (var s = 0u; s < ${u32(k)}; s++) { selectedSum = selectedSum + probs[base + u32(top[i * ${u32(k)} + s])]; }
  for (var s = 0u; s < ${u32(k)}; s++) {
    let ex = probs[base + u32(top[i * ${u32(k)} + s])];
    gates[i * ${u32(k)} + s] = ${k === 1 ? "ex / sum" : "ex / selectedSum"};
  }
  for (var j = 0u; j < ${u32(E)}; j++) {
    let p = probs[base + j] / sum;
    probs[base + j] = p;
    expected = expected + p * (gateLogits[base + j] - best);
  }
  rowEntropy[i] = logCephes(sum) - expected;`,
  });
}

const DISPATCH_THREADS = 256;

/**
 * The counting sort of the n·k pairs by expert, in one workgroup (moeDispatch): a thread per
 * expert walks the pairs in (slot, example) order, keeping the first `capacity` (-1: all) and
 * marking the rest dropped; one thread sums the starts and the dropped pairs; each expert's
 * thread then places its kept pairs in pair order. counts [E] is each expert's load before the
 * capacity; rows of expert i are [expertStart[i], expertStart[i + 1]); rowPair / pairRow link
 * rows and pairs (-1: dropped); dropCount[0] the dropped count.
 */
export function dispatchKernel(experts: number, k: number): Kernel {
  const bindings: KernelBinding[] = [
    { name: "top", access: "read" },
    { name: "counts", access: "read_write" },
    { name: "expertStart", access: "read_write" },
    { name: "rowPair", access: "read_write" },
    { name: "pairRow", access: "read_write" },
    { name: "dropCount", access: "read_write" },
    { name: "words", access: "read" },
  ];
  const label = `moeDispatch E=${experts} k=${k}`;
  const code = `// ${label}
${CALL_UNIFORM_WGSL}
${storageDeclarations(bindings, { top: "i32", counts: "i32", expertStart: "i32", rowPair: "i32", pairRow: "i32", dropCount: "u32", words: "u32" })}

@compute @workgroup_size(${DISPATCH_THREADS})
fn main(@builtin(local_invocation_index) lid: u32) {
  let capacity = bitcast<i32>(words[3]);
  for (var expert = lid; expert < ${u32(experts)}; expert += ${u32(DISPATCH_THREADS)}) {
    var seen = 0;
    var kept = 0;
    for (var s = 0u; s < ${u32(k)}; s++) {
      for (var e = 0u; e < call.n; e++) {
        let p = e * ${u32(k)} + s;
        if (top[p] != i32(expert)) { continue; }
        if (capacity >= 0 && seen >= capacity) {
          pairRow[p] = -1;
        } else {
          pairRow[p] = 0;
          kept = kept + 1;
        }
        seen = seen + 1;
      }
    }
    counts[expert] = seen;
    expertStart[expert + 1u] = kept;
  }
  storageBarrier();
  if (lid == 0u) {
    expertStart[0] = 0;
    for (var expert = 1u; expert <= ${u32(experts)}; expert++) { expertStart[expert] = expertStart[expert] + expertStart[expert - 1u]; }
    dropCount[0] = call.n * ${u32(k)} - u32(expertStart[${u32(experts)}]);
  }
  storageBarrier();
  for (var expert = lid; expert < ${u32(experts)}; expert += ${u32(DISPATCH_THREADS)}) {
    var row = expertStart[expert];
    for (var p = 0u; p < call.n * ${u32(k)}; p++) {
      if (top[p] != i32(expert) || pairRow[p] < 0) { continue; }
      rowPair[u32(row)] = i32(p);
      pairRow[p] = row;
      row = row + 1;
    }
  }
}
`;
  return { label, code, bindings, grid: () => [1, 1, 1] };
}

/** xs[r, :] = x[rowPair[r] / k, :] for the kept rows (one thread per element of n·k rows). */
export function gatherKernel(experts: number, k: number, inputs: number): Kernel {
  return elementKernel({
    label: `moeGather k=${k} inputs=${inputs}`,
    bindings: [
      { name: "x", access: "read" },
      { name: "rowPair", access: "read" },
      { name: "expertStart", access: "read" },
      { name: "xs", access: "read_write" },
    ],
    types: { rowPair: "i32", expertStart: "i32" },
    count: (n) => n * k * inputs,
    countExpr: `call.n * ${u32(k * inputs)}`,
    body: `  let r = i / ${u32(inputs)};
  if (r >= u32(expertStart[${u32(experts)}])) { return; }
  xs[i] = x[(u32(rowPair[r]) / ${u32(k)}) * ${u32(inputs)} + i % ${u32(inputs)}];`,
  });
}

/** h[e, j] = Σ over e's kept slots, in slot order, of gates · ys[row, j] (first stored, later added; none: 0). */
export function combineKernel(k: number, units: number): Kernel {
  return elementKernel({
    label: `moeCombine k=${k} units=${units}`,
    bindings: [
      { name: "ys", access: "read" },
      { name: "pairRow", access: "read" },
      { name: "gates", access: "read" },
      { name: "h", access: "read_write" },
    ],
    types: { pairRow: "i32" },
    count: (n) => n * units,
    countExpr: `call.n * ${u32(units)}`,
    body: `  let e = i / ${u32(units)};
  let j = i % ${u32(units)};
  var first = true;
  var v = 0.0;
  for (var s = 0u; s < ${u32(k)}; s++) {
    let p = e * ${u32(k)} + s;
    let r = pairRow[p];
    if (r < 0) { continue; }
    let term = gates[p] * ys[u32(r) * ${u32(units)} + j];
    v = select(v + term, term, first);
    first = false;
  }
  h[i] = v;`,
  });
}

export interface BalanceShape {
  experts: number;
  k: number;
  kind: "none" | "switch" | "cv";
  c1: number;
  c2: number;
}

/**
 * The balance statistics and loss (balanceStats): per expert (a thread each, examples in order)
 * the fraction f_i of examples whose k selected include it, the mean probability P̄_i, the
 * importance (Σ gates) and the load (the routed count, or Σ_x Φ((l_i - t)/softplus(nl_i)) with
 * noisy gating in training when k < E); then one thread: Switch c1·E·Σ f_i P̄_i, or CV
 * c1·CV²(importance) + c2·CV²(load) with both gradients. The value also goes to the loss slot.
 */
export function balanceKernel(shape: BalanceShape, noisy: boolean, lossSlot: number | null): Kernel {
  const { experts: E, k } = shape;
  const smooth = noisy && k < E && shape.kind === "cv";
  const bindings: KernelBinding[] = [
    { name: "logits", access: "read" },
    { name: "gateLogits", access: "read" },
    { name: "probs", access: "read" },
    { name: "top", access: "read" },
    { name: "gates", access: "read" },
    { name: "balance", access: "read_write" },
  ];
  if (smooth) bindings.push({ name: "noiseLogits", access: "read" });
  if (lossSlot !== null) bindings.push({ name: "loss", access: "read_write" });
  const at = (which: number, i: string) => `balance[${u32(1 + which * E)} + ${i}]`;
  /** value += coefficient · CV²(v) and, when `keepGrad`, its gradient into `grad` (else zeros). */
  const cv = (which: number, grad: number, coefficient: number, keepGrad: boolean) => `{
      var mean = 0.0;
      for (var i = 0u; i < ${u32(E)}; i++) { mean = mean + ${at(which, "i")}; }
      mean = mean / ${f32(E)};
      var variance = 0.0;
      for (var i = 0u; i < ${u32(E)}; i++) { let d = ${at(which, "i")} - mean; variance = variance + d * d; }
      variance = variance / ${f32(E)};
      let denom = mean * mean + ${f32(1e-10)};
      for (var i = 0u; i < ${u32(E)}; i++) {
        ${at(grad, "i")} = ${keepGrad ? `${f32(coefficient)} * ((2.0 / ${f32(E)}) * (${at(which, "i")} - mean) / denom - variance * (2.0 * mean / ${f32(E)}) / (denom * denom))` : "0.0"};
      }
      value = value + ${f32(coefficient)} * (variance / denom);
    }`;
  const finish =
    shape.kind === "switch"
      ? `    var dot = 0.0;
    for (var i = 0u; i < ${u32(E)}; i++) { dot = dot + ${at(0, "i")} * ${at(1, "i")}; }
    value = ${f32(shape.c1)} * ${f32(E)} * dot;`
      : `    ${cv(2, 4, shape.c1, true)}
    ${cv(3, 5, shape.c2, smooth)}`;
  const code = `// moeBalance E=${E} k=${k} ${shape.kind}${noisy ? " noisy" : ""}
${CALL_UNIFORM_WGSL}
${storageDeclarations(bindings, { top: "i32" })}
const EXPERTS: i32 = ${E};
${MATH_WGSL}
${MATH_EXTRA_WGSL}
${SHARED}
${SELECTED(k)}

@compute @workgroup_size(64)
fn main(@builtin(local_invocation_index) lid: u32) {
  let n = call.n;
  for (var i = lid; i < ${u32(E)}; i += 64u) {
    var fraction = 0.0;
    var meanProb = 0.0;
    var importance = 0.0;
    var load = 0.0;
    for (var e = 0u; e < n; e++) {
      for (var s = 0u; s < ${u32(k)}; s++) {
        if (top[e * ${u32(k)} + s] == i32(i)) {
          fraction = fraction + 1.0;
          importance = importance + gates[e * ${u32(k)} + s];
          ${smooth ? "" : "load = load + 1.0;"}
        }
      }
      meanProb = meanProb + probs[e * ${u32(E)} + i];${
        smooth
          ? `
      let next = nextLargest(e, ${u32(k)});
      var t = 0;
      if (isSelected(e, ${u32(k)}, i32(i))) { t = next; } else { t = top[e * ${u32(k)} + ${u32(k - 1)}]; }
      let width = softplusF(noiseLogits[e * ${u32(E)} + i]);
      load = load + normalCdf((logits[e * ${u32(E)} + i] - gateLogits[e * ${u32(E)} + u32(t)]) / width);`
          : ""
      }
    }
    ${at(0, "i")} = select(fraction / f32(n), 0.0, n == 0u);
    ${at(1, "i")} = select(meanProb / f32(n), 0.0, n == 0u);
    ${at(2, "i")} = importance;
    ${at(3, "i")} = load;
  }
  storageBarrier();
  if (lid == 0u) {
    var value = 0.0;
    if (n > 0u) {
${shape.kind === "none" ? "" : finish}
    }
    balance[0] = value;${lossSlot !== null ? `\n    loss[${u32(lossSlot)}] = value;` : ""}
  }
}
`;
  return { label: `moeBalance E=${E} k=${k} ${shape.kind}`, code, bindings, grid: () => [1, 1, 1] };
}

/** Adds one pass to the phase's counters (moeAccumulateStats); one thread. */
export function statsKernel(experts: number, k: number): Kernel {
  return elementKernel({
    label: `moeStats E=${experts} k=${k}`,
    bindings: [
      { name: "counts", access: "read" },
      { name: "dropCount", access: "read" },
      { name: "rowEntropy", access: "read" },
      { name: "balance", access: "read" },
      { name: "counters", access: "read_write" },
    ],
    types: { counts: "i32", dropCount: "u32", counters: "u32" },
    count: () => 1,
    countExpr: "1u",
    body: `  ${addCounter64("counters", `${COUNTER_EXAMPLES}u`, "call.n")}
  ${addCounter64("counters", `${COUNTER_PAIRS}u`, `call.n * ${u32(k)}`)}
  ${addCounter64("counters", `${COUNTER_DROPPED}u`, "dropCount[0]")}
  var entropy = 0.0;
  for (var r = 0u; r < call.n; r++) { entropy = entropy + rowEntropy[r]; }
  counters[${COUNTER_ENTROPY_WORD}u] = bitcast<u32>(bitcast<f32>(counters[${COUNTER_ENTROPY_WORD}u]) + entropy);
  counters[${COUNTER_BALANCE_WORD}u] = bitcast<u32>(bitcast<f32>(counters[${COUNTER_BALANCE_WORD}u]) + balance[0] * f32(call.n));
  for (var e = 0u; e < ${u32(experts)}; e++) {
    ${addCounter64("counters", `${COUNTER_LOAD_WORD / 2}u + e`, "u32(counts[e])")}
  }`,
  });
}

/** dgates[p] = dh_e · ys[row] over the units (0 for a dropped pair); one thread per pair. */
export function dgatesKernel(k: number, units: number): Kernel {
  return elementKernel({
    label: `moeDgates k=${k} units=${units}`,
    bindings: [
      { name: "dh", access: "read" },
      { name: "ys", access: "read" },
      { name: "pairRow", access: "read" },
      { name: "dgates", access: "read_write" },
    ],
    types: { pairRow: "i32" },
    count: (n) => n * k,
    countExpr: `call.n * ${u32(k)}`,
    body: `  let r = pairRow[i];
  if (r < 0) {
    dgates[i] = 0.0;
    return;
  }
  let e = i / ${u32(k)};
  var acc = 0.0;
  for (var j = 0u; j < ${u32(units)}; j++) { acc = acc + dh[e * ${u32(units)} + j] * ys[u32(r) * ${u32(units)} + j]; }
  dgates[i] = acc;`,
  });
}

/** dys[row, j] = gate · dh[example, j] for the kept rows (one thread per element). */
export function dysKernel(experts: number, k: number, units: number): Kernel {
  return elementKernel({
    label: `moeDys k=${k} units=${units}`,
    bindings: [
      { name: "dh", access: "read" },
      { name: "rowPair", access: "read" },
      { name: "expertStart", access: "read" },
      { name: "gates", access: "read" },
      { name: "dys", access: "read_write" },
    ],
    types: { rowPair: "i32", expertStart: "i32" },
    count: (n) => n * k * units,
    countExpr: `call.n * ${u32(k * units)}`,
    body: `  let r = i / ${u32(units)};
  if (r >= u32(expertStart[${u32(experts)}])) { return; }
  let p = u32(rowPair[r]);
  dys[i] = gates[p] * dh[(p / ${u32(k)}) * ${u32(units)} + i % ${u32(units)}];`,
  });
}

/** dz ← dz ⊙ act'(from the output h) in place over the kept rows. */
export function keptActivationBackwardKernel(experts: number, k: number, width: number, activation: Activation): Kernel {
  const derivative =
    activation === "relu" ? "select(0.0, d, y > 0.0)" : activation === "tanh" ? "d * (1.0 - y * y)" : activation === "sigmoid" ? "d * (y * (1.0 - y))" : "d";
  return elementKernel({
    label: `moeActivationBackward ${activation} width=${width}`,
    bindings: [
      { name: "dz", access: "read_write" },
      { name: "h", access: "read" },
      { name: "expertStart", access: "read" },
    ],
    types: { expertStart: "i32" },
    count: (n) => n * k * width,
    countExpr: `call.n * ${u32(k * width)}`,
    body: `  if (i / ${u32(width)} >= u32(expertStart[${u32(experts)}])) { return; }
  let d = dz[i];
  let y = h[i];
  dz[i] = ${derivative};`,
  });
}

/** dx[e, :] (=, or += when beta 1) Σ over e's kept slots, in slot order, of dxs[row, :] (none kept: 0, or as it was). */
export function scatterInputKernel(k: number, inputs: number, beta: 0 | 1): Kernel {
  return elementKernel({
    label: `moeScatterInput k=${k} inputs=${inputs} beta=${beta}`,
    bindings: [
      { name: "dxs", access: "read" },
      { name: "pairRow", access: "read" },
      { name: "dx", access: "read_write" },
    ],
    types: { pairRow: "i32" },
    count: (n) => n * inputs,
    countExpr: `call.n * ${u32(inputs)}`,
    body: `  let e = i / ${u32(inputs)};
  let c = i % ${u32(inputs)};
  var started = ${beta === 1 ? "true" : "false"};
  var v = ${beta === 1 ? "dx[i]" : "0.0"};
  for (var s = 0u; s < ${u32(k)}; s++) {
    let r = pairRow[e * ${u32(k)} + s];
    if (r < 0) { continue; }
    let term = dxs[u32(r) * ${u32(inputs)} + c];
    v = select(term, v + term, started);
    started = true;
  }
  dx[i] = v;`,
  });
}

/**
 * One example's dL/dl and dL/dnl (routerRowBackward), one thread per example: the Switch term
 * through P = softmax(G), the gates' gradient (dgates, plus CV's importance gradient) through the
 * top-k softmax, CV's smooth-load gradient with noisy gating; dLogits = dG + dl, dNoise = dG ·
 * noise · sigm(nl) + dnl. dG accumulates in dLogits itself, dl and dnl in the scratch rows.
 */
export function routerRowBackwardKernel(shape: BalanceShape, noisy: boolean): Kernel {
  const { experts: E, k } = shape;
  const smooth = noisy && k < E && shape.kind === "cv";
  const bindings: KernelBinding[] = [
    { name: "logits", access: "read" },
    { name: "gateLogits", access: "read" },
    { name: "probs", access: "read" },
    { name: "top", access: "read" },
    { name: "gates", access: "read" },
    { name: "dgates", access: "read" },
    { name: "balance", access: "read" },
    { name: "dLogits", access: "read_write" },
    { name: "dl", access: "read_write" },
  ];
  if (noisy) bindings.push({ name: "noiseLogits", access: "read" }, { name: "noise", access: "read" }, { name: "dNoise", access: "read_write" });
  const bal = (which: number, i: string) => `balance[${u32(1 + which * E)} + ${i}]`;
  return elementKernel({
    label: `moeRouterRowBackward E=${E} k=${k} ${shape.kind}${noisy ? " noisy" : ""}`,
    bindings,
    types: { top: "i32" },
    declarations: `const EXPERTS: i32 = ${E};\n${MATH_WGSL}\n${MATH_EXTRA_WGSL}\n${SHARED}\n${SELECTED(k)}`,
    count: (n) => n,
    countExpr: "call.n",
    body: `  let base = i * ${u32(E)};
  let row = i * ${u32(k)};
  for (var j = 0u; j < ${u32(E)}; j++) {
    dLogits[base + j] = 0.0;
    dl[base + j] = 0.0;${noisy ? "\n    dNoise[base + j] = 0.0;" : ""}
  }
${
  shape.kind === "switch"
    ? `  {
    let scale = ${f32(shape.c1)} * ${f32(E)} / f32(call.n);
    var mean = 0.0;
    for (var j = 0u; j < ${u32(E)}; j++) { mean = mean + scale * ${bal(0, "j")} * probs[base + j]; }
    for (var j = 0u; j < ${u32(E)}; j++) { dLogits[base + j] = dLogits[base + j] + probs[base + j] * (scale * ${bal(0, "j")} - mean); }
  }`
    : ""
}
  ${
    k === 1
      ? `{
    let sel = u32(top[row]);
    let d = dgates[row]${shape.kind === "cv" ? ` + ${bal(4, "sel")}` : ""};
    let pi = probs[base + sel];
    for (var j = 0u; j < ${u32(E)}; j++) { dLogits[base + j] = dLogits[base + j] + d * pi * (select(0.0, 1.0, j == sel) - probs[base + j]); }
  }`
      : `{
    var mean = 0.0;
    for (var s = 0u; s < ${u32(k)}; s++) {
      let d = dgates[row + s]${shape.kind === "cv" ? ` + ${bal(4, "u32(top[row + s])")}` : ""};
      mean = mean + gates[row + s] * d;
    }
    for (var s = 0u; s < ${u32(k)}; s++) {
      let sel = u32(top[row + s]);
      let d = dgates[row + s]${shape.kind === "cv" ? ` + ${bal(4, "sel")}` : ""};
      dLogits[base + sel] = dLogits[base + sel] + gates[row + s] * (d - mean);
    }
  }`
  }
${
  smooth
    ? `  {
    let next = nextLargest(i, ${u32(k)});
    for (var j = 0u; j < ${u32(E)}; j++) {
      let c = ${bal(5, "j")};
      if (c == 0.0) { continue; }
      var m = 0;
      if (isSelected(i, ${u32(k)}, i32(j))) { m = next; } else { m = top[row + ${u32(k - 1)}]; }
      let nl = noiseLogits[base + j];
      let width = softplusF(nl);
      let u = (logits[base + j] - gateLogits[base + u32(m)]) / width;
      let density = 0.3989422804014327 * expCephes(-0.5 * u * u) / width;
      dl[base + j] = dl[base + j] + c * density;
      dLogits[base + u32(m)] = dLogits[base + u32(m)] + c * -density;
      dNoise[base + j] = dNoise[base + j] + c * (-density * u * sigmoidF(nl));
    }
  }`
    : ""
}
  for (var j = 0u; j < ${u32(E)}; j++) {
    let d = dLogits[base + j];
    ${noisy ? "dNoise[base + j] = d * (noise[base + j] * sigmoidF(noiseLogits[base + j])) + dNoise[base + j];" : ""}
    dLogits[base + j] = d + dl[base + j];
  }`,
  });
}
