/**
 * @fileoverview `condc import IN.safetensors --model FILE.cond --from torch|flax|MAP.json -o OUT`:
 * weights trained elsewhere, renamed and transposed to the model's tensors (names and shapes
 * from the compiled model's manifest), checked all at once, written atomically as F32.
 */
import { stat } from "node:fs/promises";
import { basename } from "node:path";
import { suggest } from "../compiler/frontend/suggest.js";
import { mapTensors, parseImportMap, type ImportMapping } from "../runtime/checkpoint/mapping.js";
import { decodeSafetensors, encodeSafetensors } from "../runtime/checkpoint/safetensors.js";
import { readFileOrExplain, writeFileAtomic } from "../runtime/node/files.js";
import { parseCommandArgs } from "./args.js";
import type { Command } from "./command.js";
import { CliError, describeFsError, ExitCode, type CliIO } from "./io.js";
import { compileFile, prepareOutput, reportingRuntimeErrors } from "./session.js";

const USAGE = `usage: condc import IN.safetensors --model FILE.cond --from torch|flax|MAP.json -o OUT.safetensors
                   [--allow-non-finite]

Converts weights trained elsewhere (F32, F16, BF16 or F64) into a checkpoint of FILE.cond (F32).
  --from torch     names as they are: <layer>.weight [out, in], <layer>.bias [out] (nn.Linear)
  --from flax      '/' read as '.', a leading 'params.' dropped, <layer>.kernel [in, out] becomes
                   <layer>.weight transposed, <layer>.bias kept
  --from MAP.json  { "source name": "model name" | null
                     | { "to": "model name", "transpose": true, "shape": [sizes] } }
                   (null drops a tensor; unlisted tensors keep their names)
  -o, --out FILE   the checkpoint to write (atomically)
  --allow-non-finite  accept NaN/Infinity weights (for debugging only)
Every unmatched, missing or mis-shaped tensor is reported in one message. See docs/import.md.`;

const BUILT_IN = ["torch", "flax"] as const;

async function parseMapping(from: string): Promise<ImportMapping> {
  if (from === "torch" || from === "flax") return { kind: from };
  if (!from.endsWith(".json")) {
    const close = suggest(from, BUILT_IN);
    throw new CliError(`condc import: --from must be torch, flax or a MAP.json file, got '${from}'${close ? `; did you mean '${close}'?` : ""}`);
  }
  const bytes = await readFileOrExplain(from, "map");
  return parseImportMap(new TextDecoder().decode(bytes), from);
}

async function runImport(args: string[], io: CliIO): Promise<number> {
  const { positionals, values } = parseCommandArgs("import", args, {
    model: { type: "string", short: "m" },
    from: { type: "string" },
    out: { type: "string", short: "o" },
    "allow-non-finite": { type: "boolean", default: false },
  });
  if (positionals.length !== 1) throw new CliError(`condc import: expected one safetensors file\n${USAGE}`);
  for (const option of ["model", "from", "out"] as const) {
    if (typeof values[option] !== "string" || values[option] === "") throw new CliError(`condc import: missing --${option}\n${USAGE}`);
  }
  const input = positionals[0]!;
  const out = values.out as string;
  const from = values.from as string;
  const outStat = await stat(out).catch(() => undefined);
  if (outStat?.isDirectory()) throw new CliError(`condc import: -o ${out} is a directory; give the checkpoint's file name`);

  return reportingRuntimeErrors("import", async () => {
    const mapping = await parseMapping(from);
    const inputStat = await stat(input).catch(() => undefined);
    if (inputStat && !inputStat.isFile()) throw new CliError(`condc import: ${input} is not a regular file`);
    const bytes = await readFileOrExplain(input, "weights");
    const decoded = decodeSafetensors(bytes, input, { allowNonFinite: values["allow-non-finite"] === true });
    const compiled = await compileFile(io, "import", values.model as string, { simd: "plain" });
    const { manifest } = compiled;
    const expected = manifest.params.map((p) => ({ name: p.name, shape: p.shape }));
    const imported = mapTensors(decoded.tensors, expected, mapping, input);
    const checkpoint = encodeSafetensors(imported, {
      model: manifest.model,
      source_sha256: manifest.sourceHash,
      compiler: `condc ${manifest.compilerVersion}`,
      step: "0",
      imported_from: basename(input),
      import_mapping: mapping.kind === "map" ? basename(mapping.label) : mapping.kind,
    });
    await prepareOutput("import", out);
    try {
      await writeFileAtomic(out, checkpoint);
    } catch (error) {
      throw new CliError(`condc import: cannot write '${out}': ${describeFsError(error)}`, ExitCode.sourceErrors);
    }
    const dtypes = [...new Set(imported.map((t) => decoded.tensors.get(t.from)!.storedDtype))].sort().join(", ");
    io.stdout(`imported ${imported.length} tensors of ${manifest.model} from ${input} (${mapping.kind === "map" ? `map ${mapping.label}` : mapping.kind}, ${dtypes} -> F32) into ${out}`);
    for (const t of imported) {
      const source = decoded.tensors.get(t.from)!;
      const how = t.from === t.name && !t.transposed ? "" : ` <- ${t.from} [${source.shape.join(", ")}]${t.transposed ? " transposed" : ""}`;
      io.stdout(`  ${t.name} [${t.shape.join(", ")}]${how}`);
    }
    return ExitCode.ok;
  });
}

export const importCommand: Command = {
  name: "import",
  usage: USAGE,
  run: runImport,
};
