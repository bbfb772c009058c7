/**
 * @fileoverview The playground's highlighting comes from condc's lexer: for every example and
 * for broken text, the token classes cover every character that is not whitespace exactly
 * once, in order; names are told apart by their neighbours; comments, unterminated strings and
 * stray characters get their own classes.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { classifyTokens } from "../../playground/src/editor/token-classes.js";
import { REPO } from "../browser/support.js";

function coverage(text: string): void {
  const spans = classifyTokens(text);
  let last = 0;
  for (const s of spans) {
    expect(s.from, `overlap at ${s.from}`).toBeGreaterThanOrEqual(last);
    expect(/^\s*$/.test(text.slice(last, s.from)), `uncolored text ${JSON.stringify(text.slice(last, s.from))}`).toBe(true);
    last = s.to;
  }
  expect(/^\s*$/.test(text.slice(last))).toBe(true);
}

describe("token classes", () => {
  it("cover every non-blank character of every example once", () => {
    const dir = join(REPO, "examples");
    for (const name of readdirSync(dir).filter((n) => n.endsWith(".cond"))) coverage(readFileSync(join(dir, name), "utf8"));
  });

  it("class names by their neighbours, and keep comments, bad strings and stray characters", () => {
    const text = `// note\nmodel M { layer h = dense(x, 4) relu gate lowrank(rank: 2) /* c */ }\n"open @`;
    coverage(text);
    const of = (image: string, nth = 0) => classifyTokens(text).filter((s) => text.slice(s.from, s.to) === image)[nth]?.cls;
    expect(of("// note")).toBe("comment");
    expect(of("/* c */")).toBe("comment");
    expect(of("model")).toBe("keyword");
    expect(of("M")).toBe("definition");
    expect(of("h")).toBe("definition");
    expect(of("dense")).toBe("call");
    expect(of("x")).toBe("name");
    expect(of("relu")).toBe("name");
    expect(of("rank")).toBe("option");
    expect(of("4")).toBe("number");
    expect(of("=")).toBe("operator");
    expect(of("(")).toBe("punctuation");
    expect(of('"open @')).toBe("invalid");
    coverage("layer @@ x");
    expect(classifyTokens("layer @@ x").map((s) => s.cls)).toEqual(["keyword", "invalid", "definition"]);
  });
});
