// `condc bench` on a tree model: the dense build is a dense layer of the same shape, and the
// conditional build reports the MACs its module counted: (k+1)·q·n + k·q per tree layer.
import v8 from "node:v8";
v8.setFlagsFromString("--experimental-wasm-relaxed-simd");
import { describe, expect, it } from "vitest";
import { runCli as run } from "../helpers/cli.js";


describe("condc bench on tree layers", () => {
  it("compares against a dense layer of the same shape and reports counted MACs", async () => {
    const { code, out, err } = await run(["bench", "examples/mnist-tree.cond", "--batch", "1,7", "--reps", "2", "--json"]);
    expect(err).toBe("");
    expect(code).toBe(0);
    const report = JSON.parse(out) as { cases: { batch: number; dense_macs_per_example: number; macs_per_example: number; speedup: number; layers: Record<string, { macs_per_example: number; macs_source: string }> }[]; notes: string[] };
    // examples/mnist-tree.cond: tree(x, 256, depth: 6) then dense(h1, 10).
    const dense = 784 * 256 + 256 * 10;
    const tree = 7 * 784 * 256 + 6 * 784 + 256 * 10;
    for (const c of report.cases) {
      expect(c.dense_macs_per_example).toBe(dense);
      expect(c.macs_per_example).toBe(tree);
      expect(c.layers["h1"]).toMatchObject({ macs_per_example: 7 * 784 * 256 + 6 * 784, macs_source: "counted" });
      expect(c.speedup).toBeGreaterThan(0);
    }
    expect(report.notes.some((n) => n.startsWith("h1: timed against a dense layer of the same shape"))).toBe(true);
  });
});
