/**
 * @fileoverview Bit-identity across thread counts: every identity case (every example and the
 * small models reaching each method's options, tests/identity/cases.ts) trained on 2 and 3
 * threads, with every kernel call split that can be (split: "always", so the small cases
 * exercise the splits too), gives the losses, checkpoint and predictions of the one-thread
 * fixture (tests/fixtures/identity.json), on both SIMD flavours; and so does the default
 * (measured) split on 2 threads.
 */
import v8 from "node:v8";
v8.setFlagsFromString("--experimental-wasm-relaxed-simd");
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import "../../runtime/node/thread-host.js";
import { IDENTITY_CASES } from "../identity/cases.js";
import { runIdentityCase, type IdentityResult } from "../identity/run.js";

const FIXTURE = join(import.meta.dirname, "..", "fixtures", "identity.json");
const expected = JSON.parse(readFileSync(FIXTURE, "utf8")) as Record<string, Record<"plain" | "relaxed", IdentityResult>>;

describe("the same bits on 2 and 3 threads as on one", () => {
  for (const c of IDENTITY_CASES) {
    for (const simd of ["plain", "relaxed"] as const) {
      it(`${c.name} (${simd}): 2 and 3 threads, every call split`, async () => {
        for (const threads of [2, 3]) {
          expect(await runIdentityCase(c, simd, { threads, split: "always" }), `${threads} threads`).toEqual(expected[c.name]![simd]);
        }
      });
    }
    it(`${c.name} (plain): 2 threads, measured split`, async () => {
      expect(await runIdentityCase(c, "plain", { threads: 2 })).toEqual(expected[c.name]!.plain);
    });
  }
});
