/**
 * @fileoverview The package's public compiler API (`import { compile } from "condc"`).
 */
export { compile, InternalCompilerError } from "./compile.js";
export type { CompileOptions, CompileResult, CompileSuccess, CompileFailure } from "./compile.js";
export { checkSource, registerMethod } from "./frontend/frontend.js";
export type { MethodUnit, EmitLayer, EmitContext, CheckLayerContext, MethodCost, ParamRequest, RegionRequest } from "../methods/unit.js";
export { defineMethod } from "../methods/unit.js";
export type { FrontendResult } from "./frontend/frontend.js";
export { formatDiagnostic, formatDiagnostics, toJson } from "./frontend/diagnostics.js";
export type { Diagnostic, DiagnosticJson } from "./frontend/diagnostics.js";
export type { CheckedModel } from "./frontend/model.js";
export type { Manifest } from "../runtime/manifest.js";
export { COMPILER_VERSION } from "./version.js";
