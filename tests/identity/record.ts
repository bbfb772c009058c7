/**
 * @fileoverview Writes tests/fixtures/identity.json. Run once on the compiler whose numerics
 * are the reference (it was run on commit 035d5cd, before the method-unit and direct-to-wasm
 * rewrites, with these test files copied into that checkout): through vitest with
 * RECORD_IDENTITY=1.
 * Re-recording on a later compiler would make the identity test compare it with itself.
 */
import v8 from "node:v8";
v8.setFlagsFromString("--experimental-wasm-relaxed-simd");
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { IDENTITY_CASES } from "./cases.js";
import { runIdentityCase, type IdentityResult } from "./run.js";

export async function recordIdentity(): Promise<void> {
  const out: Record<string, Record<string, IdentityResult>> = {};
  for (const c of IDENTITY_CASES) {
    out[c.name] = { plain: await runIdentityCase(c, "plain"), relaxed: await runIdentityCase(c, "relaxed") };
    console.log(c.name, out[c.name]!.plain.checkpoint.slice(0, 12), out[c.name]!.relaxed.checkpoint.slice(0, 12));
  }
  writeFileSync(join(import.meta.dirname, "..", "fixtures", "identity.json"), JSON.stringify(out, null, 2) + "\n");
}
