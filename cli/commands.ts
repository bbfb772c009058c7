/**
 * @fileoverview The command table: adding a command is one file `cli/<name>.ts` and one
 * entry here.
 */
import { checkCommand } from "./check.js";
import type { Command } from "./command.js";
import { inspectCommand } from "./inspect.js";
import { buildCommand } from "./build.js";
import { trainCommand } from "./train.js";
import { evalCommand } from "./eval.js";
import { benchCommand } from "./bench.js";
import { importCommand } from "./import.js";

export const COMMANDS: readonly Command[] = [
  checkCommand,
  inspectCommand,
  buildCommand,
  trainCommand,
  evalCommand,
  benchCommand,
  importCommand,
];
