/**
 * @fileoverview The manifest (`NAME.json`) that travels with a compiled `NAME.wasm`:
 * everything the runtime needs to drive the module without the compiler.
 */

export const MANIFEST_FORMAT = "condc-model";
export const MANIFEST_VERSION = 1;

export interface ManifestRegion {
  name: string;
  role: string;
  offset: number;
  shape: number[];
  bytes: number;
}

export interface ManifestLayer {
  name: string;
  op: string;
  /** The gate and its settings (`kind`: lowrank, policy), or null for an ungated layer. */
  gate: ({ kind: string } & Record<string, unknown>) | null;
  /** `null` when the layer reads the model's input. */
  source: string | null;
  inputs: number;
  units: number;
  activation: string;
  /** Region names of the layer's output and of dL/d(pre-activation) (null if unused). */
  output: string;
  delta: string | null;
  macs: number;
}

export interface ManifestParam {
  name: string;
  layer: string;
  shape: number[];
  region: string;
}

export interface Manifest {
  format: typeof MANIFEST_FORMAT;
  formatVersion: number;
  compilerVersion: string;
  /** SHA-256 of the model file's text, hex. */
  sourceHash: string;
  file: string;
  model: string;
  input: { name: string; width: number };
  classes: number;
  maxBatch: number;
  layers: ManifestLayer[];
  params: ManifestParam[];
  memory: { base: number; end: number; regions: ManifestRegion[] };
  /** The training settings of the model file, defaults filled in. */
  train: {
    data: { kind: string; dir?: string };
    optimizer: Record<string, number | string>;
    batch: number;
    epochs: number;
    seed: number;
    schedule: { kind: string; every?: number; factor?: number };
  };
  cost: { parameters: number; macsPerExample: number };
}

/** Checks the fields the runtime relies on; returns what is wrong, or [] when usable. */
export function manifestProblems(value: unknown): string[] {
  const m = value as Partial<Manifest> | null;
  if (typeof m !== "object" || m === null) return ["the manifest is not a JSON object"];
  const problems: string[] = [];
  if (m.format !== MANIFEST_FORMAT) problems.push(`format is ${JSON.stringify(m.format)}, expected "${MANIFEST_FORMAT}"`);
  if (m.formatVersion !== MANIFEST_VERSION) problems.push(`formatVersion is ${JSON.stringify(m.formatVersion)}, expected ${MANIFEST_VERSION}`);
  for (const key of ["model", "input", "classes", "maxBatch", "layers", "params", "memory", "train"] as const) {
    if (m[key] === undefined) problems.push(`field '${key}' is missing`);
  }
  return problems;
}

/**
 * The name of a layer's own export in a compiled module: `<layer>__<what>` (e.g.
 * `h1__flush`, `h1__lowrankEnable`). Model-wide extras carry no layer prefix.
 */
export function layerExportName(layer: string, what: string): string {
  return `${layer}__${what}`;
}

export function findRegion(manifest: Manifest, name: string): ManifestRegion {
  const region = manifest.memory.regions.find((r) => r.name === name);
  if (!region) throw new Error(`manifest has no memory region '${name}'`);
  return region;
}
