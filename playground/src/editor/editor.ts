/**
 * @fileoverview The model editor: CodeMirror 6 with condc's highlighting, and diagnostics as you
 * type: `checkSource` (the compiler's front end, milliseconds) runs shortly after the last
 * keystroke; each diagnostic is a squiggle at its exact span whose hover shows `CODE: message`
 * (with the "did you mean"), and a row in the list under the editor (`data-code`, click to jump).
 */
import { EditorState } from "@codemirror/state";
import { EditorView, drawSelection, highlightActiveLine, highlightActiveLineGutter, keymap, lineNumbers } from "@codemirror/view";
import { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
import { bracketMatching } from "@codemirror/language";
import { lintGutter, setDiagnostics, type Diagnostic as LintDiagnostic } from "@codemirror/lint";
import { checkSource, type FrontendResult } from "../../../compiler/frontend/frontend.js";
import type { Diagnostic } from "../../../compiler/frontend/diagnostics.js";
import { condHighlighting } from "./highlight.js";

/** Quiet time after the last keystroke before checking (the check itself takes milliseconds). */
const CHECK_DELAY_MS = 120;
export const FILE_NAME = "model.cond";

export interface ModelEditor {
  view: EditorView;
  text(): string;
  /** Replaces the whole text (an example, a link) and checks it at once. */
  setText(text: string): void;
}

export interface EditorOptions {
  parent: HTMLElement;
  list: HTMLOListElement;
  initial: string;
  /** After every check, with the text that was checked. */
  onChecked(result: FrontendResult, text: string): void;
}

function lintDiagnostic(d: Diagnostic, length: number): LintDiagnostic {
  const from = Math.min(d.span.start.offset, length);
  return { from, to: Math.max(from, Math.min(d.span.end.offset, length)), severity: d.severity, message: `${d.code}: ${d.message}` };
}

function renderList(list: HTMLOListElement, diagnostics: Diagnostic[], view: EditorView): void {
  list.replaceChildren(
    ...diagnostics.map((d) => {
      const item = document.createElement("li");
      item.className = `diagnostic ${d.severity}`;
      item.dataset["code"] = d.code;
      item.dataset["line"] = String(d.span.start.line);
      item.dataset["column"] = String(d.span.start.column);
      item.dataset["severity"] = d.severity;
      const where = document.createElement("span");
      where.className = "where";
      where.textContent = `${d.span.start.line}:${d.span.start.column}`;
      const code = document.createElement("span");
      code.className = "code";
      code.textContent = d.code;
      item.append(where, " ", code, " ", d.message);
      item.title = "go to this place";
      item.addEventListener("click", () => {
        const length = view.state.doc.length;
        view.dispatch({ selection: { anchor: Math.min(d.span.start.offset, length), head: Math.min(d.span.end.offset, length) }, scrollIntoView: true });
        view.focus();
      });
      return item;
    }),
  );
}

export function createEditor(options: EditorOptions): ModelEditor {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const check = (): void => {
    timer = undefined;
    const text = view.state.doc.toString();
    const result = checkSource(text, FILE_NAME);
    view.dispatch(setDiagnostics(view.state, result.diagnostics.map((d) => lintDiagnostic(d, text.length))));
    renderList(options.list, result.diagnostics, view);
    options.onChecked(result, text);
  };
  const schedule = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(check, CHECK_DELAY_MS);
  };
  const view = new EditorView({
    parent: options.parent,
    state: EditorState.create({
      doc: options.initial,
      extensions: [
        lineNumbers(),
        highlightActiveLineGutter(),
        highlightActiveLine(),
        history(),
        drawSelection(),
        bracketMatching(),
        lintGutter(),
        keymap.of([...defaultKeymap, ...historyKeymap, indentWithTab]),
        condHighlighting,
        EditorView.lineWrapping,
        EditorView.contentAttributes.of({ "aria-label": "model source", spellcheck: "false" }),
        EditorView.updateListener.of((update) => update.docChanged && schedule()),
      ],
    }),
  });
  check();
  return {
    view,
    text: () => view.state.doc.toString(),
    setText(text: string) {
      view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } });
      if (timer !== undefined) clearTimeout(timer);
      check();
    },
  };
}
