/**
 * @fileoverview The tokens of the `.cond` language and the Chevrotain lexer. Newlines are
 * not significant; comments are skipped; malformed text is kept in an "invalid" group.
 */
import { createToken, Lexer, type IToken, type TokenType, type ILexingError } from "chevrotain";

/** Tokens in this group never reach the parser; the front end turns each into a diagnostic. */
export const INVALID_GROUP = "invalid";

export const WhiteSpace = createToken({ name: "WhiteSpace", pattern: /[ \t\r\n\f\v]+/, group: Lexer.SKIPPED });
export const LineComment = createToken({ name: "LineComment", pattern: /\/\/[^\n\r]*/, group: Lexer.SKIPPED });
export const BlockComment = createToken({ name: "BlockComment", pattern: /\/\*[\s\S]*?\*\//, group: Lexer.SKIPPED });
/** `/*` with no closing `*\/`: swallows the rest of the file. */
export const UnterminatedComment = createToken({
  name: "UnterminatedComment",
  pattern: /\/\*[\s\S]*/,
  group: INVALID_GROUP,
});

export const Identifier = createToken({ name: "Identifier", pattern: /[A-Za-z_][A-Za-z0-9_]*/, label: "a name" });

function keyword(word: string): TokenType {
  const name = word[0].toUpperCase() + word.slice(1);
  return createToken({ name, pattern: new RegExp(word), longer_alt: Identifier, label: `'${word}'` });
}

export const Model = keyword("model");
export const Train = keyword("train");
export const Input = keyword("input");
export const Target = keyword("target");
export const Layer = keyword("layer");
export const Loss = keyword("loss");
export const Gate = keyword("gate");

/** The reserved words: these cannot name a declaration. */
export const KEYWORDS = ["model", "train", "input", "target", "layer", "loss", "gate"] as const;
export const KEYWORD_TOKENS: TokenType[] = [Model, Train, Input, Target, Layer, Loss, Gate];

/**
 * Any run of digits, letters, dots and exponent signs that starts like a number. The
 * lexer accepts loosely (`1.2.3`, `12abc`) so that one malformed number yields one
 * precise diagnostic; `isWellFormedNumber` decides.
 */
export const NumberLiteral = createToken({
  name: "NumberLiteral",
  pattern: /(?:\d|\.\d)(?:[eE][+-]\d|[A-Za-z0-9_.])*/,
  label: "a number",
});
const WELL_FORMED_NUMBER = /^(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

export function isWellFormedNumber(text: string): boolean {
  return WELL_FORMED_NUMBER.test(text);
}

export const StringLiteral = createToken({ name: "StringLiteral", pattern: /"(?:[^"\\\n\r]|\\.)*"/, label: "a string" });
export const UnterminatedString = createToken({
  name: "UnterminatedString",
  pattern: /"(?:[^"\\\n\r]|\\.)*/,
  group: INVALID_GROUP,
});

export const LCurly = createToken({ name: "LCurly", pattern: /{/, label: "'{'" });
export const RCurly = createToken({ name: "RCurly", pattern: /}/, label: "'}'" });
export const LParen = createToken({ name: "LParen", pattern: /\(/, label: "'('" });
export const RParen = createToken({ name: "RParen", pattern: /\)/, label: "')'" });
export const LSquare = createToken({ name: "LSquare", pattern: /\[/, label: "'['" });
export const RSquare = createToken({ name: "RSquare", pattern: /]/, label: "']'" });
export const Colon = createToken({ name: "Colon", pattern: /:/, label: "':'" });
export const Comma = createToken({ name: "Comma", pattern: /,/, label: "','" });
export const Equals = createToken({ name: "Equals", pattern: /=/, label: "'='" });
export const Plus = createToken({ name: "Plus", pattern: /\+/, label: "'+'" });
export const Minus = createToken({ name: "Minus", pattern: /-/, label: "'-'" });
export const Star = createToken({ name: "Star", pattern: /\*/, label: "'*'" });
export const Slash = createToken({ name: "Slash", pattern: /\//, label: "'/'" });

/** Order matters: Chevrotain takes the first pattern that matches. */
export const ALL_TOKENS: TokenType[] = [
  WhiteSpace,
  LineComment,
  BlockComment,
  UnterminatedComment,
  Model,
  Train,
  Input,
  Target,
  Layer,
  Loss,
  Gate,
  Identifier,
  NumberLiteral,
  StringLiteral,
  UnterminatedString,
  LCurly,
  RCurly,
  LParen,
  RParen,
  LSquare,
  RSquare,
  Colon,
  Comma,
  Equals,
  Plus,
  Minus,
  Star,
  Slash,
];

export const condLexer = new Lexer(ALL_TOKENS, {
  positionTracking: "full",
  ensureOptimizations: false,
});

export interface LexResult {
  /** The tokens the parser reads. */
  tokens: IToken[];
  /** Unterminated comments and strings: text the lexer consumed but the parser must not see. */
  invalidTokens: IToken[];
  /** Characters no token matches (Chevrotain skips them and reports one error per run). */
  errors: ILexingError[];
}

export function lex(text: string): LexResult {
  const result = condLexer.tokenize(text);
  return {
    tokens: result.tokens,
    invalidTokens: (result.groups[INVALID_GROUP] as IToken[] | undefined) ?? [],
    errors: result.errors,
  };
}

/** The group comments go to in the highlighting lexer (the parser's lexer skips them). */
export const COMMENT_GROUP = "comments";

const KeptLineComment = createToken({ name: "LineComment", pattern: LineComment.PATTERN, group: COMMENT_GROUP });
const KeptBlockComment = createToken({ name: "BlockComment", pattern: BlockComment.PATTERN, group: COMMENT_GROUP });

/** The language's tokens with comments kept: for editors, which color every character. */
const highlightLexer = new Lexer(
  ALL_TOKENS.map((t) => (t === LineComment ? KeptLineComment : t === BlockComment ? KeptBlockComment : t)),
  { positionTracking: "onlyOffset", ensureOptimizations: false },
);

/** Whether a token from `lexForHighlighting` is a comment. */
export function isComment(token: IToken): boolean {
  return token.tokenType === KeptLineComment || token.tokenType === KeptBlockComment;
}

/**
 * Every token of `text` in order, comments and unterminated strings and comments included
 * (whitespace aside), plus the runs of characters no token matches: what a highlighter needs.
 * The tokens are the parser's own (same types), so colors follow the language exactly.
 */
export function lexForHighlighting(text: string): { tokens: IToken[]; errors: ILexingError[] } {
  const result = highlightLexer.tokenize(text);
  const tokens = [...result.tokens, ...((result.groups[COMMENT_GROUP] as IToken[] | undefined) ?? []), ...((result.groups[INVALID_GROUP] as IToken[] | undefined) ?? [])];
  tokens.sort((a, b) => a.startOffset - b.startOffset);
  return { tokens, errors: result.errors };
}
