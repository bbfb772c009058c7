/**
 * @fileoverview Issue 16, class 5: output that grows without bound. Echoed source lines
 * are clipped to a window around the caret, a file records at most 1,000 errors (and
 * 1,000 warnings) and prints 100 unless told otherwise, saying how many it left out, and
 * control characters from the file never reach the terminal raw.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { escapeForTerminal } from "../../compiler/frontend/display-text.js";
import { echoLine, formatDiagnostics, MAX_ECHOED_LINE, MAX_RECORDED_DIAGNOSTICS } from "../../compiler/frontend/diagnostics.js";
import { checkSource } from "../../compiler/frontend/frontend.js";
import { expectNoCrash, runBin, runCli, seededRandom, tempDir, tinyModel } from "./helpers.js";

/** `bytes` of random bytes: printable ASCII with newlines, or any byte (invalid UTF-8 included). */
function randomBytes(bytes: number, seed: number, alphabet: "ascii" | "binary"): Uint8Array {
  const random = seededRandom(seed);
  const out = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) {
    out[i] = alphabet === "binary" ? Math.floor(random() * 256) : random() < 0.02 ? 10 : 32 + Math.floor(random() * 95);
  }
  return out;
}

function printedLines(text: string): string[] {
  return text.split("\n");
}

describe("echoed source lines", () => {
  it("the issue's example: a 30 KB one-line file prints kilobytes, not 225 MB", async () => {
    const text = "x ".repeat(15_000);
    const run = await runCli(["check", "wide.cond"], { "wide.cond": text });
    expect(run.code).toBe(1);
    expect(run.stdout.length).toBeLessThan(2000);
  });

  it("a 30 KB line with an error every few characters: each echo is a window, the total stays small", async () => {
    const line = "layer h = dense(x, 4) @ ".repeat(1250);
    const run = await runCli(["check", "wide.cond"], { "wide.cond": `model M { ${line} }` });
    expect(run.code).toBe(1);
    for (const printed of printedLines(run.stdout)) expect(printed.length).toBeLessThan(MAX_ECHOED_LINE + 200);
    expect(run.stdout.length).toBeLessThan(100 * 3 * (MAX_ECHOED_LINE + 200));
  });

  it("the window keeps the caret under the reported text, at the start, middle and end of a long line", () => {
    const line = Array.from({ length: 400 }, (_, i) => `w${i}`).join(" ");
    for (const word of ["w0", "w200", "w399"]) {
      const start = line.indexOf(` ${word} `) + 1 || line.indexOf(word);
      const echoed = echoLine(line, start, start + word.length);
      expect(echoed.text.length).toBeLessThanOrEqual(MAX_ECHOED_LINE + 6);
      const caret = echoed.underline.indexOf("^");
      expect(echoed.text.slice(caret, caret + word.length)).toBe(word);
      expect(echoed.underline.slice(caret)).toBe(`^${"~".repeat(word.length - 1)}`);
    }
  });

  it("never cuts a surrogate pair at the window's edges", () => {
    const line = "😀".repeat(500);
    for (const start of [0, 1, 2, 301, 302, 998]) {
      const { text } = echoLine(line, start, start + 2);
      expect(text.replace(/^\.\.\.|\.\.\.$/g, "")).toMatch(/^(?:😀)+$/);
    }
  });
});

describe("counting and capping diagnostics", () => {
  it("the issue's example: 1 MB of random text neither dies with 'Invalid string length' nor prints megabytes", async () => {
    const dir = tempDir("random");
    for (const [alphabet, seed] of [["ascii", 1], ["binary", 2]] as const) {
      const file = join(dir, `${alphabet}.cond`);
      writeFileSync(file, randomBytes(1_000_000, seed, alphabet));
      const run = await runCli(["check", file]);
      expect(run.code).toBe(1);
      expectNoCrash(run);
      expect(run.stdout.length).toBeLessThan(200_000);
      expect(run.stdout).toMatch(/\.\.\. [\d,]+ more diagnostics in .* not shown \(printed: the first 100\)/);
    }
  });

  it("over 120,000 diagnostics: 1,000 recorded, a CD1009 notice with the rest counted, no push(...spread)", async () => {
    // 130,000 unexpected characters, and no model block: 130,001 errors.
    const text = "@ ".repeat(130_000);
    const result = checkSource(text, "many.cond");
    expect(result.diagnostics).toHaveLength(MAX_RECORDED_DIAGNOSTICS + 1);
    const notice = result.diagnostics[MAX_RECORDED_DIAGNOSTICS]!;
    expect(notice).toMatchObject({
      code: "CD1009",
      message: "too many errors: the first 1,000 are listed, 129,001 more were found; fix these and check again",
    });
    expect(notice.span.start.offset).toBe(text.length);
    const run = await runCli(["check", "many.cond"], { "many.cond": text });
    expectNoCrash(run);
    const lines = printedLines(run.stdout);
    expect(lines.filter((l) => l.includes("error CD1001"))).toHaveLength(100);
    expect(run.stdout).toContain("... 900 more diagnostics in many.cond not shown (printed: the first 100)");
    expect(run.stdout).toContain("error CD1009: too many errors: the first 1,000 are listed, 129,001 more were found");
  });

  it("JSON output holds every recorded diagnostic (and the notice), and stays small", async () => {
    const run = await runCli(["check", "--format", "json", "many.cond"], { "many.cond": "@ ".repeat(130_000) });
    const json = JSON.parse(run.stdout) as Array<{ code: string }>;
    expect(json).toHaveLength(MAX_RECORDED_DIAGNOSTICS + 1);
    expect(json.at(-1)!.code).toBe("CD1009");
    expect(run.stdout.length).toBeLessThan(400_000);
  });

  it("over 1,000 warnings: a CD4005 notice, and the model is still accepted (warnings never block)", () => {
    const unused = Array.from({ length: 1500 }, (_, i) => `layer u${i} = dense(x, 2)`).join("\n");
    const text = `model M { input x: f32[4] target y: class[2]\n${unused}\nlayer out = dense(x, 2)\nloss = softmax_cross_entropy(out, y) }`;
    const result = checkSource(text, "warn.cond");
    expect(result.model).toBeDefined();
    expect(result.diagnostics.filter((d) => d.code === "CD4002")).toHaveLength(MAX_RECORDED_DIAGNOSTICS);
    expect(result.diagnostics.at(-1)).toMatchObject({ code: "CD4005", severity: "warning", message: "too many warnings: the first 1,000 are listed, 500 more were found" });
  });

  it("errors and warnings are limited separately: 1,000 warnings do not hide the errors", () => {
    const unused = Array.from({ length: 1200 }, (_, i) => `layer u${i} = dense(x, 2)`).join("\n");
    const text = `model M { input x: f32[4] target y: class[2]\n${unused}\nlayer out = dense(x, 3)\nloss = softmax_cross_entropy(out, y) }`;
    const codes = checkSource(text, "mixed.cond").diagnostics.map((d) => d.code);
    expect(codes).toContain("CD3005");
    expect(codes.at(-1)).toBe("CD4005");
  });

  it("--max-diagnostics N prints N (the notice is always printed), and is a strict positive integer", async () => {
    const files = { "many.cond": "@ ".repeat(2000) };
    const run = await runCli(["check", "--max-diagnostics", "3", "many.cond"], files);
    expect(printedLines(run.stdout).filter((l) => l.includes("error CD1001"))).toHaveLength(3);
    expect(run.stdout).toContain("... 997 more diagnostics in many.cond not shown (printed: the first 3)");
    expect(run.stdout).toContain("error CD1009");
    for (const bad of ["0", "-1", "1e2", "0x10", "ten"]) {
      const refused = await runCli(["check", `--max-diagnostics=${bad}`, "many.cond"], files);
      expect(refused.code, bad).toBe(2);
      expect(refused.stderr).toBe(`condc check: --max-diagnostics must be a positive integer, got '${bad}'`);
    }
  });

  it("build, train and inspect print the same capped list", async () => {
    for (const command of ["inspect", "build"]) {
      const args = command === "build" ? ["build", "many.cond", "--emit", "wat"] : [command, "many.cond"];
      const run = await runCli(args, { "many.cond": "@ ".repeat(130_000) });
      expect(run.code).toBe(1);
      expect(printedLines(run.stderr).filter((l) => l.includes("error CD1001"))).toHaveLength(100);
      expect(run.stderr).toContain("error CD1009");
    }
  });
});

describe("control characters from the file", () => {
  const ESC = "\u001b";

  it("an escape sequence in the source is printed as \\u001b, in the message and in the echoed line", async () => {
    const text = `model M {\n  input x: f32[4]\n  layer h${ESC}[2J${ESC}[31m = dense(x, 2)\n}`;
    const run = await runCli(["check", "esc.cond"], { "esc.cond": text });
    expect(run.stdout).not.toContain(ESC);
    expect(run.stdout).toContain("unexpected character '\\u001b'");
    expect(run.stdout).toContain("layer h\\u001b[2J\\u001b[31m = dense(x, 2)");
    // The caret still sits under the escaped character.
    const lines = printedLines(run.stdout);
    const echo = lines.findIndex((l) => l.includes("layer h\\u001b[2J"));
    expect(lines[echo + 1]!.indexOf("^")).toBe(lines[echo]!.indexOf("\\u001b"));
  });

  it.each([
    ["C1 CSI", "\u009b31m"],
    ["bidi override (trojan source)", "\u202eevil\u202c"],
    ["carriage return overwriting the line", "\rcondc: all good"],
    ["backspaces", "\b\b\b\b"],
    ["a BOM in the middle", "\ufeff"],
    ["NUL", "\0"],
  ])("%s is escaped wherever it is echoed", async (_, hostile) => {
    const text = `model M { input x: f32[4] ${hostile} }`;
    const run = await runCli(["check", "h.cond"], { "h.cond": text });
    expect(run.stdout).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069\ufeff]/);
  });

  it("a file name with control characters is escaped in every header", async () => {
    const name = `evil${ESC}]0;title\u0007\nname.cond`;
    const run = await runCli(["check", name], { [name]: "model M {" });
    expect(run.stdout).not.toContain(ESC);
    expect(run.stdout.split("\n")[0]).toMatch(/^evil\\u001b]0;title\\u0007\\u000aname\.cond:1:10: error/);
  });

  it("the real terminal writer escapes what slipped through, keeping newlines and tabs", () => {
    expect(escapeForTerminal(`a${ESC}[31mb\n\tc\u0085`, true)).toBe("a\\u001b[31mb\n\tc\\u0085");
    const dir = tempDir("esc");
    const file = join(dir, `x${ESC}[31m.cond`);
    const run = runBin(["check", file]);
    expect(run.code).toBe(2);
    expect(run.stderr).not.toContain(ESC);
    expect(run.stderr).toContain("x\\u001b[31m.cond");
  });

  it("formatDiagnostics escapes messages built from user text", () => {
    const result = checkSource(tinyModel(`optimizer = sgd${ESC}`), "m.cond");
    expect(formatDiagnostics(result.diagnostics, result.source)).not.toContain(ESC);
  });
});
