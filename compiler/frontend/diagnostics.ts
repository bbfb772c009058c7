/**
 * @fileoverview Diagnostics: creation from the message table, collection, ordering and
 * printing (`file:line:col: error CODE: message`, the source line, a caret underline).
 */
import type { Span } from "./ast.js";
import { Messages, type DiagnosticMessage, type MessageId, type Severity } from "./diagnostic-messages.js";
import { displayUnit, escapeForTerminal, quoteForMessage } from "./display-text.js";
import type { SourceText } from "./source-text.js";

/**
 * A file keeps at most this many errors and as many warnings; past that one notice says
 * so (CD1009 / CD4005). Bounds memory and output on hostile input (1 MB of random text
 * holds ~80,000 lexing errors) while leaving far more than anyone reads.
 */
export const MAX_RECORDED_DIAGNOSTICS = 1000;
/** How many diagnostics of one file `formatDiagnostics` prints unless told otherwise. */
export const DEFAULT_PRINTED_DIAGNOSTICS = 100;
/** Source lines longer than this are echoed as a window around the caret. */
export const MAX_ECHOED_LINE = 120;
/** Longest piece of user text (a name, a number) quoted inside a message. */
const MAX_QUOTED_ARGUMENT = 100;

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

/** Fills `{key}`s; text arguments are clipped and escaped (they may come from the file). */
export function formatTemplate(template: string, args: MessageArgs): string {
  return template.replace(/\{(\w+)\}/g, (whole, key: string) => {
    if (!(key in args)) return whole;
    const value = args[key];
    return typeof value === "string" ? quoteForMessage(value, MAX_QUOTED_ARGUMENT) : String(value);
  });
}

/** The notice that ends a list whose errors or warnings went past the limit. */
const OVERFLOW_NOTICE: Record<Severity, MessageId> = { error: "tooManyErrors", warning: "tooManyWarnings" };
const NOTICE_CODES = new Set(Object.values(OVERFLOW_NOTICE).map((id) => Messages[id].code));

/** True for the CD1009 / CD4005 notices `DiagnosticBag.withOverflowNotices` appends. */
export function isOverflowNotice(diagnostic: Diagnostic): boolean {
  return NOTICE_CODES.has(diagnostic.code);
}

/**
 * Collects the diagnostics of one file: at most `MAX_RECORDED_DIAGNOSTICS` errors and as
 * many warnings; the rest are only counted.
 */
export class DiagnosticBag {
  readonly items: Diagnostic[] = [];
  private readonly recorded: Record<Severity, number> = { error: 0, warning: 0 };
  private readonly dropped: Record<Severity, number> = { error: 0, warning: 0 };

  constructor(
    readonly file: string,
    private readonly limit = MAX_RECORDED_DIAGNOSTICS,
  ) {}

  /**
   * Reports `id` at `span`; `suggestion` becomes "; did you mean 'x'?". Returns the
   * diagnostic, which is recorded only while the bag holds fewer than its limit of that
   * severity (otherwise it is only counted).
   */
  report(id: MessageId, span: Span, args: MessageArgs = {}, suggestion?: string): Diagnostic {
    return this.reportMessage(Messages[id], span, args, suggestion);
  }

  /** Reports a message that is not in the generic table (a method's own). */
  reportMessage(entry: DiagnosticMessage, span: Span, args: MessageArgs = {}, suggestion?: string): Diagnostic {
    let message = formatTemplate(entry.template, args);
    if (suggestion !== undefined) message += `; did you mean '${quoteForMessage(suggestion, MAX_QUOTED_ARGUMENT)}'?`;
    const diagnostic: Diagnostic = { code: entry.code, severity: entry.severity, message, file: this.file, span };
    if (this.recorded[entry.severity] >= this.limit) {
      this.dropped[entry.severity]++;
    } else {
      this.items.push(diagnostic);
      this.recorded[entry.severity]++;
    }
    return diagnostic;
  }

  /** True once no more diagnostics of `severity` are recorded: costly suggestions can be skipped. */
  isFull(severity: Severity): boolean {
    return this.recorded[severity] >= this.limit;
  }

  get errorCount(): number {
    return this.recorded.error + this.dropped.error;
  }

  get hasErrors(): boolean {
    return this.errorCount > 0;
  }

  /** `sorted` (this bag's items in order) followed by a notice per severity that overflowed, at `end`. */
  withOverflowNotices(sorted: Diagnostic[], end: Span): Diagnostic[] {
    const notices: Diagnostic[] = [];
    for (const severity of ["error", "warning"] as const) {
      if (this.dropped[severity] === 0) continue;
      const entry = Messages[OVERFLOW_NOTICE[severity]];
      const args = { limit: this.limit.toLocaleString("en-US"), dropped: this.dropped[severity].toLocaleString("en-US") };
      notices.push({ code: entry.code, severity, message: formatTemplate(entry.template, args), file: this.file, span: end });
    }
    return notices.length === 0 ? sorted : sorted.concat(notices);
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

/** The echoed source line and the caret line under it, as printed after the gutter. */
interface EchoedLine {
  text: string;
  underline: string;
}

/**
 * The part of `line` a diagnostic at 0-based [start, end) shows: at most `MAX_ECHOED_LINE`
 * code units around the caret ("..." where cut), control characters escaped (the caret
 * moves with them), tabs kept so the caret lines up under tab-indented text.
 */
export function echoLine(line: string, start: number, end: number): EchoedLine {
  const caret = Math.min(Math.max(0, start), line.length);
  let from = 0;
  let to = line.length;
  if (line.length > MAX_ECHOED_LINE) {
    from = Math.max(0, Math.min(caret - Math.floor(MAX_ECHOED_LINE / 3), line.length - MAX_ECHOED_LINE));
    to = from + MAX_ECHOED_LINE;
    // Never start or stop inside a surrogate pair.
    if (from > 0 && /[\udc00-\udfff]/.test(line[from])) from--;
    if (to < line.length && /[\udc00-\udfff]/.test(line[to])) to++;
  }
  let text = from > 0 ? "..." : "";
  let padding = from > 0 ? "   " : "";
  let marked = 0;
  for (let i = from; i < to; ) {
    const [shown, consumed] = displayUnit(line, i);
    text += shown;
    if (i < caret) padding += shown === "\t" ? "\t" : " ".repeat(shown.length);
    else if (i < end) marked += shown.length;
    i += consumed;
  }
  if (to < line.length) text += "...";
  const width = Math.max(1, marked);
  return { text, underline: `${padding}^${"~".repeat(width - 1)}` };
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
  const file = escapeForTerminal(diagnostic.file);
  const header = `${file}:${span.start.line}:${span.start.column}: ${diagnostic.severity} ${diagnostic.code}: ${escapeForTerminal(diagnostic.message)}`;
  const lineText = source.lineText(span.start.line);
  const start = span.start.column - 1;
  const end = span.end.line === span.start.line ? span.end.column - 1 : lineText.length;
  const echoed = echoLine(lineText, start, end);
  const gutter = String(span.start.line);
  const blank = " ".repeat(gutter.length);
  return `${header}\n ${gutter} | ${echoed.text}\n ${blank} | ${echoed.underline}`;
}

/**
 * The first `limit` diagnostics as printed, then one line saying how many were left out;
 * an overflow notice (CD1009 / CD4005) is printed even when it falls past the limit.
 */
export function formatDiagnostics(diagnostics: Diagnostic[], source: SourceText, limit = DEFAULT_PRINTED_DIAGNOSTICS): string {
  const shown: string[] = [];
  let omitted = 0;
  const notices: string[] = [];
  for (const diagnostic of diagnostics) {
    if (shown.length < limit) shown.push(formatDiagnostic(diagnostic, source));
    else if (isOverflowNotice(diagnostic)) notices.push(formatDiagnostic(diagnostic, source));
    else omitted++;
  }
  if (omitted > 0) {
    const file = escapeForTerminal(diagnostics[0]?.file ?? "");
    shown.push(`... ${omitted.toLocaleString("en-US")} more diagnostic${omitted === 1 ? "" : "s"} in ${file} not shown (printed: the first ${limit})`);
  }
  return shown.concat(notices).join("\n");
}

/** "2 errors, 1 warning" (overflow notices are not counted) */
export function summarize(diagnostics: Diagnostic[]): string {
  let errors = 0;
  let warnings = 0;
  for (const d of diagnostics) {
    if (isOverflowNotice(d)) continue;
    if (d.severity === "error") errors++;
    else warnings++;
  }
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
  return `${plural(errors, "error")}, ${plural(warnings, "warning")}`;
}
