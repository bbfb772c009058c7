/**
 * @fileoverview The editor's syntax colors: a CodeMirror plugin marking every token with its
 * class from condc's own lexer (`token-classes.ts`), recomputed when the text changes.
 */
import { RangeSetBuilder } from "@codemirror/state";
import { Decoration, ViewPlugin, type DecorationSet, type EditorView, type ViewUpdate } from "@codemirror/view";
import { classifyTokens, type TokenClass } from "./token-classes.js";

const MARKS = new Map<TokenClass, Decoration>();
const mark = (cls: TokenClass): Decoration => {
  let m = MARKS.get(cls);
  if (!m) MARKS.set(cls, (m = Decoration.mark({ class: `tok-${cls}` })));
  return m;
};

function decorations(view: EditorView): DecorationSet {
  const builder = new RangeSetBuilder<Decoration>();
  let last = 0;
  for (const { from, to, cls } of classifyTokens(view.state.doc.toString())) {
    if (from < last || to <= from) continue; // overlapping error runs: the first wins
    builder.add(from, to, mark(cls));
    last = to;
  }
  return builder.finish();
}

/** The editor extension: recolors the document whenever it changes. */
export const condHighlighting = ViewPlugin.fromClass(
  class {
    decorations: DecorationSet;
    constructor(view: EditorView) {
      this.decorations = decorations(view);
    }
    update(update: ViewUpdate): void {
      if (update.docChanged) this.decorations = decorations(update.view);
    }
  },
  { decorations: (plugin) => plugin.decorations },
);
