/**
 * @fileoverview The `.cond` grammar as a Chevrotain CstParser: no semantic actions, error
 * recovery on, so one run reports several syntax errors. `cst-to-ast.ts` reads the CST.
 */
import {
  CstParser,
  EOF,
  type CstNode,
  type IParserErrorMessageProvider,
  type IRecognitionException,
  type IToken,
  type TokenType,
} from "chevrotain";
import * as T from "./lexer.js";

/** What a syntax error message carries; `cst-to-ast.ts`'s caller formats it. */
export interface SyntaxErrorDetail {
  expected: string;
  found: string;
}

function describeToken(token: IToken | undefined): string {
  if (!token || token.tokenType === EOF) return "the end of the file";
  if (token.image.length <= 24) return `'${token.image}'`;
  // Cut before a surrogate pair rather than through it (a string token may hold emoji).
  const cut = /[\ud800-\udbff]/.test(token.image[23]) ? 23 : 24;
  return `'${token.image.slice(0, cut)}...'`;
}

function labelOf(type: TokenType): string {
  return type === EOF ? "the end of the file" : (type.LABEL ?? type.name);
}

function joinAlternatives(labels: string[]): string {
  const unique = [...new Set(labels)];
  if (unique.length <= 1) return unique[0] ?? "something else";
  return `${unique.slice(0, -1).join(", ")} or ${unique[unique.length - 1]}`;
}

function encode(detail: SyntaxErrorDetail): string {
  return JSON.stringify(detail);
}

/** Parses a message built by `errorMessages` back into its parts. */
export function decodeSyntaxError(message: string): SyntaxErrorDetail {
  try {
    const parsed = JSON.parse(message) as Partial<SyntaxErrorDetail>;
    if (typeof parsed.expected === "string" && typeof parsed.found === "string") {
      return { expected: parsed.expected, found: parsed.found };
    }
  } catch {
    // A message Chevrotain built itself: keep it whole.
  }
  return { expected: "valid syntax", found: message };
}

/** Rules whose alternatives read better as one phrase than as a token list. */
const RULE_DESCRIPTIONS: Record<string, string> = {
  value: "a value (a number, a string or a name)",
  argument: "a value or 'name: value'",
};

/** Messages are structured (JSON) so the diagnostics table owns the wording. */
const errorMessages: IParserErrorMessageProvider = {
  buildMismatchTokenMessage: ({ expected, actual }) =>
    encode({ expected: labelOf(expected), found: describeToken(actual) }),
  buildNotAllInputParsedMessage: ({ firstRedundant }) =>
    encode({ expected: "'model' or 'train'", found: describeToken(firstRedundant) }),
  buildNoViableAltMessage: ({ expectedPathsPerAlt, actual, ruleName }) =>
    encode({
      expected:
        RULE_DESCRIPTIONS[ruleName] ??
        joinAlternatives(expectedPathsPerAlt.flatMap((paths) => paths.map((path) => labelOf(path[0])))),
      found: describeToken(actual[0]),
    }),
  buildEarlyExitMessage: ({ expectedIterationPaths, actual }) =>
    encode({
      expected: joinAlternatives(expectedIterationPaths.map((path) => labelOf(path[0]))),
      found: describeToken(actual[0]),
    }),
};

export class CondParser extends CstParser {
  constructor() {
    super(T.ALL_TOKENS, {
      recoveryEnabled: true,
      nodeLocationTracking: "full",
      maxLookahead: 3,
      errorMessageProvider: errorMessages,
    });
    this.performSelfAnalysis();
  }

  public program = this.RULE("program", () => {
    this.MANY(() => {
      this.OR([
        { ALT: () => this.SUBRULE(this.modelBlock) },
        { ALT: () => this.SUBRULE(this.trainBlock) },
      ]);
    });
  });

  public modelBlock = this.RULE("modelBlock", () => {
    this.CONSUME(T.Model);
    this.CONSUME(T.Identifier, { LABEL: "name" });
    this.CONSUME(T.LCurly);
    this.MANY(() => {
      this.OR([
        { ALT: () => this.SUBRULE(this.inputDecl) },
        { ALT: () => this.SUBRULE(this.targetDecl) },
        { ALT: () => this.SUBRULE(this.layerDecl) },
        { ALT: () => this.SUBRULE(this.lossDecl) },
      ]);
    });
    this.CONSUME(T.RCurly);
  });

  /** `input x: f32[784]` */
  public inputDecl = this.RULE("inputDecl", () => {
    this.CONSUME(T.Input);
    this.SUBRULE(this.typedName);
  });

  /** `target y: class[10]` */
  public targetDecl = this.RULE("targetDecl", () => {
    this.CONSUME(T.Target);
    this.SUBRULE(this.typedName);
  });

  /**
   * The name a declaration introduces. A keyword is accepted here (and reported by
   * `cst-to-ast.ts`) so that `layer loss = ...` yields one precise error, not a cascade.
   */
  public declName = this.RULE("declName", () => {
    this.OR([
      { ALT: () => this.CONSUME(T.Identifier, { LABEL: "name" }) },
      ...T.KEYWORD_TOKENS.map((keyword) => ({ ALT: () => this.CONSUME(keyword, { LABEL: "reserved" }) })),
    ]);
  });

  /** `NAME: TYPE[SIZE]`, shared by input and target. */
  public typedName = this.RULE("typedName", () => {
    this.SUBRULE(this.declName);
    this.CONSUME(T.Colon);
    this.CONSUME2(T.Identifier, { LABEL: "type" });
    this.CONSUME(T.LSquare);
    this.SUBRULE(this.numberValue, { LABEL: "size" });
    this.CONSUME(T.RSquare);
  });

  /** `layer h1 = dense(x, 1000, opt: v) relu gate lowrank(rank: 30)` */
  public layerDecl = this.RULE("layerDecl", () => {
    this.CONSUME(T.Layer);
    this.SUBRULE(this.declName);
    this.CONSUME(T.Equals);
    this.CONSUME2(T.Identifier, { LABEL: "op" });
    this.CONSUME(T.LParen);
    this.CONSUME3(T.Identifier, { LABEL: "source" });
    this.CONSUME(T.Comma);
    this.SUBRULE(this.numberValue, { LABEL: "units" });
    this.MANY(() => {
      this.CONSUME2(T.Comma);
      this.SUBRULE(this.namedOption);
    });
    this.CONSUME(T.RParen);
    this.OPTION(() => this.CONSUME4(T.Identifier, { LABEL: "activation" }));
    this.OPTION2(() => this.SUBRULE(this.gateSpec));
  });

  /** `gate lowrank(rank: 30)`; the parentheses may be left out when there are no options. */
  public gateSpec = this.RULE("gateSpec", () => {
    this.CONSUME(T.Gate);
    this.CONSUME(T.Identifier, { LABEL: "name" });
    this.OPTION(() => {
      this.CONSUME(T.LParen);
      this.MANY_SEP({ SEP: T.Comma, DEF: () => this.SUBRULE(this.namedOption) });
      this.CONSUME(T.RParen);
    });
  });

  /** `loss = softmax_cross_entropy(out, y) + 1e-3 * l1(h1, h2)` */
  public lossDecl = this.RULE("lossDecl", () => {
    this.CONSUME(T.Loss);
    this.CONSUME(T.Equals);
    this.SUBRULE(this.nameCall, { LABEL: "main" });
    this.MANY(() => {
      this.CONSUME(T.Plus);
      this.SUBRULE(this.penaltyTerm);
    });
  });

  /** `1e-3 * l1(h1, h2)` or `l1(h1)` */
  public penaltyTerm = this.RULE("penaltyTerm", () => {
    this.OPTION(() => {
      this.SUBRULE(this.numberValue, { LABEL: "coefficient" });
      this.CONSUME(T.Star);
    });
    this.SUBRULE(this.nameCall, { LABEL: "call" });
  });

  /** `fn(a, b)`: a function applied to names. */
  public nameCall = this.RULE("nameCall", () => {
    this.CONSUME(T.Identifier, { LABEL: "fn" });
    this.CONSUME(T.LParen);
    this.MANY_SEP({ SEP: T.Comma, DEF: () => this.CONSUME2(T.Identifier, { LABEL: "arg" }) });
    this.CONSUME(T.RParen);
  });

  public trainBlock = this.RULE("trainBlock", () => {
    this.CONSUME(T.Train);
    this.CONSUME(T.LCurly);
    this.MANY(() => this.SUBRULE(this.setting));
    this.CONSUME(T.RCurly);
  });

  /** `optimizer = sgd(lr: 0.05)` */
  public setting = this.RULE("setting", () => {
    this.CONSUME(T.Identifier, { LABEL: "name" });
    this.CONSUME(T.Equals);
    this.SUBRULE(this.value);
  });

  public value = this.RULE("value", () => {
    this.OR([
      { ALT: () => this.SUBRULE(this.numberValue) },
      { ALT: () => this.CONSUME(T.StringLiteral) },
      { ALT: () => this.SUBRULE(this.nameOrCall) },
    ]);
  });

  /** `mnist`, `sgd(lr: 0.05)`, `idx("dir")` */
  public nameOrCall = this.RULE("nameOrCall", () => {
    this.CONSUME(T.Identifier, { LABEL: "name" });
    this.OPTION(() => {
      this.CONSUME(T.LParen);
      this.MANY_SEP({ SEP: T.Comma, DEF: () => this.SUBRULE(this.argument) });
      this.CONSUME(T.RParen);
    });
  });

  public argument = this.RULE("argument", () => {
    this.OR([
      { GATE: () => this.LA(2).tokenType === T.Colon, ALT: () => this.SUBRULE(this.namedOption) },
      { ALT: () => this.SUBRULE(this.value) },
    ]);
  });

  /** `rank: 30` */
  public namedOption = this.RULE("namedOption", () => {
    this.CONSUME(T.Identifier, { LABEL: "name" });
    this.CONSUME(T.Colon);
    this.SUBRULE(this.value);
  });

  /** `784`, `-0.5`, `1e-3`, `1/16` */
  public numberValue = this.RULE("numberValue", () => {
    this.OPTION(() => this.CONSUME(T.Minus));
    this.CONSUME(T.NumberLiteral, { LABEL: "numerator" });
    this.OPTION2(() => {
      this.CONSUME(T.Slash);
      this.CONSUME2(T.NumberLiteral, { LABEL: "denominator" });
    });
  });
}

let sharedParser: CondParser | undefined;

/** Building the parser runs Chevrotain's grammar analysis (tens of ms): do it once. */
export function getParser(): CondParser {
  sharedParser ??= new CondParser();
  return sharedParser;
}

export interface ParseResult {
  cst: CstNode;
  errors: IRecognitionException[];
}

/**
 * Parses a token stream. Error recovery creates an exception object per attempt; without
 * stack traces they are cheaper (1.6 MB of hostile token soup: 4.6 s -> 2.8 s to check).
 */
export function parseTokens(tokens: IToken[]): ParseResult {
  const parser = getParser();
  const stackTraceLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    parser.input = tokens;
    const cst = parser.program();
    return { cst, errors: [...parser.errors] };
  } finally {
    Error.stackTraceLimit = stackTraceLimit;
  }
}
