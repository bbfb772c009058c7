/**
 * @fileoverview A source file's text with a line table: turns offsets into 1-based
 * line/column positions and hands out lines for diagnostics.
 */
import type { Position, Span } from "./ast.js";

export class SourceText {
  private readonly lineStarts: number[] = [0];

  constructor(readonly text: string) {
    for (let i = 0; i < text.length; i++) {
      const ch = text.charCodeAt(i);
      if (ch === 10 /* \n */) this.lineStarts.push(i + 1);
      else if (ch === 13 /* \r */ && text.charCodeAt(i + 1) !== 10) this.lineStarts.push(i + 1);
    }
  }

  get lineCount(): number {
    return this.lineStarts.length;
  }

  /** The position of `offset`, clamped into [0, text.length]. */
  positionAt(offset: number): Position {
    const clamped = Number.isFinite(offset) ? Math.max(0, Math.min(this.text.length, Math.floor(offset))) : this.text.length;
    let low = 0;
    let high = this.lineStarts.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if (this.lineStarts[mid] <= clamped) low = mid;
      else high = mid - 1;
    }
    return { offset: clamped, line: low + 1, column: clamped - this.lineStarts[low] + 1 };
  }

  /** The span [start, end) of two offsets. */
  span(startOffset: number, endOffset: number): Span {
    const start = this.positionAt(startOffset);
    const end = this.positionAt(Math.max(start.offset, endOffset));
    return { start, end };
  }

  /** An empty span at the end of the text, where "unexpected end of file" points. */
  endSpan(): Span {
    return this.span(this.text.length, this.text.length);
  }

  /** Line `line` (1-based) without its line break; "" past the end. */
  lineText(line: number): string {
    if (line < 1 || line > this.lineStarts.length) return "";
    const start = this.lineStarts[line - 1];
    const next = line < this.lineStarts.length ? this.lineStarts[line] : this.text.length;
    return this.text.slice(start, next).replace(/\r?\n$|\r$/, "");
  }
}
