/**
 * @fileoverview Shared pieces of the reliability tests: small model texts, an in-process
 * CLI with captured output (real file reads), the real `bin/condc.js`, temp folders.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "vitest";
import { readModelFile, type CliIO } from "../../cli/io.js";
import { main } from "../../cli/main.js";

/** A clean model: 4 inputs, 2 classes, one dense layer; `train` settings go in `{TRAIN}`. */
export function tinyModel(train = "", classes = 2, inputs = 4): string {
  return `model Tiny {
  input x: f32[${inputs}]
  target y: class[${classes}]
  layer out = dense(x, ${classes})
  loss = softmax_cross_entropy(out, y)
}
train { ${train} }
`;
}

/** A chain of `layers` dense layers (the last one the logits), one line each. */
export function chainModel(layers: number): string {
  const lines = ["model Chain {", "  input x: f32[4]", "  target y: class[2]"];
  let source = "x";
  for (let i = 1; i < layers; i++) {
    lines.push(`  layer h${i} = dense(${source}, 2)`);
    source = `h${i}`;
  }
  lines.push(`  layer out = dense(${source}, 2)`, "  loss = softmax_cross_entropy(out, y)", "}");
  return lines.join("\n");
}

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `condc` in-process; model files are read from disk as the real CLI does (bounded). */
export async function runCli(args: string[], files: Record<string, string> = {}): Promise<CliRun> {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIO = {
    stdout: (line) => void out.push(line),
    stderr: (line) => void err.push(line),
    readFile: (path) => (path in files ? files[path]! : readModelFile(path)),
  };
  const code = await main(args, io);
  return { code, stdout: out.join("\n"), stderr: err.join("\n") };
}

/** Runs the real `bin/condc.js` (needs `npx tsc` first, as the other bin tests do). */
export function runBin(args: string[], timeoutMs = 60_000): CliRun {
  const result = spawnSync(process.execPath, ["bin/condc.js", ...args], { encoding: "utf8", timeout: timeoutMs, maxBuffer: 64 << 20 });
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

/** No stack trace, no "internal error": what every hostile input must never produce. */
export function expectNoCrash(run: CliRun): void {
  const all = `${run.stdout}\n${run.stderr}`;
  expect(all).not.toMatch(/internal error|Invalid string length|Maximum call stack|\n\s+at .+:\d+:\d+/);
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `condc-${prefix}-`));
}

/** A fixed pseudo-random generator (mulberry32), so a failing case can be replayed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
