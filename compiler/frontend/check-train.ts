/**
 * @fileoverview Checks the `train` block and fills in defaults: dataset (and its shape
 * against the model), optimizer, REINFORCE settings, batch, epochs, seed, schedule.
 */
import type { CallValue, TrainBlock, TrainSetting, Value } from "./ast.js";
import type { DiagnosticBag } from "./diagnostics.js";
import { Messages, type DiagnosticMessage, type MessageId } from "./diagnostic-messages.js";
import {
  ADAM_DEFAULTS,
  DATASETS,
  defaultTrainConfig,
  IDX_CALL,
  MAX_COUNT,
  MAX_SEED,
  OPTIMIZERS,
  SCHEDULES,
  SGD_DEFAULTS,
  TRAIN_SETTINGS,
} from "./language-spec.js";
import type { CheckedLayer, DatasetSpec, OptimizerSpec, TrainConfig } from "./model.js";
import { describeValue, isPoisoned, numberOption, readCall, readValue, type CallSpec } from "./options.js";
import type { MethodTable } from "./method-table.js";
import type { TrainSettingSpec } from "../../methods/unit.js";
import { suggest } from "./suggest.js";

/** What the train checks need to know about the model. */
export interface TrainFacts {
  inputName: string;
  inputWidth?: number;
  targetName: string;
  classes?: number;
  /** The checked layers: the settings their methods need, and their methods' warnings. */
  layers: CheckedLayer[];
}

/** `mnist` and `sgd` both read as calls with no arguments; numbers and strings do not. */
function asCall(value: Value): CallValue | undefined {
  if (value.kind === "call") return value;
  if (value.kind === "name" && value.name !== "") {
    return { kind: "call", callee: { name: value.name, span: value.span }, args: [], options: [], span: value.span };
  }
  return undefined;
}

class TrainChecker {
  constructor(
    private readonly diagnostics: DiagnosticBag,
    private readonly facts: TrainFacts,
    private readonly methods: MethodTable,
  ) {}

  check(block: TrainBlock | undefined): TrainConfig {
    const config = defaultTrainConfig();
    const settings = new Map<string, TrainSetting>();
    for (const setting of block?.settings ?? []) {
      const name = setting.name.name;
      if (name === "") continue;
      const known = [...TRAIN_SETTINGS, ...this.methods.settings.map((m) => m.name)];
      if (!known.includes(name)) {
        this.diagnostics.report("unknownSetting", setting.name.span, { name }, suggest(name, known));
      } else if (settings.has(name)) {
        const line = settings.get(name)?.span.start.line ?? 0;
        this.diagnostics.report("duplicateSetting", setting.name.span, { name, line });
      } else {
        settings.set(name, setting);
      }
    }
    const value = (name: string) => settings.get(name)?.value;
    const data = value("data");
    if (data) config.data = this.dataset(data) ?? config.data;
    const optimizer = value("optimizer");
    if (optimizer) config.optimizer = this.optimizer(optimizer) ?? config.optimizer;
    config.batch = this.integer(value("batch"), "batch", 1, MAX_COUNT, config.batch);
    config.epochs = this.integer(value("epochs"), "epochs", 1, MAX_COUNT, config.epochs);
    config.seed = this.integer(value("seed"), "seed", 0, MAX_SEED, config.seed);
    const schedule = value("schedule");
    if (schedule) config.schedule = this.schedule(schedule) ?? config.schedule;
    this.methodSettings(config, value);
    this.methodWarnings(config, optimizer);
    return config;
  }

  private integer(value: Value | undefined, name: string, min: number, ceiling: number, fallback: number): number {
    if (!value) return fallback;
    const read = readValue(value, { name, kind: "integer", min, ceiling }, `setting '${name}'`, this.diagnostics);
    return typeof read === "number" ? read : fallback;
  }

  /** Resolves `name(...)` against a table of call forms; reports unknown callees. */
  private call(value: Value, table: Record<string, CallSpec>, unknown: MessageId | DiagnosticMessage, what: string) {
    if (isPoisoned(value)) return undefined;
    const call = asCall(value);
    if (!call) {
      const expected = `one of ${Object.keys(table).join(", ")}`;
      this.diagnostics.report("wrongValueType", value.span, { what, expected, got: describeValue(value) });
      return undefined;
    }
    const callee = call.callee.name;
    const spec = table[callee];
    if (!spec || !Object.hasOwn(table, callee)) {
      const message = typeof unknown === "string" ? Messages[unknown] : unknown;
      this.diagnostics.reportMessage(message, call.callee.span, { name: callee }, suggest(callee, Object.keys(table)));
      return undefined;
    }
    return { callee, values: readCall(call, spec, `'${callee}'`, this.diagnostics) };
  }

  private dataset(value: Value): DatasetSpec | undefined {
    const table: Record<string, CallSpec> = { mnist: { positional: [], options: [] }, fashion_mnist: { positional: [], options: [] }, idx: IDX_CALL };
    const read = this.call(value, table, "unknownDataset", "setting 'data'");
    if (!read) return undefined;
    if (read.callee === "idx") {
      const dir = read.values.get("dir");
      return typeof dir === "string" ? { kind: "idx", dir } : undefined;
    }
    const kind = read.callee as keyof typeof DATASETS;
    this.checkDatasetShape(kind, value);
    return { kind };
  }

  private checkDatasetShape(kind: keyof typeof DATASETS, value: Value): void {
    const shape = DATASETS[kind];
    const { inputWidth, classes } = this.facts;
    if (inputWidth !== undefined && inputWidth !== shape.width) {
      const args = { data: kind, width: shape.width, input: this.facts.inputName, inputWidth };
      this.diagnostics.report("datasetWidthMismatch", value.span, args);
    }
    if (classes !== undefined && classes !== shape.classes) {
      const args = { data: kind, classes: shape.classes, target: this.facts.targetName, targetClasses: classes };
      this.diagnostics.report("datasetClassMismatch", value.span, args);
    }
  }

  private optimizer(value: Value): OptimizerSpec | undefined {
    const read = this.call(value, OPTIMIZERS, "unknownOptimizer", "setting 'optimizer'");
    if (!read) return undefined;
    const v = read.values;
    if (read.callee === "adam") {
      return {
        kind: "adam",
        lr: numberOption(v, "lr", ADAM_DEFAULTS.lr),
        beta1: numberOption(v, "beta1", ADAM_DEFAULTS.beta1),
        beta2: numberOption(v, "beta2", ADAM_DEFAULTS.beta2),
        epsilon: numberOption(v, "epsilon", ADAM_DEFAULTS.epsilon),
        weightDecay: numberOption(v, "weight_decay", ADAM_DEFAULTS.weightDecay),
      };
    }
    return {
      kind: "sgd",
      lr: numberOption(v, "lr", SGD_DEFAULTS.lr),
      momentum: numberOption(v, "momentum", SGD_DEFAULTS.momentum),
      weightDecay: numberOption(v, "weight_decay", SGD_DEFAULTS.weightDecay),
    };
  }

  /** Settings owned by methods: read when written, defaults when a layer needs them, warned when unused. */
  private methodSettings(config: TrainConfig, value: (name: string) => Value | undefined): void {
    const needed = new Set(this.facts.layers.flatMap((l) => this.methods.get(l.method)?.needsSettings?.(l.options) ?? []));
    for (const spec of this.methods.settings) {
      const written = value(spec.name);
      const read = written ? this.methodSetting(spec, written) : undefined;
      if (written && !needed.has(spec.name)) this.diagnostics.reportMessage(spec.unused, written.span);
      if (needed.has(spec.name)) config.settings[spec.name] = read ?? spec.defaultValue();
    }
  }

  private methodSetting(spec: TrainSettingSpec, value: Value): unknown {
    const read = this.call(value, spec.calls, spec.unknownCall, `setting '${spec.name}'`);
    return read ? spec.read(read.callee, read.values) : undefined;
  }

  /** Each method's warnings about the optimizer (reported at the optimizer setting, when written). */
  private methodWarnings(config: TrainConfig, written: Value | undefined): void {
    if (!written) return;
    const reported = new Set<string>();
    for (const layer of this.facts.layers) {
      this.methods.get(layer.method)?.checkTrain?.(layer, config, (message: DiagnosticMessage, args) => {
        if (reported.has(message.code)) return;
        reported.add(message.code);
        this.diagnostics.reportMessage(message, written.span, args);
      });
    }
  }

  private schedule(value: Value): TrainConfig["schedule"] | undefined {
    const read = this.call(value, SCHEDULES, "unknownSchedule", "setting 'schedule'");
    if (!read) return undefined;
    if (read.callee === "constant") return { kind: "constant" };
    return { kind: "step", every: numberOption(read.values, "every", 1), factor: numberOption(read.values, "factor", 1) };
  }
}

/** The training configuration, defaults filled in; reports into `diagnostics`. */
export function checkTrain(block: TrainBlock | undefined, facts: TrainFacts, diagnostics: DiagnosticBag, methods: MethodTable): TrainConfig {
  return new TrainChecker(diagnostics, facts, methods).check(block);
}
