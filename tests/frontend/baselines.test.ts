/**
 * @fileoverview Error baselines: each `tests/baselines/<name>.cond` is a bad program and
 * `<name>.errors.txt` the exact diagnostics `condc check` prints for it.
 *
 * To regenerate every `.errors.txt` after an intended change, run
 *     UPDATE_BASELINES=1 npx vitest run tests/frontend
 * and review the diff. A baseline missing its `.errors.txt` fails until regenerated.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { allMessages } from "../../compiler/frontend/diagnostic-messages.js";
import { METHODS } from "../../methods/registry.js";
import { formatDiagnostics, summarize } from "../../compiler/frontend/diagnostics.js";
import { checkSource } from "../../compiler/frontend/frontend.js";

const BASELINE_DIR = "tests/baselines";
/**
 * Codes whose trigger is too large for a baseline file (megabytes of text, thousands of
 * layers or diagnostics); each is held by an exact-message test instead.
 */
const EXERCISED_ELSEWHERE: Record<string, string> = {
  CD1007: "tests/reliability/front-end-limits.test.ts (a file over 2 MiB)",
  CD1009: "tests/reliability/output-growth.test.ts (over 1,000 errors)",
  CD3015: "tests/reliability/front-end-limits.test.ts (over 10,000 layers)",
  CD4005: "tests/reliability/output-growth.test.ts (over 1,000 warnings)",
};
const UPDATE = process.env.UPDATE_BASELINES === "1";
const names = readdirSync(BASELINE_DIR)
  .filter((f) => f.endsWith(".cond"))
  .map((f) => f.slice(0, -".cond".length))
  .sort();

function printed(name: string) {
  const file = `${BASELINE_DIR}/${name}.cond`;
  const result = checkSource(readFileSync(file, "utf8"), file);
  const text = `${formatDiagnostics(result.diagnostics, result.source)}\n\n${summarize(result.diagnostics)}\n`;
  return { text, result };
}

describe("error baselines", () => {
  it.each(names)("%s", (name) => {
    const { text, result } = printed(name);
    expect(result.diagnostics.length, "a baseline must produce diagnostics").toBeGreaterThan(0);
    const expectedPath = join(BASELINE_DIR, `${name}.errors.txt`);
    if (UPDATE) writeFileSync(expectedPath, text);
    expect(existsSync(expectedPath), `${expectedPath} is missing: run with UPDATE_BASELINES=1`).toBe(true);
    expect(text).toBe(readFileSync(expectedPath, "utf8"));
  });

  it("together exercise every front-end diagnostic code in the table (CD1xxx-CD4xxx)", () => {
    const seen = new Set(names.flatMap((name) => printed(name).result.diagnostics.map((d) => d.code)));
    const frontEndCodes = allMessages(METHODS).map((m) => m.code).filter((code) => /^CD[1-4]/.test(code));
    const missing = frontEndCodes.filter((code) => !seen.has(code) && !(code in EXERCISED_ELSEWHERE));
    expect(missing).toEqual([]);
  });

  it("codes in the table are unique", () => {
    const codes = allMessages(METHODS).map((m) => m.code);
    expect(new Set(codes).size).toBe(codes.length);
  });
});
