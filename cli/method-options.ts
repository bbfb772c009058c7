/**
 * @fileoverview Command-line options that methods add to `train`, `eval` and `bench` (e.g.
 * `--policy threshold`): declared by the methods' runtime units, parsed and applied here.
 */
import { METHOD_RUNTIMES } from "../methods/runtime-registry.js";
import type { AnyModel } from "../runtime/backend.js";
import type { OptionsConfig } from "./args.js";
import { CliError } from "./io.js";

type Command = "train" | "eval" | "bench";

function optionsFor(command: Command) {
  return METHOD_RUNTIMES.flatMap((runtime) => (runtime.cliOptions ?? []).filter((o) => o.commands.includes(command)).map((option) => ({ runtime, option })));
}

/** The parseArgs entries of the methods' options for a command. */
export function methodOptionsConfig(command: Command): OptionsConfig {
  return Object.fromEntries(optionsFor(command).map(({ option }) => [option.name, { type: "string" as const }]));
}

/** The usage lines of the methods' options. */
export function methodOptionsUsage(command: Command): string {
  return optionsFor(command)
    .map(({ option }) => `  --${option.name} ${option.choices.join("|")}  ${option.help}`)
    .join("\n");
}

/** Checks the values given (before any long work). */
export function checkMethodOptions(command: Command, values: Record<string, unknown>): void {
  for (const { option } of optionsFor(command)) {
    const value = values[option.name];
    if (value !== undefined && !(typeof value === "string" && option.choices.includes(value))) {
      throw new CliError(`condc ${command}: --${option.name} must be ${option.choices.join(" or ")}, got '${String(value)}'`);
    }
  }
}

/** Applies the values given to a loaded model; an option for a method the model lacks is an error. */
export function applyMethodOptions(command: Command, values: Record<string, unknown>, model: AnyModel): void {
  for (const { runtime, option } of optionsFor(command)) {
    const value = values[option.name];
    if (typeof value !== "string") continue;
    const layers = model.layersOf(runtime.key);
    if (layers.length === 0) throw new CliError(`condc ${command}: --${option.name}: model '${model.manifest.model}' has no ${runtime.key} layers`);
    option.apply(model, layers, value);
  }
}
