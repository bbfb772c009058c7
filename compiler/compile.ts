/**
 * @fileoverview The public compile API: model text -> checked model -> IR -> AssemblyScript
 * -> `.wasm` (plain SIMD, and relaxed SIMD with FMA) + manifest.
 */
import type { Manifest } from "../runtime/manifest.js";
import { compileAssemblyScript } from "./backend/codegen/asc.js";
import { generateModule } from "./backend/codegen/generate.js";
import { DiagnosticBag, sortDiagnostics, type Diagnostic } from "./frontend/diagnostics.js";
import { checkSource } from "./frontend/frontend.js";
import type { IrModule } from "./backend/ir.js";
import { validateIr, WASM_MAX_BYTES } from "./backend/ir-validate.js";
import { lowerModel } from "./backend/lower.js";
import { buildManifest, sha256Hex } from "./backend/manifest.js";
import type { SourceText } from "./frontend/source-text.js";
import { COMPILER_VERSION } from "./version.js";

export interface CompileOptions {
  /** The file name diagnostics and the manifest carry. Default "model.cond". */
  file?: string;
  /** The largest minibatch the module accepts; fixes the memory plan. Default 128. */
  maxBatch?: number;
  /** Which builds to produce. Default "both". */
  simd?: "both" | "plain" | "relaxed";
  /**
   * Compile the dense equivalent: every gate removed and every tree layer replaced by a
   * dense layer of the same shape, so each layer runs as a plain dense layer (the baseline
   * `condc bench` measures a conditional model against).
   */
  denseEquivalent?: boolean;
}

export interface CompileSuccess {
  ok: true;
  /** The plain-SIMD build: validates in every engine with SIMD (or the relaxed one if only that was asked for). */
  wasm: Uint8Array;
  /** The relaxed-SIMD (FMA) build, when asked for. */
  relaxedWasm?: Uint8Array;
  manifest: Manifest;
  /** Warnings only. */
  diagnostics: Diagnostic[];
  /** The generated AssemblyScript entry (`condc build --emit as`). */
  assemblyScript: string;
  ir: IrModule;
  source: SourceText;
}

export interface CompileFailure {
  ok: false;
  diagnostics: Diagnostic[];
  source: SourceText;
}

export type CompileResult = CompileSuccess | CompileFailure;

/** A failure inside the compiler itself (never caused by the model file). */
export class InternalCompilerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InternalCompilerError";
  }
}

/** Bytes of static data the kernel library may place above the plan (packing buffers). */
const KERNEL_STATIC_RESERVE = 4 << 20;

export async function compile(text: string, options: CompileOptions = {}): Promise<CompileResult> {
  const file = options.file ?? "model.cond";
  const maxBatch = options.maxBatch ?? 128;
  if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new RangeError(`maxBatch must be a positive integer, got ${maxBatch}`);
  const front = checkSource(text, file);
  if (!front.model) return { ok: false, diagnostics: front.diagnostics, source: front.source };

  const bag = new DiagnosticBag(file);
  const checked = options.denseEquivalent
    ? { ...front.model, layers: front.model.layers.map((l) => ({ ...l, op: "dense" as const, gate: null, tree: null })) }
    : front.model;
  const lowered = lowerModel(checked, { maxBatch });
  if (!lowered.ok) {
    for (const u of lowered.unsupported) bag.report("notYetSupported", u.span, { what: u.what, layer: u.layer });
    return { ok: false, diagnostics: sortDiagnostics([...front.diagnostics, ...bag.items]), source: front.source };
  }
  const ir = lowered.ir;
  if (ir.memory.end + KERNEL_STATIC_RESERVE > WASM_MAX_BYTES) {
    const span = front.program!.model!.name.span;
    bag.report("memoryPlanTooLarge", span, { bytes: ir.memory.end + KERNEL_STATIC_RESERVE, maxBatch });
    return { ok: false, diagnostics: sortDiagnostics([...front.diagnostics, ...bag.items]), source: front.source };
  }
  const problems = validateIr(ir);
  if (problems.length > 0) throw new InternalCompilerError(`invalid IR for '${ir.modelName}': ${problems.join("; ")}`);

  const sourceHash = await sha256Hex(text);
  const { source: assemblyScript } = generateModule(ir, `${ir.modelName} from ${file}, condc ${COMPILER_VERSION}, sha256 ${sourceHash}`);
  const simd = options.simd ?? "both";
  const build = async (relaxedSimd: boolean): Promise<Uint8Array> => {
    const result = await compileAssemblyScript({ "model.ts": assemblyScript }, "model.ts", {
      relaxedSimd,
      memoryBase: ir.memory.end,
    });
    if (!result.ok) throw new InternalCompilerError(`AssemblyScript rejected the generated module:\n${result.stderr}`);
    return result.wasm;
  };
  const plain = simd === "relaxed" ? undefined : await build(false);
  const relaxed = simd === "plain" ? undefined : await build(true);
  return {
    ok: true,
    wasm: plain ?? relaxed!,
    relaxedWasm: relaxed,
    manifest: buildManifest(ir, file, sourceHash),
    diagnostics: front.diagnostics,
    assemblyScript,
    ir,
    source: front.source,
  };
}
