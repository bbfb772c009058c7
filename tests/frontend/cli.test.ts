/**
 * @fileoverview The CLI in-process (captured output) and, for a few cases, through the
 * real `bin/condc.js`: exit codes 0/1/2, JSON diagnostics, help, unreadable files.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { main } from "../../cli/main.js";
import type { CliIO } from "../../cli/io.js";

export function captureIO(files: Record<string, string> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIO = {
    stdout: (line) => void out.push(line),
    stderr: (line) => void err.push(line),
    readFile: (path) => {
      if (path in files) return files[path];
      throw Object.assign(new Error(`ENOENT: no such file or directory, open '${path}'`), { code: "ENOENT" });
    },
  };
  return { io, stdout: () => out.join("\n"), stderr: () => err.join("\n") };
}

const GOOD = "model M { input x: f32[784] target y: class[10] layer out = dense(x, 10) loss = softmax_cross_entropy(out, y) }";
const BAD = "model M { input x: f32[784] target y: class[10] layer out = dens(x, 10) loss = softmax_cross_entropy(out, y) }";

describe("condc in-process", () => {
  it("check: 0 for a clean file, 1 for errors, 2 for a missing file", async () => {
    const files = { "good.cond": GOOD, "bad.cond": BAD };
    expect(await main(["check", "good.cond"], captureIO(files).io)).toBe(0);
    const bad = captureIO(files);
    expect(await main(["check", "bad.cond"], bad.io)).toBe(1);
    expect(bad.stdout()).toContain("bad.cond:1:61: error CD2003: unknown layer kind 'dens'; did you mean 'dense'?");
    expect(bad.stdout()).toContain("^~~~");
    const missing = captureIO(files);
    expect(await main(["check", "nope.cond"], missing.io)).toBe(2);
    expect(missing.stderr()).toBe("condc: cannot read 'nope.cond': no such file");
  });

  it("check --format json prints the documented shape", async () => {
    const cli = captureIO({ "bad.cond": BAD });
    expect(await main(["check", "--format", "json", "bad.cond"], cli.io)).toBe(1);
    expect(JSON.parse(cli.stdout())).toEqual([
      {
        code: "CD2003",
        severity: "error",
        message: "unknown layer kind 'dens'; did you mean 'dense'?",
        file: "bad.cond",
        line: 1,
        column: 61,
        endLine: 1,
        endColumn: 65,
      },
    ]);
    const clean = captureIO({ "good.cond": GOOD });
    expect(await main(["check", "--format=json", "good.cond"], clean.io)).toBe(0);
    expect(JSON.parse(clean.stdout())).toEqual([]);
  });

  it("usage errors exit 2 with one line", async () => {
    for (const argv of [[], ["chek"], ["check"], ["check", "--bogus", "x"], ["check", "--format", "xml", "x"], ["inspect"], ["inspect", "a", "b"]]) {
      const cli = captureIO();
      expect(await main(argv, cli.io), argv.join(" ")).toBe(2);
      expect(cli.stderr()).not.toMatch(/\n\s+at /);
    }
    const typo = captureIO();
    await main(["chek"], typo.io);
    expect(typo.stderr()).toContain("did you mean 'check'?");
  });

  it("help exits 0 and lists the commands", async () => {
    const cli = captureIO();
    expect(await main(["--help"], cli.io)).toBe(0);
    expect(cli.stdout()).toMatch(/check[\s\S]*inspect/);
    const sub = captureIO();
    expect(await main(["inspect", "--help"], sub.io)).toBe(0);
    expect(sub.stdout()).toContain("usage: condc inspect FILE [--json]");
  });

  it("inspect prints a table or JSON, and exits 1 on errors", async () => {
    const files = { "good.cond": GOOD, "bad.cond": BAD };
    const table = captureIO(files);
    expect(await main(["inspect", "good.cond"], table.io)).toBe(0);
    expect(table.stdout()).toContain("7,850");
    const json = captureIO(files);
    expect(await main(["inspect", "good.cond", "--json"], json.io)).toBe(0);
    expect(JSON.parse(json.stdout())).toMatchObject({ model: "M", parameters: 7850, dense_macs_per_example: 7840, macs_per_example: 7840 });
    const bad = captureIO(files);
    expect(await main(["inspect", "bad.cond"], bad.io)).toBe(1);
    expect(bad.stderr()).toContain("CD2003");
  });

  it("an internal error is one line and exit 3", async () => {
    const cli = captureIO();
    cli.io.readFile = () => {
      throw new TypeError("boom");
    };
    // A non-filesystem failure while reading still reads as a usage error with one line.
    expect(await main(["check", "x.cond"], cli.io)).toBe(2);
    const broken: CliIO = { ...captureIO().io, stdout: () => { throw new RangeError("stdout closed"); } };
    const errors: string[] = [];
    broken.stderr = (line) => void errors.push(line);
    broken.readFile = () => GOOD;
    expect(await main(["inspect", "x.cond"], broken)).toBe(3);
    expect(errors).toEqual(["condc: internal error: RangeError: stdout closed"]);
  });
});

describe("bin/condc.js", () => {
  beforeAll(() => {
    if (!existsSync("dist/cli/main.js")) execFileSync("npx", ["tsc", "-p", "tsconfig.json"], { stdio: "ignore" });
  });

  function run(...args: string[]) {
    return spawnSync(process.execPath, ["bin/condc.js", ...args], { encoding: "utf8" });
  }

  it("checks the examples clean and reports bad files with exit codes", () => {
    expect(run("check", "examples/mnist-dense.cond", "examples/fashion-lowrank.cond").status).toBe(0);
    const bad = run("check", "tests/baselines/names-unknown.cond");
    expect(bad.status).toBe(1);
    expect(bad.stdout).toContain("error CD2005");
    const missing = run("check", "does-not-exist.cond");
    expect(missing.status).toBe(2);
    expect(missing.stderr.trim()).toBe("condc: cannot read 'does-not-exist.cond': no such file");
    expect(run("inspect", "examples/mnist-tree.cond").stdout).toContain("h1: weights / MACs of its body = 18.1");
  });
});
