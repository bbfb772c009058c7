/**
 * @fileoverview Token classes for highlighting, from condc's own lexer (`lexForHighlighting`):
 * every token the parser sees, plus comments, unterminated strings and characters no token
 * matches, each given a class by its token type and, for names, by its neighbours (a call, an
 * option, a declaration). No editor code here: tested in Node.
 */
import type { IToken, TokenType } from "chevrotain";
import {
  Colon, Comma, Equals, Identifier, Input, isComment, KEYWORD_TOKENS, LCurly, Layer, lexForHighlighting, LParen, LSquare, Minus, Model, NumberLiteral,
  Plus, RCurly, RParen, RSquare, Slash, Star, StringLiteral, Target, UnterminatedComment, UnterminatedString,
} from "../../../grammar/lexer.js";

export type TokenClass = "keyword" | "definition" | "call" | "option" | "name" | "number" | "string" | "comment" | "punctuation" | "operator" | "invalid";

const BY_TYPE = new Map<TokenType, TokenClass>([
  ...KEYWORD_TOKENS.map((t) => [t, "keyword"] as const),
  [NumberLiteral, "number"],
  [StringLiteral, "string"],
  [UnterminatedString, "invalid"],
  [UnterminatedComment, "invalid"],
  ...[LCurly, RCurly, LParen, RParen, LSquare, RSquare, Colon, Comma].map((t) => [t, "punctuation"] as const),
  ...[Equals, Plus, Minus, Star, Slash].map((t) => [t, "operator"] as const),
]);

/** Keywords whose next name is being declared. */
const DECLARING = new Set<TokenType>([Model, Layer, Input, Target]);

/** The class of each token, in order, with its offsets (end exclusive). */
export function classifyTokens(text: string): { from: number; to: number; cls: TokenClass }[] {
  const { tokens, errors } = lexForHighlighting(text);
  const code = tokens.filter((t) => !isComment(t));
  const out: { from: number; to: number; cls: TokenClass }[] = [];
  const next = new Map<IToken, IToken | undefined>(code.map((t, i) => [t, code[i + 1]]));
  const previous = new Map<IToken, IToken | undefined>(code.map((t, i) => [t, code[i - 1]]));
  for (const token of tokens) {
    const from = token.startOffset;
    const to = from + token.image.length;
    let cls: TokenClass;
    if (isComment(token)) cls = "comment";
    else if (token.tokenType === Identifier) {
      const after = next.get(token)?.tokenType;
      const before = previous.get(token)?.tokenType;
      cls = before !== undefined && DECLARING.has(before) ? "definition" : after === LParen ? "call" : after === Colon ? "option" : "name";
    } else cls = BY_TYPE.get(token.tokenType) ?? "name";
    out.push({ from, to, cls });
  }
  for (const error of errors) out.push({ from: error.offset, to: error.offset + error.length, cls: "invalid" });
  return out.sort((a, b) => a.from - b.from);
}

