/**
 * @fileoverview Keeping the result: the current weights downloaded as safetensors (`download://`)
 * or saved in this browser (`indexeddb://`), and loaded back from a file or from IndexedDB, all
 * through the runtime's storage functions on the worker handle. A failed load (another shape, a
 * damaged file) names the problem and leaves the weights as they were.
 */
import { listSavedModels, loadWeights, removeSavedModel, saveModel } from "../../../runtime/storage/storage.js";
import type { Session } from "../session.js";
import type { Status } from "../status.js";
import { el, messageOf } from "../ui.js";

export class KeepPanel {
  private readonly name = el("input", { attrs: { type: "text", "aria-label": "name", "data-testid": "keep-name", spellcheck: "false" } });
  private readonly upload = el("input", { attrs: { type: "file", accept: ".safetensors", "data-testid": "upload", "aria-label": "upload a checkpoint" } });
  private readonly saved = el("select", { attrs: { "aria-label": "saved models", "data-testid": "saved-models" } });
  private readonly message = el("p", { className: "note", attrs: { "data-testid": "keep-message" } });

  constructor(root: HTMLElement, private readonly session: Session, private readonly status: Status, private readonly batch: () => number, private readonly seed: () => number, private readonly onLoaded: () => Promise<void>) {
    const button = (text: string, testId: string, action: () => Promise<void>) => {
      const b = el("button", { textContent: text, attrs: { type: "button", "data-testid": testId } });
      b.addEventListener("click", () => void this.run(action));
      return b;
    };
    root.append(
      el("h2", {}, ["keep ", el("small", {}, ["the weights, as safetensors"])]),
      el("div", { className: "row" }, [
        el("label", {}, ["name ", this.name]),
        button("download", "download-button", () => this.download()),
        el("label", { className: "file" }, ["upload… ", this.upload]),
      ]),
      el("div", { className: "row" }, [
        button("save in this browser", "save-button", () => this.save()),
        el("label", {}, ["saved ", this.saved]),
        button("load", "load-button", () => this.load()),
        button("delete", "delete-button", () => this.remove()),
      ]),
      this.message,
    );
    this.upload.addEventListener("change", () => void this.run(() => this.fromFile()));
    this.name.addEventListener("input", () => (this.name.dataset["edited"] = "1"));
    void this.refreshList();
  }

  /** The default name follows the model's name until the user types one. */
  set modelName(name: string) {
    if (!this.name.dataset["edited"]) this.name.value = name;
  }

  private async run(action: () => Promise<void>): Promise<void> {
    try {
      await action();
    } catch (error) {
      this.message.textContent = messageOf(error);
      this.status.set(messageOf(error), "error");
    }
  }

  private label(): string {
    const name = this.name.value.trim();
    if (name === "") throw new Error("give the weights a name first");
    return name;
  }

  private async handle() {
    this.session.assertIdle();
    return (await this.session.model(this.batch(), this.seed())).handle;
  }

  private async download(): Promise<void> {
    const info = await saveModel(await this.handle(), `download://${this.label()}`);
    this.message.textContent = `downloaded ${info.url.slice("download://".length)}.safetensors (${info.byteLength.toLocaleString("en-US")} bytes, step ${info.step})`;
  }

  private async save(): Promise<void> {
    const info = await saveModel(await this.handle(), `indexeddb://${this.label()}`);
    this.message.textContent = `saved ${info.url} (${info.byteLength.toLocaleString("en-US")} bytes, step ${info.step})`;
    await this.refreshList(info.url);
  }

  private async load(): Promise<void> {
    const url = this.saved.value;
    if (!url) throw new Error("nothing saved in this browser yet");
    const info = await loadWeights(await this.handle(), url);
    this.session.weightsChanged("loaded");
    this.message.textContent = `loaded ${url} (model ${info.model}, step ${info.step})${info.sameSource ? "" : "; saved from a different text of the model, with the same shapes"}`;
    await this.onLoaded();
  }

  private async remove(): Promise<void> {
    const url = this.saved.value;
    if (!url) return;
    await removeSavedModel(url);
    this.message.textContent = `deleted ${url}`;
    await this.refreshList();
  }

  private async fromFile(): Promise<void> {
    const file = this.upload.files?.[0];
    if (!file) return;
    this.upload.value = "";
    const handle = await this.handle();
    await handle.load(new Uint8Array(await file.arrayBuffer()), file.name);
    this.session.weightsChanged("loaded");
    this.message.textContent = `loaded ${file.name} (step ${handle.step})`;
    await this.onLoaded();
  }

  private async refreshList(select?: string): Promise<void> {
    let names: string[] = [];
    try {
      names = await listSavedModels();
    } catch (error) {
      this.message.textContent = `IndexedDB: ${messageOf(error)}`;
    }
    this.saved.replaceChildren(...names.map((url) => el("option", { textContent: url.slice("indexeddb://".length), attrs: { value: url } })));
    if (select) this.saved.value = select;
  }
}
