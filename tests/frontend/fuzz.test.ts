/**
 * @fileoverview Property tests (fast-check): on random text and on mutated examples the
 * front end never throws, every diagnostic lies inside the file, and `condc` never prints
 * a stack trace. About 11,000 cases in all.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { main } from "../../cli/main.js";
import type { CliIO } from "../../cli/io.js";
import type { Diagnostic } from "../../compiler/frontend/diagnostics.js";
import { checkSource } from "../../compiler/frontend/frontend.js";
import { SourceText } from "../../compiler/frontend/source-text.js";

const EXAMPLES = readdirSync("examples")
  .filter((f) => f.endsWith(".cond"))
  .map((f) => readFileSync(`examples/${f}`, "utf8"));

const TOKEN_PATTERN = /\/\/[^\n]*|\/\*[\s\S]*?\*\/|"[^"\n]*"|[A-Za-z_][A-Za-z0-9_]*|\d[\w.]*|\s+|./g;
const VOCABULARY = [
  "model", "train", "input", "target", "layer", "loss", "gate", "dense", "tree", "relu", "tanh", "lowrank", "policy",
  "x", "y", "h1", "out", "{", "}", "(", ")", "[", "]", ":", ",", "=", "+", "-", "*", "/", "1/0", "1e999", "0", "-1",
  "1.2.3", "784", "10", "\"", "/*", "*/", "//", "@", "\n", " ", "rank:", "tau: 1/16", "depth: 40", "é", "\t",
];

type Mutation =
  | { op: "deleteToken" | "duplicateToken" | "deleteChar" | "swapTokens"; at: number }
  | { op: "insertToken"; at: number; token: string }
  | { op: "insertChar"; at: number; char: string };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constantFrom("deleteToken" as const, "duplicateToken" as const, "deleteChar" as const, "swapTokens" as const), at: fc.nat() }),
  fc.record({ op: fc.constant("insertToken" as const), at: fc.nat(), token: fc.constantFrom(...VOCABULARY) }),
  fc.record({ op: fc.constant("insertChar" as const), at: fc.nat(), char: fc.string({ minLength: 1, maxLength: 1 }) }),
);

function mutate(text: string, mutations: Mutation[]): string {
  let current = text;
  for (const m of mutations) {
    const tokens = current.match(TOKEN_PATTERN) ?? [];
    if (m.op === "deleteChar" || m.op === "insertChar") {
      const at = current.length === 0 ? 0 : m.at % (current.length + 1);
      current = m.op === "deleteChar" ? current.slice(0, at) + current.slice(at + 1) : current.slice(0, at) + m.char + current.slice(at);
      continue;
    }
    const at = tokens.length === 0 ? 0 : m.at % tokens.length;
    if (m.op === "deleteToken") tokens.splice(at, 1);
    else if (m.op === "duplicateToken" && tokens.length > 0) tokens.splice(at, 0, tokens[at]);
    else if (m.op === "insertToken") tokens.splice(at, 0, m.token);
    else if (m.op === "swapTokens" && at + 1 < tokens.length) [tokens[at], tokens[at + 1]] = [tokens[at + 1], tokens[at]];
    current = tokens.join("");
  }
  return current;
}

const mutatedExampleArb = fc
  .tuple(fc.constantFrom(...EXAMPLES), fc.array(mutationArb, { minLength: 1, maxLength: 6 }))
  .map(([text, mutations]) => mutate(text, mutations));

const grammarishTextArb = fc
  .array(fc.oneof(fc.constantFrom(...VOCABULARY), fc.string({ maxLength: 3 })), { maxLength: 60 })
  .map((parts) => parts.join(" "));

function assertInsideFile(text: string, diagnostics: Diagnostic[]): void {
  const source = new SourceText(text);
  for (const d of diagnostics) {
    const { start, end } = d.span;
    expect(0 <= start.offset && start.offset <= end.offset && end.offset <= text.length, d.message).toBe(true);
    for (const p of [start, end]) {
      expect(p.line >= 1 && p.line <= source.lineCount, d.message).toBe(true);
      expect(p.column >= 1 && p.column <= source.lineText(p.line).length + 1, d.message).toBe(true);
      expect(source.positionAt(p.offset)).toEqual(p);
    }
    expect(d.message.length).toBeGreaterThan(0);
    expect(d.code).toMatch(/^CD\d{4}$/);
  }
}

function checkProperty(text: string): void {
  const result = checkSource(text, "fuzz.cond");
  assertInsideFile(text, result.diagnostics);
  if (result.model) expect(result.diagnostics.every((d) => d.severity === "warning")).toBe(true);
  else expect(result.diagnostics.some((d) => d.severity === "error")).toBe(true);
}

describe("front end under fuzzing", () => {
  it("never throws on arbitrary text; diagnostics lie inside the file", () => {
    fc.assert(fc.property(fc.string({ maxLength: 200, unit: "binary" }), checkProperty), { numRuns: 2500 });
  });

  it("never throws on grammar-like token soup", () => {
    fc.assert(fc.property(grammarishTextArb, checkProperty), { numRuns: 2500 });
  });

  it("never throws on mutated examples", () => {
    fc.assert(fc.property(mutatedExampleArb, checkProperty), { numRuns: 4500 });
  });

  it("condc main() never prints a stack trace and exits 0 or 1", async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(mutatedExampleArb, grammarishTextArb), fc.boolean(), async (text, json) => {
        const lines: string[] = [];
        const io: CliIO = { stdout: (l) => void lines.push(l), stderr: (l) => void lines.push(l), readFile: () => text };
        const args = json ? ["check", "--format", "json", "f.cond"] : ["inspect", "f.cond"];
        const code = await main(args, io);
        expect([0, 1]).toContain(code);
        expect(lines.join("\n")).not.toMatch(/internal error|\n\s+at .+:\d+:\d+/);
      }),
      { numRuns: 1500 },
    );
  });

  it("the real bin never prints a stack trace on a few mutated files", () => {
    const dir = mkdtempSync(join(tmpdir(), "condc-fuzz-"));
    const samples = fc.sample(mutatedExampleArb, { numRuns: 4, seed: 42 });
    samples.forEach((text, index) => writeFileSync(join(dir, `m${index}.cond`), text));
    const files = samples.map((_, index) => join(dir, `m${index}.cond`));
    const result = spawnSync(process.execPath, ["bin/condc.js", "check", ...files], { encoding: "utf8" });
    expect([0, 1]).toContain(result.status);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });
});
