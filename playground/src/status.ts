/**
 * @fileoverview The status line in the top bar: what the page is doing, or the last error.
 */
export type StatusKind = "info" | "busy" | "error";

export class Status {
  constructor(private readonly root: HTMLElement) {}

  set(text: string, kind: StatusKind = "info"): void {
    this.root.textContent = text;
    this.root.dataset["kind"] = kind;
  }
}
