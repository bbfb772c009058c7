/**
 * @fileoverview Property tests (fast-check): on random text and on mutated examples the
 * front end never throws, every diagnostic lies inside the file, and `condc` never prints
 * a stack trace; deeply nested and very long inputs hit the front end's limits as
 * diagnostics. About 11,500 cases in all.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { main } from "../../cli/main.js";
import type { CliIO } from "../../cli/io.js";
import { formatDiagnostics, type Diagnostic } from "../../compiler/frontend/diagnostics.js";
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

/** Brackets nested far past the parser's limit, around and inside valid text. */
const deepNestingArb = fc
  .tuple(
    fc.constantFrom(...EXAMPLES),
    fc.nat(),
    fc.integer({ min: 33, max: 3000 }),
    fc.array(fc.constantFrom("(", "[", "{", "sgd(", "f(x, ", "a: ["), { minLength: 1, maxLength: 3 }),
    fc.boolean(),
  )
  .map(([text, at, depth, openers, closed]) => {
    const opening = Array.from({ length: depth }, (_, i) => openers[i % openers.length]).join("");
    const closing = closed ? opening.replace(/[^([{]/g, "").split("").reverse().map((c) => ({ "(": ")", "[": "]", "{": "}" })[c]).join("") : "";
    // On a line of its own after any block comment: never inside a comment.
    const after = text.lastIndexOf("*/") + 2;
    const cut = after + (at % (text.length - after + 1));
    return `${text.slice(0, cut)}\n${opening}${closing}\n${text.slice(cut)}`;
  });

/** One token made very long (names, numbers, strings, comments, unknown characters). */
const longTokenArb = fc
  .tuple(
    fc.constantFrom(...EXAMPLES),
    fc.nat(),
    fc.constantFrom("a", "9", "1.", "\"x", "// ", "/* ", "@", "é", "😀", " "),
    fc.integer({ min: 1000, max: 50_000 }),
  )
  .map(([text, at, unit, length]) => {
    const cut = at % (text.length + 1);
    return text.slice(0, cut) + unit.repeat(Math.ceil(length / unit.length)) + text.slice(cut);
  });

function assertInsideFile(text: string, diagnostics: Diagnostic[], source = new SourceText(text)): void {
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
  // Offsets are into the text the front end saw (a leading byte-order mark is not part of it).
  assertInsideFile(result.source.text, result.diagnostics, result.source);
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

  it("deep nesting is reported (CD1008), never a stack overflow", () => {
    fc.assert(
      fc.property(deepNestingArb, (text) => {
        checkProperty(text);
        expect(checkSource(text, "deep.cond").diagnostics.some((d) => d.code === "CD1008")).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it("very long tokens give short messages and short printouts", () => {
    fc.assert(
      fc.property(longTokenArb, (text) => {
        checkProperty(text);
        const result = checkSource(text, "long.cond");
        for (const d of result.diagnostics) expect(d.message.length).toBeLessThan(400);
        const printed = formatDiagnostics(result.diagnostics, result.source);
        for (const line of printed.split("\n")) expect(line.length).toBeLessThan(500);
      }),
      { numRuns: 200 },
    );
  });

  it("condc main() never prints a stack trace and exits 0 or 1", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof({ arbitrary: mutatedExampleArb, weight: 4 }, { arbitrary: grammarishTextArb, weight: 4 }, deepNestingArb, longTokenArb),
        fc.boolean(),
        async (text, json) => {
          const lines: string[] = [];
          const io: CliIO = { stdout: (l) => void lines.push(l), stderr: (l) => void lines.push(l), readFile: () => text };
          const args = json ? ["check", "--format", "json", "f.cond"] : ["inspect", "f.cond"];
          const code = await main(args, io);
          expect([0, 1]).toContain(code);
          expect(lines.join("\n")).not.toMatch(/internal error|\n\s+at .+:\d+:\d+/);
        },
      ),
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
