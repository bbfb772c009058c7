/**
 * @fileoverview Diagnostics: creation from the message table, collection, ordering and
 * printing (`file:line:col: error CODE: message`, the source line, a caret underline).
 */
import type { Span } from "./ast.js";
import { Messages, type DiagnosticMessage, type MessageId, type Severity } from "./diagnostic-messages.js";
import type { SourceText } from "./source-text.js";

export type { Severity } from "./diagnostic-messages.js";

export interface Diagnostic {
  code: string;
  severity: Severity;
  message: string;
  file: string;
  span: Span;
}

/** The JSON shape `condc check --format json` prints. */
export interface DiagnosticJson {
  code: string;
  severity: Severity;
  message: string;
  file: string;
  line: number;
  column: number;
  endLine: number;
  endColumn: number;
}

export type MessageArgs = Record<string, string | number>;

export function formatTemplate(template: string, args: MessageArgs): string {
  return template.replace(/\{(\w+)\}/g, (whole, key: string) => (key in args ? String(args[key]) : whole));
}

/** Collects the diagnostics of one file. */
export class DiagnosticBag {
  readonly items: Diagnostic[] = [];

  constructor(readonly file: string) {}

  /** Reports `id` at `span`; `suggestion` becomes "; did you mean 'x'?". */
  report(id: MessageId, span: Span, args: MessageArgs = {}, suggestion?: string): Diagnostic {
    return this.reportMessage(Messages[id], span, args, suggestion);
  }

  /** Reports a message that is not in the generic table (a method's own). */
  reportMessage(entry: DiagnosticMessage, span: Span, args: MessageArgs = {}, suggestion?: string): Diagnostic {
    let message = formatTemplate(entry.template, args);
    if (suggestion !== undefined) message += `; did you mean '${suggestion}'?`;
    const diagnostic: Diagnostic = { code: entry.code, severity: entry.severity, message, file: this.file, span };
    this.items.push(diagnostic);
    return diagnostic;
  }

  get hasErrors(): boolean {
    return this.items.some((d) => d.severity === "error");
  }
}

/** Source order, then code; stable, so equal positions keep the order they were found in. */
export function sortDiagnostics(diagnostics: Diagnostic[]): Diagnostic[] {
  return [...diagnostics].sort(
    (a, b) => a.span.start.offset - b.span.start.offset || a.code.localeCompare(b.code),
  );
}

export function toJson(diagnostic: Diagnostic): DiagnosticJson {
  const { code, severity, message, file, span } = diagnostic;
  return {
    code,
    severity,
    message,
    file,
    line: span.start.line,
    column: span.start.column,
    endLine: span.end.line,
    endColumn: span.end.column,
  };
}

/** Width of the underline: the span on its first line, at least one character. */
function underlineWidth(span: Span, lineLength: number): number {
  const end = span.end.line === span.start.line ? span.end.column : lineLength + 1;
  return Math.max(1, end - span.start.column);
}

/**
 * One diagnostic as printed:
 *
 *     model.cond:5:14: error CD2003: unknown layer kind 'dens'; did you mean 'dense'?
 *         5 |   layer h1 = dens(x, 10)
 *           |              ^~~~
 */
export function formatDiagnostic(diagnostic: Diagnostic, source: SourceText): string {
  const { span } = diagnostic;
  const header = `${diagnostic.file}:${span.start.line}:${span.start.column}: ${diagnostic.severity} ${diagnostic.code}: ${diagnostic.message}`;
  const lineText = source.lineText(span.start.line);
  const gutter = String(span.start.line);
  const blank = " ".repeat(gutter.length);
  // Keep tabs so the caret lines up under tab-indented text.
  const padding = lineText.slice(0, span.start.column - 1).replace(/[^\t]/g, " ");
  const width = underlineWidth(span, lineText.length);
  const underline = `^${"~".repeat(width - 1)}`;
  return `${header}\n ${gutter} | ${lineText}\n ${blank} | ${padding}${underline}`;
}

export function formatDiagnostics(diagnostics: Diagnostic[], source: SourceText): string {
  return diagnostics.map((d) => formatDiagnostic(d, source)).join("\n");
}

/** "2 errors, 1 warning" */
export function summarize(diagnostics: Diagnostic[]): string {
  const errors = diagnostics.filter((d) => d.severity === "error").length;
  const warnings = diagnostics.length - errors;
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
  return `${plural(errors, "error")}, ${plural(warnings, "warning")}`;
}
