/**
 * @fileoverview Node file helpers: atomic writes leave no temp files and never a half-written
 * target (a write failing midway is simulated), and read errors are one explanatory line.
 */
import type * as FsPromises from "node:fs/promises";
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { FileAccessError, readFileOrExplain, writeFileAtomic } from "../../runtime/node/files.js";

/**
 * afterBytes: the next file opened for writing takes this many bytes, then fails (ENOSPC).
 * readCode: the next file opened for reading fails with this errno code (EACCES cannot be
 * provoked as root).
 */
const failure: { afterBytes: number | null; readCode: string | null } = { afterBytes: null, readCode: null };

vi.mock("node:fs/promises", async (importOriginal) => {
  const actual = await importOriginal<typeof FsPromises>();
  const open = (async (...args: Parameters<typeof actual.open>) => {
    const code = failure.readCode;
    if (code && typeof args[1] === "number") {
      failure.readCode = null;
      throw Object.assign(new Error(`${code}: simulated, open '${String(args[0])}'`), { code });
    }
    const handle = await actual.open(...args);
    const limit = failure.afterBytes;
    if (limit === null || args[1] !== "wx") return handle;
    failure.afterBytes = null;
    let budget = limit;
    const write = async (buffer: Uint8Array, offset = 0, length = buffer.length - offset) => {
      const n = Math.min(length, budget);
      budget -= n;
      if (n > 0) await handle.write(buffer, offset, n);
      if (budget === 0) throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
      return { bytesWritten: n, buffer };
    };
    return new Proxy(handle, {
      get: (target, key) => (key === "write" ? write : Reflect.get(target, key, target)),
    });
  }) as typeof actual.open;
  return { ...actual, open };
});

let dir = "";
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "condc-files-"));
});
afterEach(async () => {
  failure.afterBytes = null;
  failure.readCode = null;
  await rm(dir, { recursive: true, force: true });
});

const bytes = (n: number, fill: number): Uint8Array => new Uint8Array(n).fill(fill);

describe("writeFileAtomic", () => {
  it("writes the bytes and leaves only the target", async () => {
    const target = join(dir, "model.safetensors");
    await writeFileAtomic(target, bytes(1 << 20, 7));
    expect(new Uint8Array(await readFile(target))).toEqual(bytes(1 << 20, 7));
    await writeFileAtomic(target, bytes(10, 8));
    expect(new Uint8Array(await readFile(target))).toEqual(bytes(10, 8));
    expect(await readdir(dir)).toEqual(["model.safetensors"]);
  });

  it("keeps the old file whole when a write fails midway, and removes the temp file", async () => {
    const target = join(dir, "ckpt.safetensors");
    await writeFile(target, bytes(100, 1));
    failure.afterBytes = 4096;
    await expect(writeFileAtomic(target, bytes(1 << 16, 2))).rejects.toThrow(`cannot write file ${target}: no space left on device`);
    expect(failure.afterBytes).toBeNull(); // the simulated failure did fire
    expect(new Uint8Array(await readFile(target))).toEqual(bytes(100, 1));
    expect(await readdir(dir)).toEqual(["ckpt.safetensors"]);
  });

  it("creates no target when the first write to a new file fails", async () => {
    failure.afterBytes = 10;
    await expect(writeFileAtomic(join(dir, "new.bin"), bytes(50, 3))).rejects.toMatchObject({ code: "ENOSPC" });
    expect(await readdir(dir)).toEqual([]);
  });

  it("removes the temp file when the rename fails", async () => {
    const target = join(dir, "busy");
    await mkdir(target);
    await writeFile(join(target, "inside"), "x");
    await expect(writeFileAtomic(target, bytes(8, 4))).rejects.toThrow();
    expect((await readdir(dir)).sort()).toEqual(["busy"]);
  });

  it("fails cleanly when the directory does not exist", async () => {
    await expect(writeFileAtomic(join(dir, "missing", "x.bin"), bytes(8, 4))).rejects.toMatchObject({ code: "ENOENT" });
    expect(await readdir(dir)).toEqual([]);
  });

  it("gives each concurrent writer its own temp file; one whole version wins", async () => {
    const target = join(dir, "race.bin");
    await Promise.all([1, 2, 3, 4].map((v) => writeFileAtomic(target, bytes(200_000, v))));
    const final = new Uint8Array(await readFile(target));
    expect(final.length).toBe(200_000);
    expect(final.every((b) => b === final[0])).toBe(true);
    expect(await readdir(dir)).toEqual(["race.bin"]);
  });
});

describe("readFileOrExplain", () => {
  it("reads a file", async () => {
    await writeFile(join(dir, "a.bin"), Uint8Array.of(1, 2, 3));
    expect(await readFileOrExplain(join(dir, "a.bin"), "checkpoint")).toEqual(Uint8Array.of(1, 2, 3));
  });

  const explain = async (path: string): Promise<FileAccessError> => {
    const error = await readFileOrExplain(path, "checkpoint").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FileAccessError);
    return error as FileAccessError;
  };

  it("explains ENOENT and EISDIR in one line", async () => {
    const missing = await explain(join(dir, "nope.safetensors"));
    expect(missing.message).toBe(`cannot read checkpoint ${join(dir, "nope.safetensors")}: no such file or directory`);
    expect(missing.code).toBe("ENOENT");
    expect((await explain(dir)).message).toBe(`cannot read checkpoint ${dir}: is a directory, not a file`);
  });

  it("explains EACCES (simulated) and keeps other errors to their first line", async () => {
    failure.readCode = "EACCES";
    expect((await explain(join(dir, "x"))).message).toBe(`cannot read checkpoint ${join(dir, "x")}: permission denied`);
    failure.readCode = "ESTALE";
    expect((await explain(join(dir, "x"))).message).toBe(`cannot read checkpoint ${join(dir, "x")}: ESTALE: simulated, open '${join(dir, "x")}'`);
  });

  it.skipIf(process.getuid?.() === 0)("explains a real EACCES", async () => {
    const locked = join(dir, "locked.bin");
    await writeFile(locked, "x");
    await chmod(locked, 0o000);
    expect((await explain(locked)).message).toBe(`cannot read checkpoint ${locked}: permission denied`);
  });
});
