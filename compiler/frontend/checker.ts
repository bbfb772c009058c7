/**
 * @fileoverview The checker: resolves names, widths, options and defaults of a `Program`
 * into a `CheckedModel`, reporting every error it finds in one pass. Never throws; the
 * model comes back only when there are no errors. Train settings: `check-train.ts`.
 */
import type { Identifier, LayerDecl, LossDecl, ModelBlock, Program, Span } from "./ast.js";
import { checkTrain } from "./check-train.js";
import { modelCost } from "./cost.js";
import { DiagnosticBag, type Diagnostic } from "./diagnostics.js";
import { ACTIVATIONS, INPUT_ELEMENT_TYPES, LOSS_FUNCTIONS, MAX_LAYERS, MAX_WIDTH, PENALTY_FUNCTIONS, TARGET_TYPES, WASM_MEMORY_BYTES } from "./language-spec.js";
import type { Activation, CheckedLayer, CheckedModel, CheckedPenalty } from "./model.js";
import { isPoisoned, readOptions, readValue, type OptionValues } from "./options.js";
import { suggest } from "./suggest.js";
import type { MethodUnit } from "../../methods/unit.js";
import { MethodTable } from "./method-table.js";

/** What the first pass learned about a layer; undefined fields were invalid (and reported). */
interface LayerFacts {
  decl: LayerDecl;
  name: string;
  source: string;
  /** The method of the layer kind as written, without a gate. */
  kindUnit?: MethodUnit;
  inputs?: number;
  units?: number;
  activation?: Activation;
  options: OptionValues;
  gateName?: string;
  gateOptions: OptionValues;
}

type SymbolKind = "input" | "target" | "layer";

interface ModelSymbol {
  kind: SymbolKind;
  name: string;
  line: number;
  /** Input width or layer units; undefined when invalid (already reported). */
  width?: number;
}

const DESCRIPTION: Record<SymbolKind, string> = { input: "the input", target: "the target", layer: "a layer" };

class ModelChecker {
  private readonly symbols = new Map<string, ModelSymbol>();
  /** Every declared name and the line of its first declaration, to tell "later" from "unknown". */
  private readonly declaredLines = new Map<string, number>();
  private readonly layers: LayerFacts[] = [];
  private input?: { name: string; width?: number; line: number };
  private target?: { name: string; classes?: number; line: number };
  private loss?: LossDecl;

  constructor(
    private readonly diagnostics: DiagnosticBag,
    private readonly methods: MethodTable,
  ) {}

  check(model: ModelBlock, program: Program): CheckedModel | undefined {
    if (this.refuseTooManyLayers(model, program)) return undefined;
    for (const item of model.items) {
      if (item.kind !== "loss" && item.name.name !== "" && !this.declaredLines.has(item.name.name)) {
        this.declaredLines.set(item.name.name, item.name.span.start.line);
      }
    }
    for (const item of model.items) {
      if (item.kind === "input") this.checkInput(item.name, item.elementType, item.width, item.span);
      else if (item.kind === "target") this.checkTarget(item.name, item.targetType, item.classes, item.span);
      else if (item.kind === "layer") this.layers.push(this.checkLayer(item));
      else if (this.loss) this.diagnostics.report("extraDeclaration", item.span, { decl: "loss", line: this.loss.span.start.line });
      else this.loss = item;
    }
    const anchor = model.name.name !== "" ? model.name.span : model.span;
    if (!this.input) this.diagnostics.report("missingDeclaration", anchor, { decl: "input" });
    if (!this.target) this.diagnostics.report("missingDeclaration", anchor, { decl: "target" });
    if (this.layers.length === 0) this.diagnostics.report("noLayers", anchor);
    if (!this.loss) this.diagnostics.report("missingDeclaration", anchor, { decl: "loss" });
    const logits = this.loss ? this.checkLoss(this.loss) : undefined;
    const penalties = this.loss ? this.checkPenalties(this.loss) : [];

    const checkedLayers: CheckedLayer[] = [];
    for (const facts of this.layers) {
      const layer = this.checkMethod(facts, facts.name === logits);
      if (layer) checkedLayers.push(layer);
    }
    if (logits) this.warnUnusedLayers(logits);

    const train = checkTrain(program.train, this.trainFacts(checkedLayers), this.diagnostics, this.methods);
    if (this.diagnostics.hasErrors || !this.input || !this.target || !logits || !this.loss) return undefined;
    if (this.input.width === undefined || this.target.classes === undefined) return undefined;
    const checked: CheckedModel = {
      name: model.name.name,
      input: { name: this.input.name, width: this.input.width },
      target: { name: this.target.name, classes: this.target.classes },
      layers: checkedLayers,
      loss: { fn: "softmax_cross_entropy", logits, target: this.target.name, penalties },
      train,
    };
    const bytes = modelCost(checked, this.methods).memoryBytes;
    if (bytes > WASM_MEMORY_BYTES) {
      this.diagnostics.report("modelTooLarge", anchor, { bytes: bytes.toLocaleString("en-US") });
      return undefined;
    }
    return checked;
  }

  /**
   * Past `MAX_LAYERS` the model is refused whole (one diagnostic at the first layer over
   * the limit), before any per-layer work; the train block is still checked.
   */
  private refuseTooManyLayers(model: ModelBlock, program: Program): boolean {
    let count = 0;
    let first: LayerDecl | undefined;
    for (const item of model.items) {
      if (item.kind !== "layer") continue;
      count++;
      if (count === MAX_LAYERS + 1) first = item;
    }
    if (!first) return false;
    const args = { count: count.toLocaleString("en-US"), limit: MAX_LAYERS.toLocaleString("en-US"), index: (MAX_LAYERS + 1).toLocaleString("en-US") };
    this.diagnostics.report("tooManyLayers", first.name.name !== "" ? first.name.span : first.span, args);
    checkTrain(program.train, { inputName: "", targetName: "", layers: [] }, this.diagnostics, this.methods);
    return true;
  }

  private declare(id: Identifier, kind: SymbolKind, width: number | undefined): void {
    if (id.name === "") return;
    const existing = this.symbols.get(id.name);
    if (existing) {
      this.diagnostics.report("duplicateName", id.span, { name: id.name, line: existing.line });
      return;
    }
    this.symbols.set(id.name, { kind, name: id.name, line: id.span.start.line, width });
  }

  private checkInput(name: Identifier, elementType: Identifier, width: LayerDecl["units"], span: Span): void {
    if (this.input) {
      this.diagnostics.report("extraDeclaration", span, { decl: "input", line: this.input.line });
      return;
    }
    this.checkTypeName(elementType, INPUT_ELEMENT_TYPES, "unknownElementType");
    const value = readValue(width, { name: "width", kind: "integer", min: 1, ceiling: MAX_WIDTH }, `the width of input '${name.name}'`, this.diagnostics);
    const widthValue = typeof value === "number" ? value : undefined;
    this.input = { name: name.name, width: widthValue, line: span.start.line };
    this.declare(name, "input", widthValue);
  }

  private checkTarget(name: Identifier, targetType: Identifier, classes: LayerDecl["units"], span: Span): void {
    if (this.target) {
      this.diagnostics.report("extraDeclaration", span, { decl: "target", line: this.target.line });
      return;
    }
    this.checkTypeName(targetType, TARGET_TYPES, "unknownTargetType");
    const spec = { name: "classes", kind: "integer", min: 2, ceiling: MAX_WIDTH } as const;
    const value = readValue(classes, spec, `the class count of target '${name.name}'`, this.diagnostics);
    const classCount = typeof value === "number" ? value : undefined;
    this.target = { name: name.name, classes: classCount, line: span.start.line };
    this.declare(name, "target", undefined);
  }

  private checkTypeName(id: Identifier, allowed: readonly string[], message: "unknownElementType" | "unknownTargetType"): void {
    if (id.name !== "" && !allowed.includes(id.name)) {
      this.diagnostics.report(message, id.span, { name: id.name }, suggest(id.name, allowed));
    }
  }

  private checkLayer(decl: LayerDecl): LayerFacts {
    const name = decl.name.name;
    const inputs = this.resolveSource(decl.source, name);
    this.declare(decl.name, "layer", undefined);
    const unitsValue = readValue(decl.units, { name: "units", kind: "integer", min: 1, ceiling: MAX_WIDTH }, `the units of layer '${name}'`, this.diagnostics);
    const units = typeof unitsValue === "number" ? unitsValue : undefined;
    const symbol = this.symbols.get(name);
    if (symbol?.kind === "layer" && symbol.line === decl.name.span.start.line) symbol.width = units;

    const kindName = decl.op.name;
    const kindUnit = this.methods.kind(kindName);
    if (!kindUnit && kindName !== "") {
      this.diagnostics.report("unknownLayerKind", decl.op.span, { kind: kindName }, suggest(kindName, this.methods.kindNames));
    }
    const options = kindUnit ? readOptions(decl.options, kindUnit.kindOptions, `layer kind '${kindName}'`, decl.op.span, this.diagnostics) : new Map();

    let activation: Activation | undefined = "linear";
    if (decl.activation && decl.activation.name !== "") {
      activation = ACTIVATIONS.find((a) => a === decl.activation?.name);
      if (!activation) {
        const written = decl.activation.name;
        this.diagnostics.report("unknownActivation", decl.activation.span, { name: written }, suggest(written, ACTIVATIONS));
      }
    }

    let gateName: string | undefined;
    let gateOptions: OptionValues = new Map();
    const gate = decl.gate;
    if (gate && gate.name.name !== "") {
      const gateSpec = this.methods.gateOptions(gate.name.name);
      if (gateSpec) {
        gateName = gate.name.name;
        gateOptions = readOptions(gate.options, gateSpec, `gate '${gateName}'`, gate.name.span, this.diagnostics);
      } else {
        this.diagnostics.report("unknownGate", gate.name.span, { name: gate.name.name }, suggest(gate.name.name, this.methods.gateNames));
      }
    }
    return { decl, name, source: decl.source.name, kindUnit, inputs, units, activation, options, gateName, gateOptions };
  }

  /**
   * Picks the layer's method (its kind's, or the unit for that kind and gate), applies the
   * rules every method shares (gates on the output, gates a kind refuses) and the method's
   * own; returns the checked layer when everything it needs is valid.
   */
  private checkMethod(facts: LayerFacts, isOutput: boolean): CheckedLayer | undefined {
    const { decl, kindUnit } = facts;
    if (!kindUnit) return undefined;
    let unit: MethodUnit | undefined = kindUnit;
    if (decl.gate && facts.gateName) {
      unit = this.methods.unitFor(kindUnit.kind, facts.gateName);
      if (!unit) {
        const reason = kindUnit.refusesGates ?? `no method compiles ${kindUnit.kind} layers with this gate`;
        this.diagnostics.report("gateOnKind", decl.gate.span, { gate: facts.gateName, kind: kindUnit.kind, layer: facts.name, reason });
        return undefined;
      }
      if (isOutput && !unit.allowedOnOutput) this.diagnostics.report("gateOnOutput", decl.gate.span, { layer: facts.name });
    } else if (decl.gate) {
      return undefined;
    }
    const values: OptionValues = new Map([...facts.options, ...facts.gateOptions]);
    const optionSpan = (name: string): Span => {
      const option = decl.gate?.options.find((o) => o.name.name === name) ?? decl.options.find((o) => o.name.name === name);
      return option?.value.span ?? decl.gate?.name.span ?? decl.op.span;
    };
    const options = unit.check({
      name: facts.name,
      inputs: facts.inputs,
      units: facts.units,
      activation: facts.activation,
      isOutput,
      options: values,
      optionSpan,
      activationSpan: decl.activation?.span ?? decl.gate?.name.span ?? decl.span,
      declSpan: decl.span,
      report: (message, span, args) => void this.diagnostics.reportMessage(message, span, args),
    });
    const { inputs, units, activation } = facts;
    if (inputs === undefined || units === undefined || !activation) return undefined;
    return { name: facts.name, source: facts.source, inputs, units, activation, method: unit.key, options, isOutput, span: decl.span };
  }

  /** The width of a layer's source, or undefined after reporting why it has none. */
  private resolveSource(source: Identifier, layerName: string): number | undefined {
    const name = source.name;
    if (name === "") return undefined;
    if (name === layerName) {
      this.diagnostics.report("selfReference", source.span, { name });
      return undefined;
    }
    const symbol = this.symbols.get(name);
    if (!symbol) {
      const laterLine = this.declaredLines.get(name);
      if (laterLine !== undefined) this.diagnostics.report("usedBeforeDeclared", source.span, { name, line: laterLine });
      else this.reportUnknownName(source, (s) => s.kind !== "target");
      return undefined;
    }
    if (symbol.kind === "target") {
      this.diagnostics.report("sourceIsTarget", source.span, { name });
      return undefined;
    }
    return symbol.width;
  }

  private reportUnknownName(id: Identifier, eligible: (symbol: ModelSymbol) => boolean): void {
    // The suggestion scans every declared name: skip it once the report would be dropped anyway.
    if (this.diagnostics.isFull("error")) {
      this.diagnostics.report("unknownName", id.span, { name: id.name });
      return;
    }
    const candidates: string[] = [];
    for (const symbol of this.symbols.values()) if (eligible(symbol)) candidates.push(symbol.name);
    this.diagnostics.report("unknownName", id.span, { name: id.name }, suggest(id.name, candidates));
  }

  /** Any declared name, from anywhere in the model (the loss is not bound by source order). */
  private resolveAnywhere(id: Identifier, eligible: (symbol: ModelSymbol) => boolean): ModelSymbol | undefined {
    if (id.name === "") return undefined;
    const symbol = this.symbols.get(id.name);
    if (!symbol) this.reportUnknownName(id, eligible);
    return symbol;
  }

  private requireLayer(id: Identifier): ModelSymbol | undefined {
    const symbol = this.resolveAnywhere(id, (s) => s.kind === "layer");
    if (symbol && symbol.kind !== "layer") {
      this.diagnostics.report("notALayer", id.span, { name: id.name, what: DESCRIPTION[symbol.kind] });
      return undefined;
    }
    return symbol;
  }

  /** Checks the main loss term; returns the logits layer's name when it is valid. */
  private checkLoss(loss: LossDecl): string | undefined {
    const fn = loss.fn.name;
    if (fn !== "" && !(LOSS_FUNCTIONS as readonly string[]).includes(fn)) {
      this.diagnostics.report("unknownLossFunction", loss.fn.span, { name: fn }, suggest(fn, LOSS_FUNCTIONS));
    }
    if (loss.args.length !== 2) {
      const args = { fn: "softmax_cross_entropy", expected: "2 arguments (logits, target)", got: String(loss.args.length) };
      this.diagnostics.report("argumentCount", loss.fn.span, args);
    }
    const [logitsId, targetId] = loss.args;
    const logits = logitsId ? this.requireLayer(logitsId) : undefined;
    if (targetId) {
      const target = this.resolveAnywhere(targetId, (s) => s.kind === "target");
      if (target && target.kind !== "target") {
        this.diagnostics.report("notTheTarget", targetId.span, { name: targetId.name, target: this.target?.name ?? "y" });
      }
    }
    if (!logits || !logitsId) return undefined;
    const classes = this.target?.classes;
    if (logits.width !== undefined && classes !== undefined && logits.width !== classes) {
      const args = { name: logits.name, width: logits.width, target: this.target?.name ?? "", classes };
      this.diagnostics.report("logitsWidthMismatch", logitsId.span, args);
    }
    return logits.name;
  }

  private checkPenalties(loss: LossDecl): CheckedPenalty[] {
    const penalties: CheckedPenalty[] = [];
    for (const term of loss.penalties) {
      const fn = term.fn.name;
      if (fn !== "" && !(PENALTY_FUNCTIONS as readonly string[]).includes(fn)) {
        this.diagnostics.report("unknownPenalty", term.fn.span, { name: fn }, suggest(fn, PENALTY_FUNCTIONS));
      }
      if (term.args.length === 0) {
        this.diagnostics.report("argumentCount", term.fn.span, { fn, expected: "at least one layer", got: "none" });
      }
      const layers = term.args.map((arg) => this.requireLayer(arg)?.name).filter((n): n is string => n !== undefined);
      let coefficient = 1;
      if (term.coefficient && !isPoisoned(term.coefficient)) {
        const spec = { name: "coefficient", kind: "number", min: 0 } as const;
        const value = readValue(term.coefficient, spec, `the coefficient of '${fn}'`, this.diagnostics);
        coefficient = typeof value === "number" ? value : coefficient;
      }
      penalties.push({ fn: "l1", coefficient, layers });
    }
    return penalties;
  }

  /** Layers whose output never reaches the logits are computed for nothing. */
  private warnUnusedLayers(logits: string): void {
    const byName = new Map(this.layers.map((l) => [l.name, l]));
    const used = new Set<string>();
    for (let name: string | undefined = logits; name && !used.has(name); name = byName.get(name)?.source) used.add(name);
    for (const layer of this.layers) {
      if (layer.name !== "" && !used.has(layer.name) && byName.get(layer.name) === layer) {
        this.diagnostics.report("unusedLayer", layer.decl.name.span, { layer: layer.name, logits });
      }
    }
  }

  private trainFacts(layers: CheckedLayer[]) {
    return {
      inputName: this.input?.name ?? "",
      inputWidth: this.input?.width,
      targetName: this.target?.name ?? "",
      classes: this.target?.classes,
      layers,
    };
  }
}

/**
 * Checks a program, adding to `diagnostics` (which may already hold syntax errors: the
 * model is returned only when the bag has no errors at all).
 */
export function checkProgram(program: Program, diagnostics: DiagnosticBag, methods: MethodTable): CheckedModel | undefined {
  if (!program.model) {
    diagnostics.report("missingModel", { start: program.span.start, end: program.span.start });
    checkTrain(program.train, { inputName: "", targetName: "", layers: [] }, diagnostics, methods);
    return undefined;
  }
  return new ModelChecker(diagnostics, methods).check(program.model, program);
}
