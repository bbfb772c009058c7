/**
 * @fileoverview Weights trained elsewhere, renamed and transposed to a condc model's tensors:
 * PyTorch names as they are, Flax `kernel` [in, out] transposed to `weight` [out, in], or an
 * explicit map. Every unmatched, missing or mis-shaped tensor is reported in one error.
 */
import { CheckpointError } from "./errors.js";
import type { DecodedTensor } from "./safetensors.js";

/** How source tensor names become the model's. */
export type ImportMapping =
  /** `<layer>.weight` [out, in] and every other name as is (PyTorch's `nn.Linear` layout). */
  | { kind: "torch" }
  /** `/` read as `.`, a leading `params.` dropped, `<p>.kernel` [in, out] -> `<p>.weight` transposed. */
  | { kind: "flax" }
  /** Listed source names renamed (and optionally transposed) or dropped (null); the rest as is. */
  | { kind: "map"; label: string; entries: ReadonlyMap<string, MapTarget | null> };

export interface MapTarget {
  to: string;
  transpose: boolean;
  /** Read the (transposed) tensor row-major with this shape, e.g. MegaBlocks' [E·F, H] as [E, F, H]. */
  reshape?: readonly number[];
}

/** What the model expects (from its manifest's `params`). */
export interface ModelTensor {
  name: string;
  shape: readonly number[];
}

export interface ImportedTensor {
  name: string;
  shape: number[];
  data: Float32Array;
  /** The source tensor it came from, and whether it was transposed. */
  from: string;
  transposed: boolean;
}

const formatShape = (shape: readonly number[]): string => `[${shape.join(", ")}]`;
const product = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** Where one source tensor goes; null when the mapping drops it. */
function resolve(mapping: ImportMapping, source: string): MapTarget | null {
  switch (mapping.kind) {
    case "torch":
      return { to: source, transpose: false };
    case "flax": {
      let name = source.replaceAll("/", ".");
      if (name.startsWith("params.")) name = name.slice("params.".length);
      if (name.endsWith(".kernel")) return { to: `${name.slice(0, -".kernel".length)}.weight`, transpose: true };
      return { to: name, transpose: false };
    }
    case "map":
      return mapping.entries.has(source) ? mapping.entries.get(source)! : { to: source, transpose: false };
  }
}

/** A row-major [rows, cols] matrix transposed to [cols, rows]. */
export function transpose2d(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c]!;
  }
  return out;
}

/**
 * Maps `source` tensors onto the model's `expected` tensors (in `expected` order). Throws one
 * CheckpointError naming `fileLabel` and listing every problem: map entries naming absent
 * tensors, two sources for one tensor, a transposed tensor that is not 2-D, wrong shapes,
 * model tensors no source provides and source tensors the model has no place for.
 */
export function mapTensors(
  source: ReadonlyMap<string, Pick<DecodedTensor, "shape" | "data">>,
  expected: readonly ModelTensor[],
  mapping: ImportMapping,
  fileLabel: string,
): ImportedTensor[] {
  const problems: string[] = [];
  if (mapping.kind === "map") {
    for (const name of mapping.entries.keys()) {
      if (!source.has(name)) problems.push(`${mapping.label} maps ${name}, which the file does not hold`);
    }
  }
  const wanted = new Map(expected.map((t) => [t.name, t]));
  const byTarget = new Map<string, { from: string } & MapTarget>();
  const unmatched: string[] = [];
  for (const [name, tensor] of source) {
    const target = resolve(mapping, name);
    if (target === null) continue;
    const describe = target.to === name ? name : `${name} (as ${target.to})`;
    if (!wanted.has(target.to)) {
      unmatched.push(`unmatched tensor ${describe} ${formatShape(tensor.shape)}: the model has no tensor ${target.to}`);
      continue;
    }
    const previous = byTarget.get(target.to);
    if (previous) {
      problems.push(`${target.to} would come from both ${previous.from} and ${name}`);
      continue;
    }
    byTarget.set(target.to, { from: name, ...target });
  }

  const imported: ImportedTensor[] = [];
  for (const want of expected) {
    const link = byTarget.get(want.name);
    if (!link) {
      problems.push(`missing tensor ${want.name} ${formatShape(want.shape)}`);
      continue;
    }
    const tensor = source.get(link.from)!;
    const steps = [link.transpose ? ", transposed" : "", link.reshape ? `, reshaped to ${formatShape(link.reshape)}` : ""].join("");
    const origin = link.from === want.name && steps === "" ? "" : ` (from ${link.from}${steps})`;
    if (link.transpose && tensor.shape.length !== 2) {
      problems.push(`${want.name}${origin}: ${link.from} ${formatShape(tensor.shape)} is ${tensor.shape.length}-D; only 2-D tensors can be transposed`);
      continue;
    }
    let shape = link.transpose ? [tensor.shape[1]!, tensor.shape[0]!] : [...tensor.shape];
    if (link.reshape) {
      if (product(link.reshape) !== product(shape)) {
        problems.push(`${want.name}${origin}: cannot reshape ${formatShape(shape)} (${product(shape)} values) to ${formatShape(link.reshape)} (${product(link.reshape)})`);
        continue;
      }
      shape = [...link.reshape];
    }
    if (formatShape(shape) !== formatShape(want.shape)) {
      const reversed = shape.length === 2 && shape[0] === want.shape[1] && shape[1] === want.shape[0];
      const hint = reversed && !link.reshape ? `; it is the transpose: ${link.transpose ? "this mapping transposes it, the file may already be [out, in]" : "transpose it with a map entry"}` : "";
      problems.push(`${want.name}${origin}: expected ${formatShape(want.shape)}, found ${formatShape(shape)}${hint}`);
      continue;
    }
    const data = link.transpose ? transpose2d(tensor.data, tensor.shape[0]!, tensor.shape[1]!) : tensor.data;
    imported.push({ name: want.name, shape, data, from: link.from, transposed: link.transpose });
  }
  problems.push(...unmatched);
  if (problems.length > 0) {
    const count = problems.length === 1 ? "1 problem" : `${problems.length} problems`;
    throw new CheckpointError(fileLabel, `does not map onto the model (${count}):\n  ${problems.join("\n  ")}`);
  }
  return imported;
}

/**
 * Parses a JSON map: `{ "source name": "model name" | { "to": "model name", "transpose": true,
 * "shape": [sizes] } | null }` (null drops the tensor; "transpose" and "shape" are optional);
 * unlisted source tensors keep their names. Throws a CheckpointError naming `fileLabel` and
 * every bad entry.
 */
export function parseImportMap(text: string, fileLabel: string): ImportMapping {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new CheckpointError(fileLabel, `bad JSON (${(error as Error).message})`);
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new CheckpointError(fileLabel, 'a map must be a JSON object: { "source name": "model name", ... }');
  }
  const entries = new Map<string, MapTarget | null>();
  const problems: string[] = [];
  for (const [from, value] of Object.entries(json)) {
    if (value === null) entries.set(from, null);
    else if (typeof value === "string" && value !== "") entries.set(from, { to: value, transpose: false });
    else if (isTargetObject(value)) entries.set(from, { to: value.to, transpose: value.transpose ?? false, ...(value.shape ? { reshape: value.shape } : {}) });
    else problems.push(`${JSON.stringify(from)}: expected a tensor name, { "to": name, "transpose": true|false, "shape": [sizes] } or null, got ${JSON.stringify(value)}`);
  }
  if (problems.length > 0) throw new CheckpointError(fileLabel, `bad map entries:\n  ${problems.join("\n  ")}`);
  return { kind: "map", label: fileLabel, entries };
}

function isTargetObject(value: unknown): value is { to: string; transpose?: boolean; shape?: number[] } {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const { to, transpose, shape, ...rest } = value as Record<string, unknown>;
  const isShape = Array.isArray(shape) && shape.every((d) => Number.isSafeInteger(d) && d >= 0);
  return typeof to === "string" && to !== "" && (transpose === undefined || typeof transpose === "boolean") && (shape === undefined || isShape) && Object.keys(rest).length === 0;
}
