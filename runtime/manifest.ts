/**
 * @fileoverview The manifest (`NAME.json`) that travels with a compiled `NAME.wasm`: the
 * contract between compiler and runtime, as data. Per layer its method and options, its
 * parameters, regions (with roles and dtypes), exported functions and cost-model MACs; the
 * memory plan; the kernel library the module links against; the build id the module carries.
 * The runtime reads facts from here and never rebuilds them from shapes or name conventions.
 */

export const MANIFEST_FORMAT = "condc-model";
export const MANIFEST_VERSION = 2;

export type RegionDtype = "f32" | "i32" | "f64";

export interface ManifestRegion {
  name: string;
  /** param, grad, optimizer, input, labels, activation, delta, probs, scratch, state, counters. */
  role: string;
  dtype: RegionDtype;
  offset: number;
  shape: number[];
  bytes: number;
  /** For counters: each element's name. */
  fields?: string[];
}

export interface ManifestLayer {
  name: string;
  /** The method's registry key (`methods/registry.ts`) and its checked options. */
  method: string;
  options: Record<string, unknown>;
  /** `null` when the layer reads the model's input. */
  source: string | null;
  inputs: number;
  units: number;
  activation: string;
  isOutput: boolean;
  /** Region names of the layer's output and of dL/d(pre-activation) (null: the loss does not depend on it). */
  output: string;
  delta: string | null;
  /** Parameter names by the method's suffix (`weight` -> `h1.weight`). */
  params: Record<string, string>;
  /** The method's regions by suffix. */
  regions: Record<string, string>;
  /** The method's exported functions by what they do (`flush` -> `h1__flush`). */
  exports: Record<string, string>;
  /** Coefficient of the L1 penalty on the layer's output in the loss (0: none). */
  l1: number;
  /** Cost model per example: the conditional layer at its expected density, and dense. */
  macs: number;
  denseMacs: number;
}

export interface ManifestParam {
  name: string;
  layer: string;
  shape: number[];
  dtype: "f32";
  region: string;
  /** optimizer, method (its own update) or none (derived, e.g. estimator factors). */
  update: string;
  /** Weight decay applies (weights, not biases). */
  decay: boolean;
  /** Its gradient's region (null: not trained) and its optimizer state's regions. */
  grad: string | null;
  state: string[];
  role: string;
}

export interface Manifest {
  format: typeof MANIFEST_FORMAT;
  formatVersion: number;
  compilerVersion: string;
  /** SHA-256 of the model file's text, hex. */
  sourceHash: string;
  /** Identifies this build; the module carries the same id (custom section `condc`). */
  buildId: string;
  file: string;
  model: string;
  /** The kernel library the module imports: its id, static data end and per-thread scratch. */
  kernels: { id: string; staticDataEnd: number; scratchBytes: number };
  input: { name: string; width: number };
  classes: number;
  maxBatch: number;
  layers: ManifestLayer[];
  params: ManifestParam[];
  memory: { base: number; end: number; regions: ManifestRegion[] };
  /** Model-wide exported functions of methods, by what they do (`policySetSeed`). */
  exports: Record<string, string>;
  /** The training settings of the model file, defaults filled in. */
  train: {
    data: { kind: string; dir?: string };
    optimizer: Record<string, number | string>;
    /** Settings owned by methods, by setting name (`policy`). */
    settings: Record<string, unknown>;
    batch: number;
    epochs: number;
    seed: number;
    schedule: { kind: string; every?: number; factor?: number };
  };
  /** Cost model per example for the whole model (layers the loss depends on). */
  cost: { parameters: number; macsPerExample: number; denseMacsPerExample: number };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const isCount = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v) && v >= 0;
const isShape = (v: unknown): v is number[] => Array.isArray(v) && v.every(isCount);
const DTYPE_BYTES: Record<string, number> = { f32: 4, i32: 4, f64: 8 };

/** Checks everything the runtime relies on; returns what is wrong, or [] when usable. */
export function manifestProblems(value: unknown): string[] {
  if (!isObject(value)) return ["the manifest is not a JSON object"];
  const m = value as Partial<Manifest>;
  const problems: string[] = [];
  if (m.format !== MANIFEST_FORMAT) problems.push(`format is ${JSON.stringify(m.format)}, expected "${MANIFEST_FORMAT}"`);
  if (m.formatVersion !== MANIFEST_VERSION) {
    problems.push(`formatVersion is ${JSON.stringify(m.formatVersion)}, expected ${MANIFEST_VERSION} (rebuild the model with this condc)`);
    return problems;
  }
  for (const key of ["model", "buildId", "input", "classes", "maxBatch", "layers", "params", "memory", "train", "kernels", "exports", "cost"] as const) {
    if (m[key] === undefined) problems.push(`field '${key}' is missing`);
  }
  if (problems.length > 0) return problems;
  if (!isCount(m.maxBatch) || m.maxBatch < 1) problems.push("maxBatch is not a positive integer");
  if (!isCount(m.classes) || m.classes < 2) problems.push("classes is not an integer >= 2");
  if (!isObject(m.input) || !isCount(m.input.width) || m.input.width < 1) problems.push("input.width is not a positive integer");
  const memory = m.memory as Manifest["memory"];
  if (!isObject(memory) || !isCount(memory.base) || !isCount(memory.end) || !Array.isArray(memory.regions)) {
    problems.push("memory is not {base, end, regions}");
    return problems;
  }
  if (memory.end > 2 ** 32) problems.push(`memory.end ${memory.end} is past the 4 GiB wasm32 memory`);
  const regions = new Map<string, ManifestRegion>();
  for (const r of memory.regions as unknown[]) {
    const region = r as ManifestRegion;
    if (!isObject(r) || typeof region.name !== "string" || !isCount(region.offset) || !isShape(region.shape) || !(region.dtype in DTYPE_BYTES)) {
      problems.push(`a memory region is malformed: ${JSON.stringify(r).slice(0, 80)}`);
      continue;
    }
    const bytes = DTYPE_BYTES[region.dtype]! * region.shape.reduce((a, b) => a * b, 1);
    if (region.bytes !== bytes) problems.push(`region '${region.name}' has ${region.bytes} bytes for shape [${region.shape}] ${region.dtype}`);
    if (region.offset < memory.base || region.offset + bytes > memory.end) problems.push(`region '${region.name}' lies outside the memory plan`);
    if (region.offset % 16 !== 0) problems.push(`region '${region.name}' is not 16-byte aligned`);
    regions.set(region.name, region);
  }
  const need = (name: unknown, what: string, dtype?: RegionDtype): void => {
    const r = typeof name === "string" ? regions.get(name) : undefined;
    if (!r) problems.push(`${what} names region ${JSON.stringify(name)}, which the memory plan does not have`);
    else if (dtype && r.dtype !== dtype) problems.push(`${what}: region '${r.name}' is ${r.dtype}, expected ${dtype}`);
  };
  need("input", "the input", "f32");
  need("labels", "the labels", "i32");
  need("probs", "the probabilities", "f32");
  if (!Array.isArray(m.params)) problems.push("params is not a list");
  else {
    for (const p of m.params as ManifestParam[]) {
      if (!isObject(p) || typeof p.name !== "string" || !isShape(p.shape)) {
        problems.push(`a parameter entry is malformed: ${JSON.stringify(p).slice(0, 80)}`);
        continue;
      }
      need(p.region, `parameter '${p.name}'`, "f32");
      const r = regions.get(p.region);
      if (r && r.shape.join("x") !== p.shape.join("x")) problems.push(`parameter '${p.name}' has shape [${p.shape}] but its region [${r.shape}]`);
    }
  }
  if (!Array.isArray(m.layers) || m.layers.length === 0) problems.push("layers is not a non-empty list");
  else {
    for (const l of m.layers as ManifestLayer[]) {
      if (!isObject(l) || typeof l.name !== "string" || typeof l.method !== "string" || !isCount(l.units) || !isCount(l.inputs)) {
        problems.push(`a layer entry is malformed: ${JSON.stringify(l).slice(0, 80)}`);
        continue;
      }
      need(l.output, `layer '${l.name}'`, "f32");
      if (l.delta !== null) need(l.delta, `layer '${l.name}'`, "f32");
      for (const key of ["params", "regions", "exports", "options"] as const) if (!isObject(l[key])) problems.push(`layer '${l.name}' has no '${key}' object`);
      if (isObject(l.regions)) for (const name of Object.values(l.regions)) need(name, `layer '${l.name}'`);
    }
    if ((m.layers as ManifestLayer[]).filter((l) => isObject(l) && l.isOutput === true).length !== 1) problems.push("the layers do not mark exactly one output layer");
  }
  return problems;
}

export function findRegion(manifest: Manifest, name: string): ManifestRegion {
  const region = manifest.memory.regions.find((r) => r.name === name);
  if (!region) throw new Error(`manifest has no memory region '${name}'`);
  return region;
}
