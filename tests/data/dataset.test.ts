/**
 * @fileoverview Dataset helpers: subset copies the chosen examples, batchInto gathers into
 * preallocated buffers and refuses short ones, validateDataset names the first broken invariant.
 */
import { describe, expect, it } from "vitest";
import { batchInto, subset, validateDataset, type Dataset } from "../../runtime/data/dataset.js";
import { DataError } from "../../runtime/data/errors.js";

function tiny(): Dataset {
  // Example i has pixels (i/10, i/10 + 0.01, i/10 + 0.02) and label i % 3.
  const count = 5;
  const images = new Float32Array(count * 3);
  for (let i = 0; i < count; i++) for (let j = 0; j < 3; j++) images[i * 3 + j] = i / 10 + j / 100;
  const labels = Uint8Array.from({ length: count }, (_, i) => i % 3);
  return { name: "tiny", count, width: 3, classes: 3, images, labels };
}

describe("subset", () => {
  it("copies the examples at the indices, in order", () => {
    const ds = tiny();
    const s = subset(ds, [4, 1, 1]);
    expect(s).toMatchObject({ count: 3, width: 3, classes: 3, name: "tiny[subset]" });
    expect(Array.from(s.labels)).toEqual([1, 1, 1]);
    expect(Array.from(s.images)).toEqual(Array.from(Float32Array.from([0.4, 0.41, 0.42, 0.1, 0.11, 0.12, 0.1, 0.11, 0.12])));
    s.images[0] = 0;
    expect(ds.images[12]).toBe(Math.fround(0.4));
    expect(() => subset(ds, [5])).toThrow("subset: index 5 outside tiny (5 examples)");
  });
});

describe("batchInto", () => {
  it("gathers indices[start..start+n) into the buffers", () => {
    const ds = tiny();
    const x = new Float32Array(6).fill(-1);
    const y = new Int32Array(2).fill(-1);
    expect(batchInto(ds, Uint32Array.from([3, 0, 2]), 1, 2, x, y)).toBe(2);
    expect(Array.from(y)).toEqual([0, 2]);
    expect(Array.from(x)).toEqual(Array.from(Float32Array.from([0, 0.01, 0.02, 0.2, 0.21, 0.22])));
  });

  it("refuses short buffers and ranges", () => {
    const ds = tiny();
    expect(() => batchInto(ds, [0, 1], 0, 2, new Float32Array(5), new Int32Array(2))).toThrow("batchInto: xOut holds 5 floats, need 6");
    expect(() => batchInto(ds, [0, 1], 0, 2, new Float32Array(6), new Int32Array(1))).toThrow("batchInto: yOut holds 1 labels, need 2");
    expect(() => batchInto(ds, [0, 1], 1, 2, new Float32Array(6), new Int32Array(2))).toThrow("batchInto: range [1, 3) outside 2 indices");
    expect(() => batchInto(ds, [9], 0, 1, new Float32Array(3), new Int32Array(1))).toThrow("batchInto: index 9 outside tiny (5 examples)");
  });
});

describe("validateDataset", () => {
  const broken = (change: (ds: Dataset) => void): string => {
    const ds = tiny();
    change(ds);
    try {
      validateDataset(ds);
    } catch (e) {
      expect(e).toBeInstanceOf(DataError);
      return (e as Error).message;
    }
    return "valid";
  };
  it("accepts a good data set", () => expect(broken(() => undefined)).toBe("valid"));
  it("names the broken invariant", () => {
    expect(broken((ds) => (ds.images = new Float32Array(14)))).toBe("tiny: images hold 14 floats, expected 5×3 = 15");
    expect(broken((ds) => (ds.labels = new Uint8Array(4)))).toBe("tiny: labels hold 4 entries, expected 5");
    expect(broken((ds) => (ds.labels[2] = 3))).toBe("tiny: label 3 at example 2 is not < 3 classes");
    expect(broken((ds) => (ds.images[7] = 1.5))).toBe("tiny: pixel 1.5 at example 2, feature 1 is outside [0, 1]");
    expect(broken((ds) => (ds.images[3] = NaN))).toBe("tiny: pixel NaN at example 1, feature 0 is outside [0, 1]");
    expect(broken((ds) => (ds.count = 2.5))).toBe("tiny: count must be a non-negative integer, got 2.5");
  });
});
