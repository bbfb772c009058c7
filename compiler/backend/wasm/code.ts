/**
 * @fileoverview The code of a model module as a small typed tree: expressions (constants,
 * parameters, globals, calls, arithmetic) and statements (calls, assignments, if/else,
 * return). Constructors check operand types, so an ill-typed module is a compiler bug
 * caught where it is built, not a validation error from the engine.
 */
import { InternalCompilerError } from "../../errors.js";
import type { NumericOp, ValueType } from "./encoder.js";

export type { ValueType } from "./encoder.js";

/** A function the module calls: an imported kernel or one of its own. */
export interface FunctionRef {
  readonly kind: "import" | "defined";
  readonly name: string;
  readonly params: readonly ValueType[];
  readonly results: readonly ValueType[];
}

/** A mutable global of the module (per instance: per thread). */
export interface GlobalRef {
  readonly name: string;
  readonly type: ValueType;
  readonly initial: number;
}

/** A parameter or local of the function being built. */
export interface LocalRef {
  readonly name: string;
  readonly type: ValueType;
  readonly index: number;
}

export type Expr =
  /** `note`: what the constant stands for (a region's name), shown in the listing. */
  | { op: "const"; type: ValueType; value: number; note?: string }
  | { op: "local"; type: ValueType; local: LocalRef }
  | { op: "global"; type: ValueType; global: GlobalRef }
  | { op: "call"; type: ValueType; fn: FunctionRef; args: Expr[] }
  | { op: "numeric"; type: ValueType; instr: NumericOp; args: Expr[] }
  | { op: "select"; type: ValueType; cond: Expr; ifTrue: Expr; ifFalse: Expr };

export type Stmt =
  | { op: "call"; fn: FunctionRef; args: Expr[] }
  | { op: "setLocal"; local: LocalRef; value: Expr }
  | { op: "setGlobal"; global: GlobalRef; value: Expr }
  | { op: "if"; cond: Expr; then: Stmt[]; else: Stmt[] }
  | { op: "return"; value: Expr | null }
  | { op: "comment"; text: string };

function fail(message: string): never {
  throw new InternalCompilerError(`code generation: ${message}`);
}

function int32(value: number, note?: string): Expr {
  if (!Number.isInteger(value) || value < -(2 ** 31) || value >= 2 ** 32) fail(`i32 constant ${value}${note ? ` (${note})` : ""} is not a 32-bit integer`);
  return { op: "const", type: "i32", value, note };
}

/** Typed expression constructors. */
export const wasm = {
  i32: int32,
  /** An address in linear memory, shown as `@name` in the listing. */
  address: (offset: number, name: string): Expr => int32(offset, name),
  /** An f32 constant: `value` rounded to f32 as `<f32>literal` rounds it. */
  f32: (value: number): Expr => ({ op: "const", type: "f32", value: Math.fround(value) }),
  f64: (value: number): Expr => ({ op: "const", type: "f64", value }),
  local: (local: LocalRef): Expr => ({ op: "local", type: local.type, local }),
  global: (global: GlobalRef): Expr => ({ op: "global", type: global.type, global }),

  add: (a: Expr, b: Expr): Expr => arithmetic("add", a, b),
  sub: (a: Expr, b: Expr): Expr => arithmetic("sub", a, b),
  mul: (a: Expr, b: Expr): Expr => arithmetic("mul", a, b),
  div: (a: Expr, b: Expr): Expr => {
    if (a.type === "i32") fail("integer division is not used by model code");
    return arithmetic("div", a, b);
  },
  /** a < b (signed for i32), as i32 0/1. */
  lt: (a: Expr, b: Expr): Expr => {
    same(a, b, "lt");
    return numeric(a.type === "i32" ? "i32.lt_s" : (`${a.type}.lt` as NumericOp), "i32", a, b);
  },
  /** 1 when the f32 `a` is NaN or infinite: (a - a) != (a - a). */
  notFinite: (a: Expr): Expr => {
    expect(a, "f32", "notFinite");
    const d = arithmetic("sub", a, a);
    return numeric("f32.ne", "i32", d, d);
  },
  /** 1 when a is 0, else 0. */
  not: (a: Expr): Expr => {
    expect(a, "i32", "not");
    return numeric("i32.eqz", "i32", a);
  },
  /** i32 -> f32, signed (AssemblyScript's `<f32>n` for an i32 n). */
  f32FromI32: (a: Expr): Expr => (expect(a, "i32", "f32FromI32"), numeric("f32.convert_i32_s", "f32", a)),
  /** i32 -> f64, signed (`<f64>n`). */
  f64FromI32: (a: Expr): Expr => (expect(a, "i32", "f64FromI32"), numeric("f64.convert_i32_s", "f64", a)),
  /** f64 -> f32, rounded to nearest (`<f32>x` for an f64 x). */
  f32FromF64: (a: Expr): Expr => (expect(a, "f64", "f32FromF64"), numeric("f32.demote_f64", "f32", a)),
  /** f32 -> f64, exact (`<f64>x` for an f32 x). */
  f64FromF32: (a: Expr): Expr => (expect(a, "f32", "f64FromF32"), numeric("f64.promote_f32", "f64", a)),
  /** cond ? ifTrue : ifFalse, both evaluated (they must be side-effect free). */
  select: (cond: Expr, ifTrue: Expr, ifFalse: Expr): Expr => {
    expect(cond, "i32", "select condition");
    same(ifTrue, ifFalse, "select");
    return { op: "select", type: ifTrue.type, cond, ifTrue, ifFalse };
  },
};

function numeric(instr: NumericOp, type: ValueType, ...args: Expr[]): Expr {
  return { op: "numeric", type, instr, args };
}

function arithmetic(name: "add" | "sub" | "mul" | "div", a: Expr, b: Expr): Expr {
  same(a, b, name);
  if (a.type === "i64") fail(`i64 ${name} is not used by model code`);
  return numeric(`${a.type}.${name}` as NumericOp, a.type, a, b);
}

function same(a: Expr, b: Expr, what: string): void {
  if (a.type !== b.type) fail(`${what} of ${a.type} and ${b.type}`);
}

function expect(a: Expr, type: ValueType, what: string): void {
  if (a.type !== type) fail(`${what} expects ${type}, got ${a.type}`);
}

/** An argument given as a number becomes a constant of the parameter's type. */
export function coerceArgument(value: Expr | number, type: ValueType, where: string): Expr {
  if (typeof value !== "number") {
    if (value.type !== type) fail(`${where} expects ${type}, got ${value.type}`);
    return value;
  }
  switch (type) {
    case "i32":
      return int32(value, undefined);
    case "f32":
      return wasm.f32(value);
    case "f64":
      return wasm.f64(value);
    default:
      return fail(`${where}: ${type} arguments are not used by model code`);
  }
}
