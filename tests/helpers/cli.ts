/**
 * @fileoverview Runs the condc CLI in this process, as the tests of several areas do: its exit
 * code and what it printed on stdout and stderr (lines joined).
 */
import { readFileSync } from "node:fs";
import type { CliIO } from "../../cli/io.js";
import { main } from "../../cli/main.js";

export async function runCli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIO = { stdout: (l) => void out.push(l), stderr: (l) => void err.push(l), readFile: (p) => readFileSync(p, "utf8") };
  const code = await main(argv, io);
  return { code, out: out.join("\n"), err: err.join("\n") };
}
