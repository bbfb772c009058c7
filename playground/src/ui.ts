/**
 * @fileoverview Small DOM helpers and number formats shared by the panels.
 */
type Child = Node | string;

interface Props {
  className?: string;
  title?: string;
  textContent?: string;
  dataset?: Record<string, string>;
  attrs?: Record<string, string>;
}

/** Creates an element with properties and children. */
export function el<K extends keyof HTMLElementTagNameMap>(tag: K, props: Props = {}, children: Child[] = []): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (props.className) node.className = props.className;
  if (props.title) node.title = props.title;
  if (props.textContent !== undefined) node.textContent = props.textContent;
  for (const [k, v] of Object.entries(props.dataset ?? {})) node.dataset[k] = v;
  for (const [k, v] of Object.entries(props.attrs ?? {})) node.setAttribute(k, v);
  node.append(...children);
  return node;
}

export const formatCount = (n: number): string => Math.round(n).toLocaleString("en-US");

/** 3 significant digits, no exponent for ordinary sizes. */
export function formatRatio(n: number): string {
  if (!Number.isFinite(n)) return "–";
  if (n >= 100) return n.toFixed(0);
  if (n >= 10) return n.toFixed(1);
  return n.toFixed(2);
}

/** The message of anything thrown, for the status line. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
