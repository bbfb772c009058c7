/**
 * @fileoverview The package's public compiler API (`import { compile } from "condc"`).
 */
export { compile, InternalCompilerError } from "./compile.js";
export type { CompileOptions, CompileResult, CompileSuccess, CompileFailure } from "./compile.js";
export { checkSource } from "./frontend.js";
export type { FrontendResult } from "./frontend.js";
export { formatDiagnostic, formatDiagnostics, toJson } from "./diagnostics.js";
export type { Diagnostic, DiagnosticJson } from "./diagnostics.js";
export type { CheckedModel } from "./model.js";
export type { Manifest } from "../runtime/manifest.js";
export { COMPILER_VERSION } from "./version.js";
