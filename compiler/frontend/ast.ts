/**
 * @fileoverview The abstract syntax tree of a `.cond` file. Every node carries the
 * source span it was parsed from, so every later stage can point at the user's text.
 * Built from the CST by `cst-to-ast.ts`; consumed by `checker.ts`.
 */

/** A position in the source. `line` and `column` are 1-based; `offset` is 0-based. */
export interface Position {
  offset: number;
  line: number;
  column: number;
}

/** A half-open source range [start, end). */
export interface Span {
  start: Position;
  end: Position;
}

export interface Identifier {
  name: string;
  span: Span;
}

/** A numeric literal; `1/16` is folded to its value, `text` keeps what was written. */
export interface NumberLiteral {
  kind: "number";
  value: number;
  text: string;
  /** True when written without a fraction, a decimal point or an exponent. */
  isInteger: boolean;
  span: Span;
}

export interface NameValue {
  kind: "name";
  name: string;
  span: Span;
}

export interface StringLiteral {
  kind: "string";
  value: string;
  span: Span;
}

/** `sgd(lr: 0.05)`, `idx("dir")`, `reinforce(...)`: a call used as a setting value. */
export interface CallValue {
  kind: "call";
  callee: Identifier;
  /** Positional arguments, in order. */
  args: Value[];
  /** Named arguments `name: value`, in order. */
  options: NamedOption[];
  span: Span;
}

export type Value = NumberLiteral | NameValue | StringLiteral | CallValue;

export interface NamedOption {
  name: Identifier;
  value: Value;
  span: Span;
}

/** `input x: f32[784]` */
export interface InputDecl {
  kind: "input";
  name: Identifier;
  /** The element type as written (`f32`). */
  elementType: Identifier;
  width: NumberLiteral;
  span: Span;
}

/** `target y: class[10]` */
export interface TargetDecl {
  kind: "target";
  name: Identifier;
  /** The target type as written (`class`). */
  targetType: Identifier;
  classes: NumberLiteral;
  span: Span;
}

/** `gate lowrank(rank: 30)` */
export interface GateSpec {
  name: Identifier;
  options: NamedOption[];
  span: Span;
}

/** `layer h1 = dense(x, 1000, opt: v) relu gate lowrank(rank: 30)` */
export interface LayerDecl {
  kind: "layer";
  name: Identifier;
  /** `dense` or `tree` as written (unknown kinds are the checker's to report). */
  op: Identifier;
  source: Identifier;
  units: NumberLiteral;
  options: NamedOption[];
  /** Absent means linear. */
  activation?: Identifier;
  gate?: GateSpec;
  span: Span;
}

/** `1e-3 * l1(h1, h2)`; a term without a coefficient has coefficient 1. */
export interface PenaltyTerm {
  coefficient?: NumberLiteral;
  fn: Identifier;
  args: Identifier[];
  span: Span;
}

/** `loss = softmax_cross_entropy(out, y) + 1e-3 * l1(h1, h2)` */
export interface LossDecl {
  kind: "loss";
  fn: Identifier;
  args: Identifier[];
  penalties: PenaltyTerm[];
  span: Span;
}

export type ModelItem = InputDecl | TargetDecl | LayerDecl | LossDecl;

export interface ModelBlock {
  name: Identifier;
  items: ModelItem[];
  span: Span;
}

/** `optimizer = sgd(lr: 0.05)` inside `train { ... }` */
export interface TrainSetting {
  name: Identifier;
  value: Value;
  span: Span;
}

export interface TrainBlock {
  settings: TrainSetting[];
  span: Span;
}

export interface Program {
  /** Absent only when the parser could not recover a model block. */
  model?: ModelBlock;
  train?: TrainBlock;
  span: Span;
}
