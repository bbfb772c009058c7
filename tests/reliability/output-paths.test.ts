/**
 * @fileoverview Issue 16, class 12: output-path faults. `build -o` and `train --out` check
 * their output location before any long work (a read-only folder, a file where a folder
 * is expected or the reverse, an empty path); a full disk mid-write is one line naming the
 * user's path, never a temp file and never an internal error; temp files left by killed
 * runs are removed on the next write. Read-only folders and full disks are simulated
 * (the tests may run as root, for whom permissions do not apply), alongside real cases.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readdirSync, utimesSync, writeFileSync } from "node:fs";
import type * as FsPromises from "node:fs/promises";
import { join, resolve, sep } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { encodeIdx } from "../../runtime/data/idx.js";
import { removeStaleTemps, writeFileAtomic } from "../../runtime/node/files.js";
import { expectNoCrash, runCli, tempDir, tinyModel } from "./helpers.js";

const simulated = vi.hoisted(() => ({
  /** Folders that refuse new files and subfolders (EACCES), as a read-only folder does. */
  readOnly: new Set<string>(),
  /** The next file opened for writing takes this many bytes, then fails with ENOSPC. */
  diskFullAfter: null as number | null,
}));

vi.mock("node:fs/promises", async (importOriginal) => {
  const actual = await importOriginal<typeof FsPromises>();
  const { resolve: resolvePath, sep: separator } = await import("node:path");
  const denied = (path: unknown) => {
    const full = resolvePath(String(path));
    return [...simulated.readOnly].some((dir) => full.startsWith(dir + separator));
  };
  const eacces = (path: unknown) => Object.assign(new Error(`EACCES: permission denied, open '${String(path)}'`), { code: "EACCES" });
  const open = (async (...args: Parameters<typeof actual.open>) => {
    if (args[1] === "wx" && denied(args[0])) throw eacces(args[0]);
    const handle = await actual.open(...args);
    const budget = simulated.diskFullAfter;
    if (budget === null || args[1] !== "wx" || String(args[0]).includes(".condc-probe.")) return handle;
    simulated.diskFullAfter = null;
    let left = budget;
    const write = async (buffer: Uint8Array, offset = 0, length = buffer.length - offset) => {
      const n = Math.min(length, left);
      left -= n;
      if (n > 0) await handle.write(buffer, offset, n);
      if (left === 0) throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
      return { bytesWritten: n, buffer };
    };
    return new Proxy(handle, { get: (target, key) => (key === "write" ? write : Reflect.get(target, key, target)) });
  }) as typeof actual.open;
  const mkdir = (async (...args: Parameters<typeof actual.mkdir>) => {
    if (denied(args[0])) throw eacces(args[0]);
    return actual.mkdir(...args);
  }) as typeof actual.mkdir;
  return { ...actual, open, mkdir };
});

afterEach(() => {
  simulated.readOnly.clear();
  simulated.diskFullAfter = null;
});

/** A model with a check error: if its diagnostics appear, the output was checked too late. */
const BROKEN = "model M { input x: f32[4] target y: class[2] layer out = dens(x, 2) loss = softmax_cross_entropy(out, y) }";
const isRoot = process.getuid?.() === 0;

function readOnlyFolder(): string {
  const dir = resolve(tempDir("ro"));
  simulated.readOnly.add(dir);
  return dir;
}

/** Files in `dir` that look like temp files (ours or a probe). */
function leftovers(dir: string): string[] {
  return readdirSync(dir).filter((name) => name.endsWith(".tmp"));
}

describe("condc build -o", () => {
  it("the issue's example: into a read-only folder: exit 1, one line naming the folder, before compiling", async () => {
    const dir = readOnlyFolder();
    const run = await runCli(["build", "m.cond", "-o", dir], { "m.cond": BROKEN });
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(`condc build: cannot write into '${dir}': permission denied`);
    expectNoCrash(run);
    const nested = await runCli(["build", "m.cond", "-o", join(dir, "new", "deeper")], { "m.cond": BROKEN });
    expect(nested.stderr).toBe(`condc build: cannot write into '${join(dir, "new", "deeper")}': permission denied`);
  });

  it.skipIf(isRoot)("into a really read-only folder (chmod 555)", async () => {
    const dir = tempDir("ro-real");
    chmodSync(dir, 0o555);
    const run = await runCli(["build", "m.cond", "-o", dir], { "m.cond": BROKEN });
    expect(run.stderr).toBe(`condc build: cannot write into '${dir}': permission denied`);
    chmodSync(dir, 0o755);
  });

  it("onto a regular file, and under one: exit 1, one line", async () => {
    const dir = tempDir("onfile");
    const file = join(dir, "taken");
    writeFileSync(file, "x");
    const onto = await runCli(["build", "m.cond", "-o", file], { "m.cond": BROKEN });
    expect(onto.code).toBe(1);
    expect(onto.stderr).toBe(`condc build: cannot write into '${file}': it is a file, not a directory`);
    const under = await runCli(["build", "m.cond", "-o", join(file, "sub")], { "m.cond": BROKEN });
    expect(under.code).toBe(1);
    expect(under.stderr).toBe(`condc build: cannot write into '${join(file, "sub")}': a parent of the path is not a directory`);
  });

  it("-o '' is a usage error (exit 2)", async () => {
    const run = await runCli(["build", "m.cond", "-o", ""], { "m.cond": tinyModel() });
    expect(run.code).toBe(2);
    expect(run.stderr).toBe("condc build: -o must name a directory, got ''");
  });

  it("a full disk mid-write: exit 1, one line naming the file, no temp file, no partial output", async () => {
    const dir = join(tempDir("full"), "out");
    simulated.diskFullAfter = 100; // a model module is a few hundred bytes
    const run = await runCli(["build", "m.cond", "-o", dir, "--simd", "plain"], { "m.cond": tinyModel() });
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(`condc build: cannot write file ${join(dir, "Tiny.wasm")}: no space left on device`);
    expectNoCrash(run);
    expect(readdirSync(dir)).toEqual([]);
  });

  it("creates a missing folder and builds into it (the checks do not get in the way)", async () => {
    const dir = join(tempDir("ok"), "a", "b");
    const run = await runCli(["build", "m.cond", "-o", dir, "--simd", "plain"], { "m.cond": tinyModel() });
    expect(run.code).toBe(0);
    expect(readdirSync(dir).sort()).toEqual(["Tiny.json", "Tiny.wasm"]);
  });
});

describe("condc train --out", () => {
  it("the issue's example: into a read-only folder fails before training, naming the user's path", async () => {
    const out = join(readOnlyFolder(), "w.safetensors");
    const run = await runCli(["train", "m.cond", "--out", out], { "m.cond": BROKEN });
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(`condc train: cannot write '${out}': permission denied`);
    expect(run.stdout).toBe("");
  });

  it("onto a directory, onto a device, a path ending in '/': refused before training", async () => {
    const dir = tempDir("outdir");
    const cases: Array<[string, string]> = [
      [dir, "is a directory, not a file"],
      ["/dev/null", "exists and is not a regular file"],
      [`${dir}${sep}`, "the path names a directory, not a file"],
    ];
    for (const [out, reason] of cases) {
      const run = await runCli(["train", "m.cond", "--out", out], { "m.cond": BROKEN });
      expect(run.code, out).toBe(1);
      expect(run.stderr).toBe(`condc train: cannot write '${out}': ${reason}`);
    }
  });

  it("under a regular file: refused before training", async () => {
    const file = join(tempDir("under"), "f");
    writeFileSync(file, "x");
    const run = await runCli(["train", "m.cond", "--out", join(file, "w.safetensors")], { "m.cond": BROKEN });
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(`condc train: cannot write '${join(file, "w.safetensors")}': a parent of the path is not a directory`);
  });

  it("--out '' is a usage error (exit 2), not a late failure", async () => {
    const run = await runCli(["train", "m.cond", "--out", ""], { "m.cond": BROKEN });
    expect(run.code).toBe(2);
    expect(run.stderr).toBe("condc train: --out must name a file, got ''");
  });

  it("a full disk at the final write: exit 1, one line naming the checkpoint, no temp file", async () => {
    const data = tempDir("data");
    const write = (prefix: string, n: number) => {
      writeFileSync(join(data, `${prefix}-images-idx3-ubyte`), encodeIdx({ type: "uint8", dims: [n, 28, 28], data: new Uint8Array(n * 784) }));
      writeFileSync(join(data, `${prefix}-labels-idx1-ubyte`), encodeIdx({ type: "uint8", dims: [n], data: new Uint8Array(n) }));
    };
    write("train", 8);
    write("t10k", 2);
    const outDir = tempDir("fullckpt");
    const out = join(outDir, "w.safetensors");
    simulated.diskFullAfter = 100;
    const run = await runCli(["train", "m.cond", "--out", out, "--data", `idx:${data}`, "--epochs", "1"], { "m.cond": tinyModel("batch = 4", 2, 784) });
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(`condc train: cannot write file ${out}: no space left on device`);
    expectNoCrash(run);
    expect(readdirSync(outDir)).toEqual([]);
  });
});

describe("temp files left by killed runs", () => {
  /** The pid of a process that has exited (and so is not running). */
  function deadPid(): number {
    const child = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" });
    return Number(child.stdout);
  }

  let made = 0;
  function makeTemp(dir: string, target: string, pid: number, ageSeconds: number): string {
    const name = `.${target}.${pid}.${(made++).toString(16).padStart(12, "0")}.tmp`;
    writeFileSync(join(dir, name), "partial");
    const when = Date.now() / 1000 - ageSeconds;
    utimesSync(join(dir, name), when, when);
    return name;
  }

  it("the next write removes stale ones of its target, and leaves live or fresh ones and other targets alone", async () => {
    const dir = tempDir("stale");
    const dead = deadPid();
    const stale = makeTemp(dir, "w.safetensors", dead, 3600);
    const fresh = makeTemp(dir, "w.safetensors", dead, 0);
    const live = makeTemp(dir, "w.safetensors", process.ppid, 3600);
    const other = makeTemp(dir, "other.bin", dead, 3600);
    await writeFileAtomic(join(dir, "w.safetensors"), new Uint8Array([1, 2, 3]));
    const names = readdirSync(dir);
    expect(names).not.toContain(stale);
    expect(names).toEqual(expect.arrayContaining([fresh, live, other, "w.safetensors"]));
    expect(await removeStaleTemps(dir, "other.bin")).toEqual([other]);
  });

  it("condc build cleans stale temp files of the files it writes", async () => {
    const dir = tempDir("stalebuild");
    const stale = ["Tiny.wasm", "Tiny.json"].map((target) => makeTemp(dir, target, deadPid(), 600));
    const run = await runCli(["build", "m.cond", "-o", dir, "--simd", "plain"], { "m.cond": tinyModel() });
    expect(run.code).toBe(0);
    for (const name of stale) expect(existsSync(join(dir, name))).toBe(false);
    expect(leftovers(dir)).toEqual([]);
  });

  it("the output checks leave no probe files behind", async () => {
    const dir = tempDir("probe");
    mkdirSync(join(dir, "sub"));
    const run = await runCli(["train", "m.cond", "--out", join(dir, "sub", "w.safetensors")], { "m.cond": BROKEN });
    expect(run.code).toBe(1); // the model's own errors, after the output check passed
    expect(run.stderr).toContain("error CD2003");
    expect(leftovers(join(dir, "sub"))).toEqual([]);
  });
});
