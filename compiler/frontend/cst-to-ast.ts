/**
 * @fileoverview Turns the parser's CST into the AST (`ast.ts`), attaching 1-based spans.
 * Never throws on the partial trees error recovery leaves: a missing name becomes `""`
 * and a missing or invalid number `NaN`, which the checker treats as already reported.
 */
import type { CstNode, IToken } from "chevrotain";
import type * as Ast from "./ast.js";
import type * as Cst from "../../grammar/cst.js";
import { isWellFormedNumber } from "../../grammar/lexer.js";
import type { DiagnosticBag } from "./diagnostics.js";
import type { SourceText } from "./source-text.js";

/** Builds one Program; one instance per file. */
class AstBuilder {
  constructor(
    private readonly source: SourceText,
    private readonly diagnostics: DiagnosticBag,
  ) {}

  program(node: Cst.ProgramCstNode): Ast.Program {
    const models = node.children.modelBlock ?? [];
    const trains = node.children.trainBlock ?? [];
    this.reportDuplicates("model", models, (m) => m.children.Model);
    this.reportDuplicates("train", trains, (t) => t.children.Train);
    return {
      model: models.length > 0 ? this.modelBlock(models[0]) : undefined,
      train: trains.length > 0 ? this.trainBlock(trains[0]) : undefined,
      span: this.source.span(0, this.source.text.length),
    };
  }

  private reportDuplicates<N extends CstNode>(block: string, nodes: N[], keyword: (node: N) => IToken[] | undefined): void {
    const firstLine = this.nodeSpan(nodes[0])?.start.line ?? 1;
    for (const extra of nodes.slice(1)) {
      const span = this.tokenSpan(keyword(extra)?.[0]) ?? this.spanOf(extra);
      this.diagnostics.report("duplicateBlock", span, { block, line: firstLine });
    }
  }

  private modelBlock(node: Cst.ModelBlockCstNode): Ast.ModelBlock {
    const span = this.spanOf(node);
    const c = node.children;
    const items: Array<{ offset: number; item: Ast.ModelItem }> = [];
    const add = (cst: CstNode, item: Ast.ModelItem) => items.push({ offset: this.startOffset(cst), item });
    for (const n of c.inputDecl ?? []) add(n, this.inputDecl(n));
    for (const n of c.targetDecl ?? []) add(n, this.targetDecl(n));
    for (const n of c.layerDecl ?? []) add(n, this.layerDecl(n));
    for (const n of c.lossDecl ?? []) add(n, this.lossDecl(n));
    items.sort((a, b) => a.offset - b.offset);
    return { name: this.identifier(c.name, span), items: items.map((i) => i.item), span };
  }

  private inputDecl(node: Cst.InputDeclCstNode): Ast.InputDecl {
    const span = this.spanOf(node);
    const typed = this.typedName(node.children.typedName?.[0], span);
    return { kind: "input", name: typed.name, elementType: typed.type, width: typed.size, span };
  }

  private targetDecl(node: Cst.TargetDeclCstNode): Ast.TargetDecl {
    const span = this.spanOf(node);
    const typed = this.typedName(node.children.typedName?.[0], span);
    return { kind: "target", name: typed.name, targetType: typed.type, classes: typed.size, span };
  }

  private typedName(node: Cst.TypedNameCstNode | undefined, fallback: Ast.Span) {
    const c = node?.children;
    return {
      name: this.declName(c?.declName?.[0], fallback),
      type: this.identifier(c?.type, fallback),
      size: this.numberValue(c?.size?.[0], fallback),
    };
  }

  private layerDecl(node: Cst.LayerDeclCstNode): Ast.LayerDecl {
    const span = this.spanOf(node);
    const c = node.children;
    const gateNode = c.gateSpec?.[0];
    return {
      kind: "layer",
      name: this.declName(c.declName?.[0], span),
      op: this.identifier(c.op, span),
      source: this.identifier(c.source, span),
      units: this.numberValue(c.units?.[0], span),
      options: (c.namedOption ?? []).map((o) => this.namedOption(o)),
      activation: c.activation?.[0] ? this.identifier(c.activation, span) : undefined,
      gate: gateNode ? this.gateSpec(gateNode) : undefined,
      span,
    };
  }

  private gateSpec(node: Cst.GateSpecCstNode): Ast.GateSpec {
    const span = this.spanOf(node);
    return {
      name: this.identifier(node.children.name, span),
      options: (node.children.namedOption ?? []).map((o) => this.namedOption(o)),
      span,
    };
  }

  private lossDecl(node: Cst.LossDeclCstNode): Ast.LossDecl {
    const span = this.spanOf(node);
    const main = this.nameCall(node.children.main?.[0], span);
    const penalties = (node.children.penaltyTerm ?? []).map((term): Ast.PenaltyTerm => {
      const termSpan = this.spanOf(term);
      const call = this.nameCall(term.children.call?.[0], termSpan);
      const coefficientNode = term.children.coefficient?.[0];
      return {
        coefficient: coefficientNode ? this.numberValue(coefficientNode, termSpan) : undefined,
        fn: call.fn,
        args: call.args,
        span: termSpan,
      };
    });
    return { kind: "loss", fn: main.fn, args: main.args, penalties, span };
  }

  private nameCall(node: Cst.NameCallCstNode | undefined, fallback: Ast.Span) {
    const span = node ? this.spanOf(node, fallback) : fallback;
    const args = (node?.children.arg ?? [])
      .map((token) => this.identifierOrUndefined(token))
      .filter((id): id is Ast.Identifier => id !== undefined);
    return { fn: this.identifier(node?.children.fn, span), args };
  }

  private trainBlock(node: Cst.TrainBlockCstNode): Ast.TrainBlock {
    const settings = (node.children.setting ?? []).map((s): Ast.TrainSetting => {
      const span = this.spanOf(s);
      return { name: this.identifier(s.children.name, span), value: this.value(s.children.value?.[0], span), span };
    });
    return { settings, span: this.spanOf(node) };
  }

  private namedOption(node: Cst.NamedOptionCstNode): Ast.NamedOption {
    const span = this.spanOf(node);
    return { name: this.identifier(node.children.name, span), value: this.value(node.children.value?.[0], span), span };
  }

  private value(node: Cst.ValueCstNode | undefined, fallback: Ast.Span): Ast.Value {
    const c = node?.children;
    const span = node ? this.spanOf(node, fallback) : fallback;
    if (c?.numberValue?.[0]) return this.numberValue(c.numberValue[0], span);
    const stringToken = c?.StringLiteral?.[0];
    const stringSpan = this.tokenSpan(stringToken);
    if (stringToken && stringSpan) {
      const value = stringToken.image.slice(1, -1).replace(/\\(.)/g, "$1");
      return { kind: "string", value, span: stringSpan };
    }
    const call = c?.nameOrCall?.[0];
    if (call) return this.nameOrCall(call, span);
    return { kind: "name", name: "", span };
  }

  private nameOrCall(node: Cst.NameOrCallCstNode, fallback: Ast.Span): Ast.Value {
    const span = this.spanOf(node, fallback);
    const callee = this.identifier(node.children.name, span);
    if (!node.children.LParen?.[0]) return { kind: "name", name: callee.name, span: callee.span };
    const args: Ast.Value[] = [];
    const options: Ast.NamedOption[] = [];
    for (const argument of node.children.argument ?? []) {
      const named = argument.children.namedOption?.[0];
      if (named) options.push(this.namedOption(named));
      else args.push(this.value(argument.children.value?.[0], this.spanOf(argument, span)));
    }
    return { kind: "call", callee, args, options, span };
  }

  /**
   * `-1/16` folded to a value; NaN when a piece is missing, malformed or not finite, each
   * reported here or by the lexer stage (so NaN never stands for an unreported problem).
   */
  private numberValue(node: Cst.NumberValueCstNode | undefined, fallback: Ast.Span): Ast.NumberLiteral {
    const span = node ? this.spanOf(node, fallback) : fallback;
    const c = node?.children;
    const numerator = c?.numerator?.[0];
    if (!node || !numerator || !this.tokenSpan(numerator)) {
      return { kind: "number", value: NaN, text: "", isInteger: false, span };
    }
    const text = this.source.text.slice(span.start.offset, span.end.offset);
    const sign = c.Minus?.[0] ? -1 : 1;
    let value = sign * this.literal(numerator);
    let isInteger = /^\d+$/.test(numerator.image);
    if (c.Slash?.[0]) {
      const denominator = c.denominator?.[0];
      const denominatorValue = denominator && this.tokenSpan(denominator) ? this.literal(denominator) : NaN;
      if (denominatorValue === 0) {
        this.diagnostics.report("zeroDenominator", span, { text });
        value = NaN;
      } else {
        value /= denominatorValue;
      }
      isInteger = false;
    }
    if (value === Infinity || value === -Infinity) {
      this.diagnostics.report("numberOutOfRange", span, { text });
      value = NaN;
    }
    return { kind: "number", value, text, isInteger, span };
  }

  /**
   * One NUMBER token's value; NaN when malformed (reported by the lexer stage) or beyond
   * the largest double (`1e400`, reported here, so `1e400/1e400` cannot become an
   * unreported NaN and `1/1e400` cannot become a silent 0).
   */
  private literal(token: IToken): number {
    if (!isWellFormedNumber(token.image)) return NaN;
    const value = Number(token.image);
    if (value === Infinity) {
      this.diagnostics.report("numberOutOfRange", this.tokenSpan(token) ?? this.source.endSpan(), { text: token.image });
      return NaN;
    }
    return value;
  }

  /** A declared name; a keyword used as one is reported and kept, so uses of it still resolve. */
  private declName(node: Cst.DeclNameCstNode | undefined, fallback: Ast.Span): Ast.Identifier {
    const reserved = this.identifierOrUndefined(node?.children.reserved?.[0]);
    if (reserved) {
      this.diagnostics.report("keywordAsName", reserved.span, { name: reserved.name });
      return reserved;
    }
    return this.identifier(node?.children.name, fallback);
  }

  private identifier(tokens: IToken[] | undefined, fallback: Ast.Span): Ast.Identifier {
    return this.identifierOrUndefined(tokens?.[0]) ?? { name: "", span: fallback };
  }

  private identifierOrUndefined(token: IToken | undefined): Ast.Identifier | undefined {
    const span = this.tokenSpan(token);
    return token && span ? { name: token.image, span } : undefined;
  }

  /** Undefined for tokens error recovery inserted: they have no place in the text. */
  private tokenSpan(token: IToken | undefined): Ast.Span | undefined {
    if (!token || token.isInsertedInRecovery || !Number.isFinite(token.startOffset)) return undefined;
    const end = Number.isFinite(token.endOffset) ? (token.endOffset as number) + 1 : token.startOffset + token.image.length;
    return this.source.span(token.startOffset, end);
  }

  private nodeSpan(node: CstNode | undefined): Ast.Span | undefined {
    const location = node?.location;
    if (!location || !Number.isFinite(location.startOffset)) return undefined;
    const end = Number.isFinite(location.endOffset) ? (location.endOffset as number) + 1 : location.startOffset;
    return this.source.span(location.startOffset, end);
  }

  private spanOf(node: CstNode, fallback?: Ast.Span): Ast.Span {
    return this.nodeSpan(node) ?? fallback ?? this.source.endSpan();
  }

  private startOffset(node: CstNode): number {
    return this.nodeSpan(node)?.start.offset ?? Number.MAX_SAFE_INTEGER;
  }
}

/** The AST of a parsed file; reports duplicate blocks and bad fractions into `diagnostics`. */
export function cstToAst(cst: CstNode, source: SourceText, diagnostics: DiagnosticBag): Ast.Program {
  return new AstBuilder(source, diagnostics).program(cst as Cst.ProgramCstNode);
}
