/**
 * @fileoverview Same seed -> the same bits as the reference compiler (fixtures/identity.json,
 * recorded on commit 035d5cd): losses, checkpoint and predictions of every example and of
 * small models covering each method's options, on both SIMD flavours, on one thread
 * (tests/threads/identity.test.ts holds the same fixture for 2 and 3 threads).
 */
import v8 from "node:v8";
v8.setFlagsFromString("--experimental-wasm-relaxed-simd");
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { IDENTITY_CASES } from "./cases.js";
import { recordIdentity } from "./record.js";
import { runIdentityCase, type IdentityResult } from "./run.js";

const FIXTURE = join(import.meta.dirname, "..", "fixtures", "identity.json");

if (process.env.RECORD_IDENTITY === "1") {
  it("records the identity fixture", async () => {
    await recordIdentity();
  }, 600_000);
} else {
  const expected = JSON.parse(readFileSync(FIXTURE, "utf8")) as Record<string, Record<"plain" | "relaxed", IdentityResult>>;
  describe("bit-identical to the reference compiler", () => {
    it("covers every case", () => {
      expect(Object.keys(expected).sort()).toEqual(IDENTITY_CASES.map((c) => c.name).sort());
    });
    for (const c of IDENTITY_CASES) {
      for (const simd of ["plain", "relaxed"] as const) {
        it(`${c.name} (${simd})`, async () => {
          expect(await runIdentityCase(c, simd)).toEqual(expected[c.name]![simd]);
        });
      }
    }
  });
}
