/**
 * @fileoverview Text that came from a user (source lines, names, paths) made safe to print
 * to a terminal: control and bidirectional-override characters escaped, long text clipped
 * without splitting a surrogate pair.
 */

/**
 * C0 controls but tab (and newline when kept), DEL, C1 controls (U+0080-U+009F include the
 * one-byte CSI), the bidirectional controls that reorder what a reader sees, zero-width
 * characters and the byte-order mark (invisible), line separators, lone surrogates.
 */
const UNSAFE = /[\x00-\x08\x0a-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2060\u2066-\u2069\u2028\u2029\ufeff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const UNSAFE_KEEPING_NEWLINES = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2060\u2066-\u2069\u2028\u2029\ufeff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** `\u001b`: valid inside a JSON string and readable on a terminal. */
export function escapeCodeUnit(unit: string): string {
  return `\\u${unit.charCodeAt(0).toString(16).padStart(4, "0")}`;
}

/** Escapes what a terminal would act on instead of showing; `keepNewlines` leaves `\n` alone. */
export function escapeForTerminal(text: string, keepNewlines = false): string {
  return text.replace(keepNewlines ? UNSAFE_KEEPING_NEWLINES : UNSAFE, escapeCodeUnit);
}

/**
 * One character of a line as a terminal should show it: [shown text, code units consumed].
 * A surrogate pair stays whole; an unsafe unit becomes its `\uXXXX` escape.
 */
export function displayUnit(line: string, index: number): [string, number] {
  const code = line.charCodeAt(index);
  if (isHighSurrogate(code) && index + 1 < line.length && isLowSurrogate(line.charCodeAt(index + 1))) {
    return [line.slice(index, index + 2), 2];
  }
  return [escapeForTerminal(line[index]), 1];
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

/** The first `max` code units of `text`, one fewer when that would split a surrogate pair. */
export function safePrefix(text: string, max: number): string {
  if (text.length <= max) return text;
  const end = max > 0 && isHighSurrogate(text.charCodeAt(max - 1)) ? max - 1 : max;
  return text.slice(0, Math.max(0, end));
}

/** `text` cut to at most `max` code units (plus "..."), never inside a surrogate pair. */
export function clipText(text: string, max: number): string {
  return text.length <= max ? text : `${safePrefix(text, max)}...`;
}

/** Clipped, then escaped: for a piece of user text quoted inside a one-line message. */
export function quoteForMessage(text: string, max = 64): string {
  return escapeForTerminal(clipText(text, max));
}

/** The whole character (code point) at `index`, a surrogate pair included. */
export function characterAt(text: string, index: number): string {
  const code = text.codePointAt(index);
  return code === undefined ? "" : String.fromCodePoint(code);
}
