/**
 * @fileoverview `condc build FILE -o DIR`: compiles a model to NAME.wasm (plain SIMD),
 * NAME.relaxed.wasm (relaxed SIMD, FMA) and NAME.json (the manifest), each written atomically;
 * the modules carry the manifest's build id, so files of two builds are never paired at load.
 */
import { join } from "node:path";
import { writeFileAtomic } from "../runtime/node/files.js";
import { parseCommandArgs } from "./args.js";
import type { Command } from "./command.js";
import { CliError, ExitCode, type CliIO } from "./io.js";
import { compileFile, positiveInteger, prepareOutputDir } from "./session.js";

const USAGE = `usage: condc build FILE -o DIR [--max-batch N] [--simd both|plain|relaxed]
       condc build FILE --emit wat

Compiles a model file to WebAssembly.
  -o, --out DIR     write NAME.wasm, NAME.relaxed.wasm and NAME.json into DIR
  --max-batch N     the largest minibatch the module accepts (default 128)
  --simd WHICH      builds to write: both (default), plain, relaxed
  --emit wat        print the generated module as readable text (imports, globals, functions)`;

async function runBuild(args: string[], io: CliIO): Promise<number> {
  const { positionals, values } = parseCommandArgs("build", args, {
    out: { type: "string", short: "o" },
    "max-batch": { type: "string" },
    simd: { type: "string", default: "both" },
    emit: { type: "string" },
  });
  if (positionals.length !== 1) throw new CliError(`condc build: expected one model file\n${USAGE}`);
  if (values.emit !== undefined && values.emit !== "wat") {
    const hint = values.emit === "as" ? " (models are no longer compiled through AssemblyScript; 'wat' shows the generated module)" : "";
    throw new CliError(`condc build: --emit supports only 'wat', got '${String(values.emit)}'${hint}`);
  }
  const simd = values.simd;
  if (simd !== "both" && simd !== "plain" && simd !== "relaxed") throw new CliError(`condc build: --simd must be both, plain or relaxed, got '${String(simd)}'`);
  if (values.emit === undefined && values.out === undefined) throw new CliError(`condc build: missing -o DIR\n${USAGE}`);
  const maxBatch = positiveInteger("build", "max-batch", values["max-batch"]);
  if (values.out !== undefined) await prepareOutputDir("build", String(values.out));

  const result = await compileFile(io, "build", positionals[0]!, { maxBatch, simd });
  if (values.emit === "wat") {
    io.stdout(result.listing.trimEnd());
    if (values.out === undefined) return ExitCode.ok;
  }
  const dir = String(values.out);
  const name = result.manifest.model;
  const written: string[] = [];
  const write = async (file: string, bytes: Uint8Array): Promise<void> => {
    await writeFileAtomic(join(dir, file), bytes);
    written.push(join(dir, file));
  };
  if (simd !== "relaxed") await write(`${name}.wasm`, result.wasm);
  if (result.relaxedWasm) await write(`${name}.relaxed.wasm`, result.relaxedWasm);
  await write(`${name}.json`, new TextEncoder().encode(JSON.stringify(result.manifest, null, 2) + "\n"));
  io.stdout(`built ${name}: ${written.join(", ")}`);
  return ExitCode.ok;
}

export const buildCommand: Command = {
  name: "build",
  usage: USAGE,
  run: runBuild,
};
