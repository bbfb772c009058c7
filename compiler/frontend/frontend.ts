/**
 * @fileoverview The front end's single entry point: lex, parse, build the AST and check,
 * collecting every diagnostic in source order. Never throws on any input text: sizes,
 * nesting and diagnostic counts are bounded (docs/reliability.md).
 */
import { EOF, type IRecognitionException, type IToken, type TokenType } from "chevrotain";
import {
  Identifier,
  isWellFormedNumber,
  KEYWORDS,
  LCurly,
  lex,
  LParen,
  LSquare,
  NumberLiteral,
  RCurly,
  RParen,
  RSquare,
  UnterminatedComment,
} from "../../grammar/lexer.js";
import { decodeSyntaxError, parseTokens } from "../../grammar/parser.js";
import type { Program, Span } from "./ast.js";
import { checkProgram } from "./checker.js";
import { cstToAst } from "./cst-to-ast.js";
import { DiagnosticBag, sortDiagnostics, type Diagnostic } from "./diagnostics.js";
import type { MessageId } from "./diagnostic-messages.js";
import { characterAt, safePrefix } from "./display-text.js";
import { MAX_NESTING_DEPTH, MAX_SOURCE_CHARS, NESTING_NEEDED } from "./language-spec.js";
import type { CheckedModel } from "./model.js";
import { SourceText } from "./source-text.js";
import { suggest } from "./suggest.js";
import { METHODS, registerMethod as registerInRegistry } from "../../methods/registry.js";
import type { MethodUnit } from "../../methods/unit.js";
import { MethodTable } from "./method-table.js";

export interface FrontendResult {
  /** Absent only if parsing produced no tree at all (it always does today). */
  program?: Program;
  /** Present only when there are no errors (warnings allowed). */
  model?: CheckedModel;
  /** In source order; at most MAX_RECORDED_DIAGNOSTICS of each severity, then a notice. */
  diagnostics: Diagnostic[];
  /**
   * The text with its line table, for printing diagnostics: the text as given without a
   * leading byte-order mark (spans are offsets into it); only its start when it was refused
   * as too large.
   */
  source: SourceText;
}

function tokenSpan(source: SourceText, token: IToken): Span {
  return source.span(token.startOffset, token.startOffset + token.image.length);
}

function reportLexing(text: string, source: SourceText, diagnostics: DiagnosticBag): IToken[] {
  const result = lex(text);
  for (const error of result.errors) {
    // Whole code points: an emoji is one character, not a lone surrogate.
    const char = characterAt(text, error.offset);
    diagnostics.report("unexpectedCharacter", source.span(error.offset, error.offset + Math.max(char.length, error.length)), {
      char: char === "'" ? "\\'" : char,
    });
  }
  for (const token of result.invalidTokens) {
    if (token.tokenType === UnterminatedComment) {
      diagnostics.report("unterminatedComment", source.span(token.startOffset, token.startOffset + 2));
    } else {
      diagnostics.report("unterminatedString", tokenSpan(source, token));
    }
  }
  for (const token of result.tokens) {
    if (token.tokenType === NumberLiteral && !isWellFormedNumber(token.image)) {
      diagnostics.report("malformedNumber", tokenSpan(source, token), { text: token.image });
    }
  }
  return result.tokens;
}

const SYNTAX_MESSAGE: Record<string, MessageId> = {
  MismatchedTokenException: "expectedToken",
  NoViableAltException: "expectedOneOf",
  EarlyExitException: "expectedOneOf",
  NotAllInputParsedException: "trailingInput",
};

/** Where a syntax error points: the offending token, or just past the last real token at EOF. */
function syntaxErrorSpan(error: IRecognitionException, source: SourceText): Span {
  const token = error.token;
  if (token && token.tokenType !== EOF && Number.isFinite(token.startOffset)) return tokenSpan(source, token);
  const previous = (error as { previousToken?: IToken }).previousToken;
  if (previous && Number.isFinite(previous.startOffset) && previous.tokenType !== EOF) {
    const end = previous.startOffset + previous.image.length;
    return source.span(end, end);
  }
  return source.endSpan();
}

function reportSyntax(errors: IRecognitionException[], source: SourceText, diagnostics: DiagnosticBag): void {
  for (const error of errors) {
    const decoded = decodeSyntaxError(error.message);
    const { found } = decoded;
    // Chevrotain reports leftovers after the last block as a mismatch against EOF.
    const isTrailing = decoded.expected === "the end of the file" || error.name === "NotAllInputParsedException";
    const expected = isTrailing ? "'model' or 'train'" : decoded.expected;
    const token = error.token;
    // `lyer h1 = ...`: a misspelt keyword reads as a name.
    const suggestion = token?.tokenType === Identifier ? suggest(token.image, KEYWORDS) : undefined;
    const span = syntaxErrorSpan(error, source);
    const id = isTrailing ? "trailingInput" : (SYNTAX_MESSAGE[error.name] ?? "expectedToken");
    diagnostics.report(id, span, { expected, found }, suggestion);
  }
}

/**
 * Drops checker findings on lines that also hold a lexing or syntax error: the tree there
 * is what recovery guessed, so such findings are mostly echoes of the syntax error.
 */
function withoutEchoesOfSyntaxErrors(diagnostics: Diagnostic[]): Diagnostic[] {
  const syntaxLines = new Set(diagnostics.filter((d) => d.code.startsWith("CD1")).map((d) => d.span.start.line));
  if (syntaxLines.size === 0) return diagnostics;
  return diagnostics.filter((d) => d.code.startsWith("CD1") || !syntaxLines.has(d.span.start.line));
}

export interface CheckOptions {
  /** The methods layers may use; default the registry's (`methods/registry.ts`). */
  methods?: readonly MethodUnit[];
}

let defaultTable = new MethodTable(METHODS);

/** The lookup table of a method list (the registry's is built once, and again after a registration). */
export function methodTable(methods: readonly MethodUnit[] | undefined): MethodTable {
  if (methods !== undefined && methods !== METHODS) return new MethodTable(methods);
  if (defaultTable.units.length !== METHODS.length) defaultTable = new MethodTable(METHODS);
  return defaultTable;
}

/**
 * Registers a method from outside (docs/adding-a-method.md): its syntax is then accepted by
 * `checkSource`, `compile` and the CLI. Throws a TypeError (and registers nothing) when it
 * contradicts the registry. Its runtime half is registered with `registerMethodRuntime`.
 */
export function registerMethod(unit: MethodUnit<any, any>): void {
  registerInRegistry(unit, (units) => void new MethodTable(units));
}

type Bracket = "open" | "close";
const BRACKETS = new Map<TokenType, Bracket>([
  [LParen, "open"],
  [LSquare, "open"],
  [LCurly, "open"],
  [RParen, "close"],
  [RSquare, "close"],
  [RCurly, "close"],
]);

/**
 * The parser recurses once per bracket level, so text such as `sgd(sgd(...))` 400 deep
 * would overflow the stack. A bracket opened deeper than `MAX_NESTING_DEPTH` is reported
 * and dropped with everything up to its matching close; the rest of the file is parsed.
 */
function limitNesting(tokens: IToken[], source: SourceText, diagnostics: DiagnosticBag): IToken[] {
  let kept: IToken[] | undefined;
  let depth = 0;
  let skipBackTo = -1;
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i];
    const bracket = BRACKETS.get(token.tokenType);
    if (skipBackTo >= 0) {
      if (bracket === "open") depth++;
      else if (bracket === "close") depth--;
      if (depth === skipBackTo) skipBackTo = -1;
      continue;
    }
    if (bracket === "open" && depth === MAX_NESTING_DEPTH) {
      diagnostics.report("nestingTooDeep", tokenSpan(source, token), { limit: MAX_NESTING_DEPTH, needed: NESTING_NEEDED });
      kept ??= tokens.slice(0, i);
      skipBackTo = depth;
      depth++;
      continue;
    }
    if (bracket === "open") depth++;
    else if (bracket === "close") depth = Math.max(0, depth - 1);
    kept?.push(token);
  }
  return kept ?? tokens;
}

/** What `checkSource` returns for text over `MAX_SOURCE_CHARS`: one diagnostic, nothing lexed. */
function refuseTooLarge(text: string, file: string): FrontendResult {
  const source = new SourceText(safePrefix(text, 4096));
  const diagnostics = new DiagnosticBag(file);
  const args = { size: text.length.toLocaleString("en-US"), limit: MAX_SOURCE_CHARS.toLocaleString("en-US") };
  diagnostics.report("sourceTooLarge", source.span(0, 0), args);
  return { diagnostics: diagnostics.items, source };
}

/**
 * Lexes, parses and checks `text`; `file` is the name diagnostics carry. A byte-order mark
 * at the start is not part of the text.
 */
export function checkSource(text: string, file: string, options: CheckOptions = {}): FrontendResult {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  if (body.length > MAX_SOURCE_CHARS) return refuseTooLarge(body, file);
  const source = new SourceText(body);
  const diagnostics = new DiagnosticBag(file);
  const tokens = limitNesting(reportLexing(body, source, diagnostics), source, diagnostics);
  const { cst, errors } = parseTokens(tokens);
  reportSyntax(errors, source, diagnostics);
  const program = cstToAst(cst, source, diagnostics);
  const model = checkProgram(program, diagnostics, methodTable(options.methods));
  const sorted = sortDiagnostics(withoutEchoesOfSyntaxErrors(diagnostics.items));
  return { program, model: diagnostics.hasErrors ? undefined : model, diagnostics: diagnostics.withOverflowNotices(sorted, source.endSpan()), source };
}
