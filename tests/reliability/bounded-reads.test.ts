/**
 * @fileoverview Issue 16, class 6: reads without limits. Where a regular file is expected,
 * devices, pipes and directories are refused before reading; every read has a maximum
 * (2 MiB for model files); a gzipped IDX file inflates no further than its header declares.
 */
import { execFileSync } from "node:child_process";
import { appendFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { DataError } from "../../runtime/data/errors.js";
import { browserGunzip, type Gunzip } from "../../runtime/data/gzip.js";
import { encodeIdx, loadIdxPair, MAX_IDX_BYTES, parseIdx } from "../../runtime/data/idx.js";
import { loadIdxDirectory, nodeGunzip } from "../../runtime/node/data.js";
import { FileAccessError, readFileOrExplain, readFileSyncOrExplain } from "../../runtime/node/files.js";
import { expectNoCrash, runBin, runCli, tempDir } from "./helpers.js";

const NAMES = { name: "bomb", images: "train-images-idx3-ubyte.gz", labels: "train-labels-idx1-ubyte.gz" };

function imagesIdx(count: number): Uint8Array {
  return encodeIdx({ type: "uint8", dims: [count, 28, 28], data: new Uint8Array(count * 784).fill(7) });
}

function labelsIdx(count: number): Uint8Array {
  return encodeIdx({ type: "uint8", dims: [count], data: new Uint8Array(count) });
}

/**
 * A gzip bomb: a file whose IDX header promises `count` images, then `members` more gzip
 * members of 64 MiB of zeros each (gunzip reads concatenated members as one stream).
 */
function gzipBomb(count: number, members: number): Uint8Array {
  const zeros = gzipSync(new Uint8Array(64 << 20), { level: 9 });
  const parts = [gzipSync(imagesIdx(count)), ...Array.from({ length: members }, () => zeros)];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Wraps a gunzip, recording how much output each call asked for and got. */
function recording(gunzip: Gunzip) {
  const calls: Array<{ maxBytes: number | undefined; produced: number }> = [];
  const wrapped: Gunzip = async (bytes, maxBytes) => {
    const out = await gunzip(bytes, maxBytes);
    calls.push({ maxBytes, produced: out.length });
    return out;
  };
  return { wrapped, calls };
}

async function dataError(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(DataError);
  return (error as DataError).message;
}

describe("non-regular files are refused before reading", () => {
  it("the issue's example: condc check /dev/zero exits 2 at once with one line", async () => {
    const run = await runCli(["check", "/dev/zero"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe("condc: cannot read '/dev/zero': is a character device, not a regular file");
  });

  it("the issue's example: condc eval --weights /dev/zero exits 1 with one line, before compiling", async () => {
    const run = await runCli(["eval", "examples/mnist-dense.cond", "--weights", "/dev/zero"]);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe("condc eval: cannot read checkpoint /dev/zero: is a character device, not a regular file");
  });

  it("the real bin on /dev/zero: exit 2, no crash", () => {
    const real = runBin(["check", "/dev/zero"], 20_000);
    expect(real.code).toBe(2);
    expect(real.stderr.trim()).toBe("condc: cannot read '/dev/zero': is a character device, not a regular file");
    expectNoCrash(real);
  });

  it("a pipe (FIFO) is refused without waiting for a writer; a directory is refused", async () => {
    const dir = tempDir("fifo");
    const fifo = join(dir, "model.cond");
    execFileSync("mkfifo", [fifo]);
    const run = await runCli(["check", fifo]);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(`condc: cannot read '${fifo}': is a pipe (FIFO), not a regular file`);
    await expect(readFileOrExplain(fifo, "checkpoint")).rejects.toThrow(`cannot read checkpoint ${fifo}: is a pipe (FIFO), not a regular file`);
    expect(() => readFileSyncOrExplain(dir, "model file")).toThrow(`cannot read model file ${dir}: is a directory, not a file`);
  });

  it("an IDX directory whose files are devices or pipes is refused, naming the file", async () => {
    const dir = tempDir("idxfifo");
    writeFileSync(join(dir, "train-images-idx3-ubyte"), imagesIdx(1));
    writeFileSync(join(dir, "train-labels-idx1-ubyte"), labelsIdx(1));
    writeFileSync(join(dir, "t10k-labels-idx1-ubyte"), labelsIdx(1));
    execFileSync("mkfifo", [join(dir, "t10k-images-idx3-ubyte")]);
    await expect(loadIdxDirectory(dir, "fifo")).rejects.toThrow(`cannot read IDX file ${join(dir, "t10k-images-idx3-ubyte")}: is a pipe (FIFO), not a regular file`);
  });
});

describe("every read has a maximum", () => {
  it("a file over the limit is refused from its size, with the byte counts", async () => {
    const dir = tempDir("limit");
    const file = join(dir, "ckpt");
    writeFileSync(file, new Uint8Array(11));
    const error = await readFileOrExplain(file, "checkpoint", 10).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FileAccessError);
    expect((error as FileAccessError).message).toBe(`cannot read checkpoint ${file}: is 11 bytes, more than the 10 bytes a checkpoint may have`);
    expect(() => readFileSyncOrExplain(file, "model file", 10)).toThrow("is 11 bytes, more than the 10 bytes a model file may have");
    expect(await readFileOrExplain(file, "checkpoint", 11)).toHaveLength(11);
    expect(readFileSyncOrExplain(file, "checkpoint", 11)).toHaveLength(11);
  });

  it("reads a file of many chunks exactly (the bounded reader grows its buffer)", async () => {
    const dir = tempDir("chunks");
    const file = join(dir, "big");
    const bytes = new Uint8Array(3 << 20).map((_, i) => i % 251);
    writeFileSync(file, bytes);
    expect(Buffer.compare(await readFileOrExplain(file, "x"), bytes)).toBe(0);
    expect(Buffer.compare(readFileSyncOrExplain(file, "x"), bytes)).toBe(0);
  });

  it("a file that grows while it is read stops at the limit (simulated: /proc files report size 0)", async () => {
    // /proc/self/maps reports 0 bytes to stat but has content: the reader must bound it by reading.
    await expect(readFileOrExplain("/proc/self/maps", "x", 16)).rejects.toThrow("grew past the 16 bytes a x may have while it was read");
    expect((await readFileOrExplain("/proc/self/maps", "x")).length).toBeGreaterThan(16);
  });

  it("model files: over 2 MiB is refused (exit 2) before reading", async () => {
    const dir = tempDir("model");
    const file = join(dir, "m.cond");
    writeFileSync(file, "");
    appendFileSync(file, new Uint8Array((2 << 20) + 1).fill(32));
    const run = await runCli(["check", file]);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(`condc: cannot read '${file}': is 2,097,153 bytes, more than the 2,097,152 bytes a model file may have`);
  });
});

describe("gzipped IDX files inflate no further than their header declares", () => {
  it("the issue's example: a bomb promising 200 images stops after 156,817 bytes with a DataError", async () => {
    const bomb = gzipBomb(200, 16); // 1 GiB of zeros behind the 200 promised images
    for (const gunzip of [nodeGunzip, browserGunzip]) {
      const { wrapped, calls } = recording(gunzip);
      const message = await dataError(loadIdxPair(bomb, gzipSync(labelsIdx(200)), NAMES, { gunzip: wrapped }));
      expect(message).toBe("train-images-idx3-ubyte.gz: trailing bytes: inflates to more than the 156816 bytes its header declares");
      // The header first (16 bytes), then at most the declared size and one byte.
      expect(calls).toEqual([
        { maxBytes: 16, produced: 16 },
        { maxBytes: 156_817, produced: 156_817 },
      ]);
    }
  });

  it("a header that declares more than MAX_IDX_BYTES is refused after inflating only the header", async () => {
    const header = new Uint8Array(16);
    const view = new DataView(header.buffer);
    view.setUint32(0, 0x803);
    view.setUint32(4, 2 ** 31);
    view.setUint32(8, 28);
    view.setUint32(12, 28);
    const { wrapped, calls } = recording(nodeGunzip);
    const message = await dataError(loadIdxPair(gzipSync(header), gzipSync(labelsIdx(1)), NAMES, { gunzip: wrapped }));
    expect(message).toBe(`train-images-idx3-ubyte.gz: header declares 1683627180048 bytes, more than the ${MAX_IDX_BYTES} bytes an IDX file may have`);
    expect(calls).toEqual([{ maxBytes: 16, produced: 16 }]);
  });

  it("the same limit holds for an uncompressed file, and a label bomb is stopped the same way", async () => {
    const header = imagesIdx(1).slice(0, 16);
    new DataView(header.buffer).setUint32(4, 2 ** 31);
    expect(await dataError(loadIdxPair(header, labelsIdx(1), NAMES))).toContain("more than the 1073741824 bytes an IDX file may have");
    const labelBomb = new Uint8Array([...gzipSync(labelsIdx(3)), ...gzipSync(new Uint8Array(8 << 20))]);
    const message = await dataError(loadIdxPair(gzipSync(imagesIdx(3)), labelBomb, NAMES, { gunzip: nodeGunzip }));
    expect(message).toBe("train-labels-idx1-ubyte.gz: trailing bytes: inflates to more than the 11 bytes its header declares");
  });

  it("honest gzipped files still load, with both gunzips", async () => {
    for (const gunzip of [nodeGunzip, browserGunzip]) {
      const ds = await loadIdxPair(gzipSync(imagesIdx(5)), gzipSync(labelsIdx(5)), NAMES, { gunzip });
      expect(ds.count).toBe(5);
    }
  });

  it("a header whose sizes overflow a double never prints Infinity", () => {
    const bytes = new Uint8Array(4 + 4 * 40);
    bytes[2] = 0x08;
    bytes[3] = 40;
    for (let k = 0; k < 40; k++) new DataView(bytes.buffer).setUint32(4 + 4 * k, 0xffffffff);
    const error = (() => {
      try {
        parseIdx(bytes, "huge.idx");
      } catch (e) {
        return e as Error;
      }
    })();
    expect(error?.message).toMatch(/^huge\.idx: truncated: header says .* uint8 \(more bytes than a double holds\) but 0 bytes follow$/);
    expect(error?.message).not.toMatch(/Infinity|∞/);
  });

  it("the node loader reads IDX directories bounded (a bomb in a directory is stopped too)", async () => {
    const dir = tempDir("bombdir");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "train-images-idx3-ubyte.gz"), gzipBomb(10, 4));
    writeFileSync(join(dir, "train-labels-idx1-ubyte"), labelsIdx(10));
    writeFileSync(join(dir, "t10k-images-idx3-ubyte"), imagesIdx(2));
    writeFileSync(join(dir, "t10k-labels-idx1-ubyte"), labelsIdx(2));
    await expect(loadIdxDirectory(dir, "bomb")).rejects.toThrow("trailing bytes: inflates to more than the 7856 bytes its header declares");
  });
});
