/**
 * @fileoverview Issue 16, class 14: small ones. A UTF-8 byte-order mark starts a file
 * harmlessly; an emoji is one character in every message (never a lone surrogate); no
 * message says "Infinity bytes" or "∞ bytes"; every numeric CLI flag is a strict decimal
 * integer (or number) in its range.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { integerFlag, positiveIntegerList, seedFlag } from "../../cli/session.js";
import { clipText, quoteForMessage } from "../../compiler/frontend/display-text.js";
import { formatDiagnostics } from "../../compiler/frontend/diagnostics.js";
import { checkSource } from "../../compiler/frontend/frontend.js";
import { formatByteCount } from "../../runtime/node/files.js";
import { runCli, tempDir, tinyModel } from "./helpers.js";

/** True when `text` holds no lone surrogate. */
const wellFormed = (text: string) => !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(text);

describe("a UTF-8 byte-order mark", () => {
  it("the issue's example: a BOM at the start of a file is accepted (check exits 0)", async () => {
    expect(checkSource(`\ufeff${tinyModel()}`, "bom.cond").diagnostics).toEqual([]);
    const dir = tempDir("bom");
    const file = join(dir, "bom.cond");
    writeFileSync(file, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(tinyModel())]));
    const run = await runCli(["check", file]);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe("");
  });

  it("columns on the first line are counted as an editor counts them (without the BOM)", () => {
    const plain = checkSource("model M { input x: f32[0] }", "a.cond").diagnostics;
    const bom = checkSource("\ufeffmodel M { input x: f32[0] }", "a.cond").diagnostics;
    expect(bom.map((d) => [d.code, d.span.start.line, d.span.start.column])).toEqual(plain.map((d) => [d.code, d.span.start.line, d.span.start.column]));
  });

  it("a BOM anywhere else is an error, shown escaped (it is invisible)", () => {
    const result = checkSource(`model M {\ufeff}`, "mid.cond");
    expect(result.diagnostics.map((d) => d.message)).toContain("unexpected character '\\ufeff'");
  });
});

describe("emoji and other astral characters", () => {
  it("the issue's example: an emoji is reported as one character, not a lone surrogate", async () => {
    const result = checkSource("model M { 😀 }", "e.cond");
    const [d] = result.diagnostics;
    expect(d!.message).toBe("unexpected character '😀'");
    expect(d!.span.end.offset - d!.span.start.offset).toBe(2);
    const json = await runCli(["check", "--format", "json", "e.cond"], { "e.cond": "model M { 😀 }" });
    expect(JSON.parse(json.stdout)[0].message).toBe("unexpected character '😀'");
    const text = await runCli(["check", "e.cond"], { "e.cond": "model M { 😀 }" });
    expect(wellFormed(text.stdout)).toBe(true);
  });

  it("a long string token cut for a message is never cut inside a pair", () => {
    for (let pad = 20; pad < 26; pad++) {
      const token = `"${"a".repeat(pad)}${"😀".repeat(10)}"`;
      const result = checkSource(`model M { ${token} }`, "s.cond");
      for (const d of result.diagnostics) expect(wellFormed(d.message), d.message).toBe(true);
      expect(wellFormed(formatDiagnostics(result.diagnostics, result.source))).toBe(true);
    }
  });

  it("a long value quoted in a message is clipped between pairs", () => {
    for (let pad = 95; pad < 102; pad++) {
      const result = checkSource(tinyModel(`seed = "${"a".repeat(pad)}${"🙂".repeat(40)}"`), "q.cond");
      const message = result.diagnostics.find((d) => d.code === "CD3003")!.message;
      expect(wellFormed(message), message).toBe(true);
      expect(message).toContain("...");
    }
    expect(clipText("ab😀", 3)).toBe("ab...");
    expect(quoteForMessage(`${"x".repeat(63)}😀😀`, 64)).toBe(`${"x".repeat(63)}...`);
  });

  it("lone surrogates in the file are shown escaped, never passed through", async () => {
    const run = await runCli(["check", "l.cond"], { "l.cond": "model M { \ud83d }" });
    expect(wellFormed(run.stdout)).toBe(true);
    expect(run.stdout).toContain("unexpected character '\\ud83d'");
  });
});

describe("no 'Infinity bytes' or '∞ bytes'", () => {
  it.each([
    ["parameters past 2^53 bytes", "model M { input x: f32[1073741824] target y: class[2] layer h = dense(x, 1073741824) layer out = dense(h, 2) loss = softmax_cross_entropy(out, y) }"],
    ["the deepest tree at the widest layer", "model M { input x: f32[1073741824] target y: class[2] layer t = tree(x, 1073741824, depth: 29) relu layer out = dense(t, 2) loss = softmax_cross_entropy(out, y) }"],
    ["a tree too deep to ever fit", "model M { input x: f32[4] target y: class[2] layer t = tree(x, 4, depth: 1e300) relu layer out = dense(t, 2) loss = softmax_cross_entropy(out, y) }"],
  ])("%s: byte counts are digits", (_, text) => {
    const result = checkSource(text, "big.cond");
    expect(result.diagnostics.length).toBeGreaterThan(0);
    for (const d of result.diagnostics) expect(d.message).not.toMatch(/Infinity|∞|NaN/);
  });

  it("the byte formatter of file messages", () => {
    expect(formatByteCount(2_097_152)).toBe("2,097,152 bytes");
    expect(formatByteCount(2 ** 60)).toBe("about 1.15e+18 bytes");
    expect(formatByteCount(Infinity)).toBe("an unbounded number of bytes");
  });

  it("the tree message gives the exact count at the deepest allowed depth", () => {
    const text = "model M { input x: f32[1000] target y: class[2] layer t = tree(x, 1000, depth: 29) relu layer out = dense(t, 2) loss = softmax_cross_entropy(out, y) }";
    const message = checkSource(text, "t.cond").diagnostics.find((d) => d.code === "CD3010")!.message;
    expect(message).toContain("needs 4,294,967,292,000,000 bytes of weights at depth 29");
  });
});

describe("strict numbers on the command line", () => {
  it.each([
    [["bench", "m.cond", "--seed", "abc"], "condc bench: --seed must be an integer in [0, 2^32), got 'abc'"],
    [["bench", "m.cond", "--seed", "4294967296"], "condc bench: --seed must be an integer in [0, 2^32), got '4294967296'"],
    [["bench", "m.cond", "--seed=-1"], "condc bench: --seed must be an integer in [0, 2^32), got '-1'"],
    [["bench", "m.cond", "--seed", "1e3"], "condc bench: --seed must be an integer in [0, 2^32), got '1e3'"],
    [["bench", "m.cond", "--batch", "1,0x10"], "condc bench: --batch must be a positive integer, got '0x10'"],
    [["bench", "m.cond", "--batch", "1,,2"], "condc bench: --batch must be a positive integer, got ''"],
    [["bench", "m.cond", "--batch", Array(65).fill("1").join(",")], "condc bench: --batch takes at most 64 values, got 65"],
    [["bench", "m.cond", "--reps", "1e2"], "condc bench: --reps must be a positive integer, got '1e2'"],
    [["build", "m.cond", "-o", "x", "--max-batch", "0x10"], "condc build: --max-batch must be a positive integer, got '0x10'"],
    [["build", "m.cond", "-o", "x", "--max-batch", " 16"], "condc build: --max-batch must be a positive integer, got ' 16'"],
    [["build", "m.cond", "-o", "x", "--max-batch", "16.0"], "condc build: --max-batch must be a positive integer, got '16.0'"],
    [["build", "m.cond", "-o", "x", "--max-batch", ""], "condc build: --max-batch must be a positive integer, got ''"],
    [["build", "m.cond", "-o", "x", "--max-batch", "2147483648"], "condc build: --max-batch must be a positive integer, got '2147483648'"],
    [["train", "m.cond", "--epochs", "0x10"], "condc train: --epochs must be a positive integer, got '0x10'"],
    [["train", "m.cond", "--batch", "1.5"], "condc train: --batch must be a positive integer, got '1.5'"],
    [["train", "m.cond", "--seed", "abc"], "condc train: --seed must be an integer in [0, 2^32), got 'abc'"],
    [["train", "m.cond", "--seed", ""], "condc train: --seed must be an integer in [0, 2^32), got ''"],
    [["check", "m.cond", "--max-diagnostics", "Infinity"], "condc check: --max-diagnostics must be a positive integer, got 'Infinity'"],
  ])("%j", async (args, message) => {
    const run = await runCli(args, { "m.cond": tinyModel() });
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(message);
  });

  it("accepts plain decimal integers at both ends of each range", () => {
    expect(seedFlag("x", "0")).toBe(0);
    expect(seedFlag("x", "4294967295")).toBe(4294967295);
    expect(seedFlag("x", "007")).toBe(7);
    expect(integerFlag("x", "n", "2147483647", 1, 2 ** 31 - 1)).toBe(2147483647);
    expect(positiveIntegerList("x", "batch", "1, 50,128")).toEqual([1, 50, 128]);
    expect(seedFlag("x", undefined)).toBeUndefined();
  });
});
