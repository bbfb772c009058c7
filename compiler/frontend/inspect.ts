/**
 * @fileoverview What `condc inspect` (and the playground's inspect panel) shows of a checked
 * model: the cost model of every layer and of the whole model, with its input and target.
 * Presentation (the table, the JSON fields) is `cli/inspect-format.ts`.
 */
import { modelCost, type ModelCost } from "./cost.js";
import type { CheckedModel } from "./model.js";
import type { MethodTable } from "./method-table.js";

export interface InspectReport extends ModelCost {
  input: CheckedModel["input"];
  target: CheckedModel["target"];
}

export function inspectModel(model: CheckedModel, methods: MethodTable): InspectReport {
  return { ...modelCost(model, methods), input: model.input, target: model.target };
}
