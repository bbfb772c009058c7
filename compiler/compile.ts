/**
 * @fileoverview The public compile API: model text -> checked model -> IR -> a small wasm module
 * that imports the prebuilt kernel library (plain SIMD, and relaxed SIMD with FMA) + manifest.
 * No AssemblyScript or Binaryen runs here: a model compiles in milliseconds, in Node and in
 * browsers alike.
 */
import type { Manifest } from "../runtime/manifest.js";
import { KERNEL_LIBRARY } from "../runtime/generated/kernel-library.js";
import { DiagnosticBag, sortDiagnostics, type Diagnostic } from "./frontend/diagnostics.js";
import { checkSource, methodTable } from "./frontend/frontend.js";
import type { CheckedModel } from "./frontend/model.js";
import type { SourceText } from "./frontend/source-text.js";
import type { IrModule } from "./backend/ir.js";
import { validateIr, WASM_MAX_BYTES } from "./backend/ir-validate.js";
import { lowerModel } from "./backend/lower.js";
import { buildManifest, sha256Hex } from "./backend/manifest.js";
import { appendCustomSection } from "./backend/wasm/encoder.js";
import { generateModule } from "./backend/wasm/frame.js";
import { oneLine } from "./backend/wasm/listing.js";
import { InternalCompilerError } from "./errors.js";
import { COMPILER_VERSION } from "./version.js";
import type { MethodUnit } from "../methods/unit.js";

export { InternalCompilerError } from "./errors.js";

export interface CompileOptions {
  /** The file name diagnostics and the manifest carry. Default "model.cond". */
  file?: string;
  /** The largest minibatch the module accepts; fixes the memory plan. Default 128. */
  maxBatch?: number;
  /** Which builds to produce. Default "both". */
  simd?: "both" | "plain" | "relaxed";
  /**
   * Compile the dense equivalent: every layer compiled by the dense method with the same
   * shape (gates removed, trees as dense layers): the baseline `condc bench` measures against.
   */
  denseEquivalent?: boolean;
  /** The methods layers may use; default the registry's (`methods/registry.ts`). */
  methods?: readonly MethodUnit[];
}

export interface CompileSuccess {
  ok: true;
  /** The plain-SIMD build (or the relaxed one if only that was asked for). */
  wasm: Uint8Array;
  /** The relaxed-SIMD (FMA) build, when asked for. */
  relaxedWasm?: Uint8Array;
  manifest: Manifest;
  /** Warnings only. */
  diagnostics: Diagnostic[];
  /** The module as readable text (`condc build --emit wat`), made when first read. */
  readonly listing: string;
  ir: IrModule;
  source: SourceText;
}

export interface CompileFailure {
  ok: false;
  diagnostics: Diagnostic[];
  source: SourceText;
}

export type CompileResult = CompileSuccess | CompileFailure;

/** The custom section a model module carries: which manifest it belongs to and its SIMD flavour. */
export const BUILD_SECTION = "condc";

const SIMD_CHOICES = ["both", "plain", "relaxed"] as const;

function validateOptions(text: unknown, options: unknown): Required<Pick<CompileOptions, "file" | "maxBatch" | "simd">> {
  if (typeof text !== "string") throw new TypeError(`compile: the model text must be a string, got ${text === null ? "null" : typeof text}`);
  if (typeof options !== "object" || options === null) throw new TypeError("compile: options must be an object");
  const o = options as CompileOptions;
  const file = o.file ?? "model.cond";
  if (typeof file !== "string") throw new TypeError(`compile: options.file must be a string, got ${typeof file}`);
  const maxBatch = o.maxBatch ?? 128;
  if (typeof maxBatch !== "number" || !Number.isInteger(maxBatch) || maxBatch < 1 || maxBatch > 2 ** 24) {
    throw new RangeError(`compile: options.maxBatch must be an integer in [1, 16777216], got ${String(maxBatch)}`);
  }
  const simd = o.simd ?? "both";
  if (!(SIMD_CHOICES as readonly unknown[]).includes(simd)) throw new RangeError(`compile: options.simd must be "both", "plain" or "relaxed", got ${JSON.stringify(simd)}`);
  if (o.methods !== undefined && !Array.isArray(o.methods)) throw new TypeError("compile: options.methods must be an array of method units");
  return { file, maxBatch, simd };
}

/** Every layer compiled by the dense method, same shapes. */
function denseEquivalentOf(model: CheckedModel): CheckedModel {
  return { ...model, layers: model.layers.map((l) => ({ ...l, method: "dense", options: {} })) };
}

export async function compile(text: string, options: CompileOptions = {}): Promise<CompileResult> {
  const { file, maxBatch, simd } = validateOptions(text, options);
  const front = checkSource(text, file, { methods: options.methods });
  if (!front.model) return { ok: false, diagnostics: front.diagnostics, source: front.source };
  const methods = methodTable(options.methods);
  const bag = new DiagnosticBag(file);
  const checked = options.denseEquivalent ? denseEquivalentOf(front.model) : front.model;
  const ir = lowerModel(checked, { maxBatch, base: KERNEL_LIBRARY.staticDataEnd, methods });
  const needed = ir.memory.end + KERNEL_LIBRARY.scratchBytes;
  if (needed > WASM_MAX_BYTES) {
    bag.report("memoryPlanTooLarge", front.program!.model!.name.span, { bytes: needed.toLocaleString("en-US"), maxBatch });
    return { ok: false, diagnostics: sortDiagnostics([...front.diagnostics, ...bag.items]), source: front.source };
  }
  const problems = validateIr(ir);
  if (problems.length > 0) throw new InternalCompilerError(`invalid IR for '${ir.modelName}': ${problems.join("; ")}`, "lowering");

  const generated = generateModule(ir, methods);
  const sourceHash = await sha256Hex(text);
  const base = buildManifest(ir, generated, file, sourceHash);
  const buildId = (await sha256Hex(JSON.stringify(base))).slice(0, 32);
  const manifest: Manifest = { ...base, buildId };
  const body = generated.module.encode();
  const flavour = (which: "plain" | "relaxed"): Uint8Array =>
    appendCustomSection(body, BUILD_SECTION, new TextEncoder().encode(JSON.stringify({ buildId, simd: which, kernels: KERNEL_LIBRARY.id })));
  const plain = simd === "relaxed" ? undefined : flavour("plain");
  const relaxed = simd === "plain" ? undefined : flavour("relaxed");
  const header = `${ir.modelName} from ${oneLine(file)}, condc ${COMPILER_VERSION}, build ${buildId}, source sha256 ${sourceHash}`;
  let listing: string | undefined;
  return {
    ok: true,
    wasm: plain ?? relaxed!,
    relaxedWasm: relaxed,
    manifest,
    diagnostics: front.diagnostics,
    get listing(): string {
      return (listing ??= generated.module.listing(header));
    },
    ir,
    source: front.source,
  };
}
