/**
 * @fileoverview Builds a model module: kernel imports (by name from the kernel library),
 * mutable globals, functions made of `code.ts` statements, exports and custom sections, and
 * encodes it to the binary format. Nothing from a user reaches the module except as a
 * length-prefixed name or custom-section bytes.
 */
import { InternalCompilerError } from "../../errors.js";
import { KERNEL_SIGNATURES, type KernelName } from "../../../runtime/generated/kernel-library.js";
import { coerceArgument, wasm, type Expr, type FunctionRef, type GlobalRef, type LocalRef, type Stmt, type ValueType } from "./code.js";
import { ByteWriter, NUMERIC_OPS, OP, SECTION, VALUE_TYPE_CODE } from "./encoder.js";
import { moduleListing } from "./listing.js";

/** The import module name under which the kernel library's functions are linked. */
export const KERNEL_IMPORT_MODULE = "kernels";

type KernelParams<K extends KernelName> = (typeof KERNEL_SIGNATURES)[K]["params"];
type ArgumentsFor<P extends readonly unknown[]> = { -readonly [I in keyof P]: Expr | number };
/** A kernel's arguments: one expression or number per parameter, checked by tsc for arity. */
export type KernelArgs<K extends KernelName> = ArgumentsFor<KernelParams<K>>;

interface DefinedFunction {
  ref: FunctionRef;
  params: LocalRef[];
  locals: LocalRef[];
  body: Stmt[];
  exportName: string | null;
  doc: string | null;
}

/** Statements of one function, with nested blocks for if/else. */
export class FunctionBuilder {
  private target: Stmt[];

  constructor(
    private readonly module: ModuleBuilder,
    private readonly fn: DefinedFunction,
  ) {
    this.target = fn.body;
  }

  get ref(): FunctionRef {
    return this.fn.ref;
  }

  /** A parameter's value, by name. */
  param(name: string): Expr {
    const local = this.fn.params.find((p) => p.name === name);
    if (!local) throw new InternalCompilerError(`function '${this.fn.ref.name}' has no parameter '${name}'`, "code generation");
    return wasm.local(local);
  }

  /** A new local variable, zero-initialised. */
  local(name: string, type: ValueType): LocalRef {
    const local = { name, type, index: this.fn.params.length + this.fn.locals.length };
    this.fn.locals.push(local);
    return local;
  }

  comment(text: string): void {
    this.target.push({ op: "comment", text });
  }

  /** Calls a kernel of the library, dropping any result. */
  kernel<K extends KernelName>(name: K, ...args: KernelArgs<K>): void {
    const { fn, coerced } = this.kernelCall(name, args as unknown as (Expr | number)[]);
    this.target.push({ op: "call", fn, args: coerced });
  }

  /** A kernel call's result as an expression. */
  kernelValue<K extends KernelName>(name: K, ...args: KernelArgs<K>): Expr {
    const { fn, coerced } = this.kernelCall(name, args as unknown as (Expr | number)[]);
    if (fn.results.length !== 1) throw new InternalCompilerError(`kernel '${name}' returns no value`, "code generation");
    return { op: "call", type: fn.results[0]!, fn, args: coerced };
  }

  /** Calls one of the module's own functions, dropping any result. */
  call(fn: FunctionRef, ...args: (Expr | number)[]): void {
    this.target.push({ op: "call", fn, args: coerceAll(fn, args) });
  }

  set(target: GlobalRef | LocalRef, value: Expr): void {
    if (value.type !== target.type) throw new InternalCompilerError(`assigning ${value.type} to ${target.type} '${target.name}'`, "code generation");
    if ("index" in target) this.target.push({ op: "setLocal", local: target, value });
    else this.target.push({ op: "setGlobal", global: target, value });
  }

  if(cond: Expr, then: () => void, otherwise?: () => void): void {
    if (cond.type !== "i32") throw new InternalCompilerError(`if condition of type ${cond.type}`, "code generation");
    const stmt: Stmt & { op: "if" } = { op: "if", cond, then: [], else: [] };
    const outer = this.target;
    this.target = stmt.then;
    then();
    this.target = stmt.else;
    otherwise?.();
    this.target = outer;
    outer.push(stmt);
  }

  return(value: Expr | null = null): void {
    const want = this.fn.ref.results[0] ?? null;
    if ((value?.type ?? null) !== want) throw new InternalCompilerError(`function '${this.fn.ref.name}' returns ${want ?? "nothing"}, got ${value?.type ?? "nothing"}`, "code generation");
    this.target.push({ op: "return", value });
  }

  private kernelCall(name: KernelName, args: (Expr | number)[]): { fn: FunctionRef; coerced: Expr[] } {
    const fn = this.module.kernel(name);
    return { fn, coerced: coerceAll(fn, args) };
  }
}

function coerceAll(fn: FunctionRef, args: (Expr | number)[]): Expr[] {
  if (args.length !== fn.params.length) {
    throw new InternalCompilerError(`'${fn.name}' takes ${fn.params.length} arguments, got ${args.length}`, "code generation");
  }
  return args.map((a, i) => coerceArgument(a, fn.params[i]!, `argument ${i + 1} of '${fn.name}'`));
}

export interface FunctionOptions {
  /** Export the function under this name. */
  exportName?: string;
  /** One line shown above it in the listing. */
  doc?: string;
}

export class ModuleBuilder {
  private readonly imports = new Map<string, FunctionRef>();
  private readonly globals: GlobalRef[] = [];
  private readonly functions: DefinedFunction[] = [];
  private readonly customs: { name: string; data: Uint8Array }[] = [];

  /** The kernel library function `name` (imported on first use). */
  kernel(name: KernelName): FunctionRef {
    let ref = this.imports.get(name);
    if (!ref) {
      const signature = KERNEL_SIGNATURES[name] as { params: readonly ValueType[]; results: readonly ValueType[] } | undefined;
      if (!signature) throw new InternalCompilerError(`the kernel library has no function '${name}'`, "code generation");
      ref = { kind: "import", name, params: signature.params, results: signature.results };
      this.imports.set(name, ref);
    }
    return ref;
  }

  global(name: string, type: ValueType, initial = 0): GlobalRef {
    if (this.globals.some((g) => g.name === name)) throw new InternalCompilerError(`global '${name}' is declared twice`, "code generation");
    const ref = { name, type, initial };
    this.globals.push(ref);
    return ref;
  }

  function(name: string, params: { name: string; type: ValueType }[], result: ValueType | null, options: FunctionOptions = {}): FunctionBuilder {
    if (this.functions.some((f) => f.ref.name === name)) throw new InternalCompilerError(`function '${name}' is defined twice`, "code generation");
    if (options.exportName !== undefined && this.functions.some((f) => f.exportName === options.exportName)) {
      throw new InternalCompilerError(`export '${options.exportName}' is defined twice`, "code generation");
    }
    const fn: DefinedFunction = {
      ref: { kind: "defined", name, params: params.map((p) => p.type), results: result ? [result] : [] },
      params: params.map((p, index) => ({ name: p.name, type: p.type, index })),
      locals: [],
      body: [],
      exportName: options.exportName ?? null,
      doc: options.doc ?? null,
    };
    this.functions.push(fn);
    return new FunctionBuilder(this, fn);
  }

  /** A custom section (ignored by engines; read back with WebAssembly.Module.customSections). */
  custom(name: string, data: Uint8Array): void {
    this.customs.push({ name, data });
  }

  encode(): Uint8Array {
    const imports = [...this.imports.values()];
    const functionIndex = new Map<FunctionRef, number>();
    imports.forEach((ref, i) => functionIndex.set(ref, i));
    this.functions.forEach((f, i) => functionIndex.set(f.ref, imports.length + i));
    const globalIndex = new Map(this.globals.map((g, i) => [g, i]));

    const typeKeys: string[] = [];
    const typeOf = (ref: FunctionRef): number => {
      const key = `${ref.params.join(",")}->${ref.results.join(",")}`;
      let index = typeKeys.indexOf(key);
      if (index < 0) index = typeKeys.push(key) - 1;
      return index;
    };
    const importTypes = imports.map(typeOf);
    const functionTypes = this.functions.map((f) => typeOf(f.ref));

    const out = new ByteWriter().raw(new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]));
    const types = new ByteWriter().u32(typeKeys.length);
    for (const key of typeKeys) {
      const [params, results] = key.split("->").map((s) => (s === "" ? [] : (s.split(",") as ValueType[])));
      types.byte(0x60).u32(params!.length);
      params!.forEach((t) => types.byte(VALUE_TYPE_CODE[t]));
      types.u32(results!.length);
      results!.forEach((t) => types.byte(VALUE_TYPE_CODE[t]));
    }
    out.section(SECTION.type, types);

    const importSection = new ByteWriter().u32(imports.length);
    imports.forEach((ref, i) => importSection.name(KERNEL_IMPORT_MODULE).name(ref.name).byte(0x00).u32(importTypes[i]!));
    out.section(SECTION.import, importSection);

    const functionSection = new ByteWriter().u32(this.functions.length);
    functionTypes.forEach((t) => functionSection.u32(t));
    out.section(SECTION.function, functionSection);

    const globalSection = new ByteWriter().u32(this.globals.length);
    for (const g of this.globals) {
      globalSection.byte(VALUE_TYPE_CODE[g.type]).byte(0x01);
      writeConst(globalSection, g.type, g.initial);
      globalSection.byte(OP.end);
    }
    out.section(SECTION.global, globalSection);

    const exported = this.functions.filter((f) => f.exportName !== null);
    const exportSection = new ByteWriter().u32(exported.length);
    for (const f of exported) exportSection.name(f.exportName!).byte(0x00).u32(functionIndex.get(f.ref)!);
    out.section(SECTION.export, exportSection);

    const code = new ByteWriter().u32(this.functions.length);
    for (const f of this.functions) {
      const body = new ByteWriter();
      body.u32(f.locals.length);
      for (const local of f.locals) body.u32(1).byte(VALUE_TYPE_CODE[local.type]);
      const encoder = new BodyEncoder(body, functionIndex, globalIndex);
      f.body.forEach((s) => encoder.stmt(s));
      body.byte(OP.end);
      code.u32(body.size).raw(body.finish());
    }
    out.section(SECTION.code, code);

    for (const c of this.customs) out.section(SECTION.custom, new ByteWriter().name(c.name).raw(c.data));
    const names = new ByteWriter().u32(imports.length + this.functions.length);
    imports.forEach((ref, i) => names.u32(i).name(ref.name));
    this.functions.forEach((f, i) => names.u32(imports.length + i).name(f.ref.name));
    out.section(SECTION.custom, new ByteWriter().name("name").byte(1).u32(names.size).raw(names.finish()));
    return out.finish();
  }

  /** The module as readable text, for `condc build --emit wat`, goldens and debugging. */
  listing(header: string): string {
    return moduleListing(header, [...this.imports.values()], this.globals, this.functions);
  }
}

export type { DefinedFunction };

function writeConst(w: ByteWriter, type: ValueType, value: number): void {
  if (type === "i32") w.byte(OP.i32Const).i32(value);
  else if (type === "f32") w.byte(OP.f32Const).f32(value);
  else if (type === "f64") w.byte(OP.f64Const).f64(value);
  else throw new InternalCompilerError(`${type} constants are not used by model code`, "code generation");
}

class BodyEncoder {
  constructor(
    private readonly w: ByteWriter,
    private readonly functions: Map<FunctionRef, number>,
    private readonly globals: Map<GlobalRef, number>,
  ) {}

  stmt(s: Stmt): void {
    const w = this.w;
    switch (s.op) {
      case "call":
        s.args.forEach((a) => this.expr(a));
        w.byte(OP.call).u32(this.fn(s.fn));
        s.fn.results.forEach(() => w.byte(OP.drop));
        return;
      case "setLocal":
        this.expr(s.value);
        w.byte(OP.localSet).u32(s.local.index);
        return;
      case "setGlobal":
        this.expr(s.value);
        w.byte(OP.globalSet).u32(this.global(s.global));
        return;
      case "if":
        this.expr(s.cond);
        w.byte(OP.if).byte(OP.emptyBlockType);
        s.then.forEach((t) => this.stmt(t));
        if (s.else.length > 0) {
          w.byte(OP.else);
          s.else.forEach((t) => this.stmt(t));
        }
        w.byte(OP.end);
        return;
      case "return":
        if (s.value) this.expr(s.value);
        w.byte(OP.return);
        return;
      case "comment":
        return;
    }
  }

  expr(e: Expr): void {
    const w = this.w;
    switch (e.op) {
      case "const":
        writeConst(w, e.type, e.value);
        return;
      case "local":
        w.byte(OP.localGet).u32(e.local.index);
        return;
      case "global":
        w.byte(OP.globalGet).u32(this.global(e.global));
        return;
      case "call":
        e.args.forEach((a) => this.expr(a));
        w.byte(OP.call).u32(this.fn(e.fn));
        return;
      case "numeric":
        e.args.forEach((a) => this.expr(a));
        w.byte(NUMERIC_OPS[e.instr]);
        return;
      case "select":
        this.expr(e.ifTrue);
        this.expr(e.ifFalse);
        this.expr(e.cond);
        w.byte(OP.select);
        return;
    }
  }

  private fn(ref: FunctionRef): number {
    const index = this.functions.get(ref);
    if (index === undefined) throw new InternalCompilerError(`call to '${ref.name}', which is not in the module`, "code generation");
    return index;
  }

  private global(ref: GlobalRef): number {
    const index = this.globals.get(ref);
    if (index === undefined) throw new InternalCompilerError(`global '${ref.name}' is not in the module`, "code generation");
    return index;
  }
}
