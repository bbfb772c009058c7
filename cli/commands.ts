/**
 * @fileoverview The command table: adding a command is one file `cli/<name>.ts` and one entry
 * here. Commands are loaded when run, so `condc check` and `condc inspect` load the front end
 * only (the bundled command splits each into its own chunks: scripts/bundle-cli.mjs).
 */
import type { Command } from "./command.js";

export interface CommandEntry {
  name: string;
  /** One line for the command list in `condc --help`. */
  summary: string;
  load(): Promise<Command>;
}

export const COMMANDS: readonly CommandEntry[] = [
  { name: "check", summary: "check .cond files and print their diagnostics", load: async () => (await import("./check.js")).checkCommand },
  { name: "inspect", summary: "print a model's parameters, MACs, capacity/computation ratio and memory", load: async () => (await import("./inspect.js")).inspectCommand },
  { name: "build", summary: "compile a model file to WebAssembly and a manifest", load: async () => (await import("./build.js")).buildCommand },
  { name: "train", summary: "train a model on a data set and save its weights", load: async () => (await import("./train.js")).trainCommand },
  { name: "eval", summary: "evaluate trained weights on a data set", load: async () => (await import("./eval.js")).evalCommand },
  { name: "bench", summary: "time a conditional model against the same model compiled dense", load: async () => (await import("./bench.js")).benchCommand },
  { name: "import", summary: "convert PyTorch, Flax or mapped safetensors weights into a model's checkpoint", load: async () => (await import("./import.js")).importCommand },
];
