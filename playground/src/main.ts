/**
 * @fileoverview The playground page: wires the editor (checked as you type), the panels
 * (inspect, train, gates, speed, keep), the examples menu, the model in the URL hash, and IDX
 * files dropped on the page. Presentation only: everything it computes comes from condc's
 * compiler and runtime.
 */
import "./style.css";
import { createEditor } from "./editor/editor.js";
import { EXAMPLES, exampleSource } from "./examples.js";
import { decodeSourceHash, encodeSourceHash } from "./share.js";
import { DataStore } from "./data/data-store.js";
import { Session } from "./session.js";
import { Status } from "./status.js";
import { InspectPanel } from "./panels/inspect-panel.js";
import { GatesPanel } from "./panels/gates-panel.js";
import { TrainPanel } from "./panels/train-panel.js";
import { KeepPanel } from "./panels/keep-panel.js";
import { SpeedPanel } from "./speed/speed-panel.js";
import { el, messageOf } from "./ui.js";

const byId = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;

/** Quiet time after the last check before the URL follows the text. */
const HASH_DELAY_MS = 250;

async function start(): Promise<void> {
  const status = new Status(byId("status"));
  const isolation = byId("isolation");
  isolation.textContent = crossOriginIsolated ? "cross-origin isolated: shared memory" : "not cross-origin isolated: no shared memory";
  isolation.dataset["isolated"] = String(crossOriginIsolated);

  const store = new DataStore();
  store.bundled.catch((error) => status.set(`bundled digits: ${messageOf(error)}`, "error"));
  const session = new Session();
  const inspect = new InspectPanel(byId("inspect"));
  const gates = new GatesPanel(byId("gates-panel"));
  const train = new TrainPanel(byId("train-panel"), session, store, status, gates);
  const settings = () => train.currentSettings();
  const speed = new SpeedPanel(byId("speed-panel"), session, status, () => settings().seed, () => train.chosenData());
  const keep = new KeepPanel(byId("keep-panel"), session, status, () => settings().batch, () => settings().seed, async () => {
    const loaded = session.loaded;
    const data = train.chosenData();
    if (loaded && typeof data !== "string") await gates.showDecisions(loaded.handle, data.test);
  });

  const examples = byId<HTMLSelectElement>("examples");
  // The page names the example a visitor without a link sees (index.html).
  let initial = exampleSource(examples.dataset["default"] ?? "") ?? EXAMPLES[0]!.source;
  try {
    initial = (await decodeSourceHash(location.hash)) ?? initial;
  } catch (error) {
    status.set(`${messageOf(error)}; showing the default example`, "error");
  }

  let hashTimer: ReturnType<typeof setTimeout> | undefined;
  const followHash = (text: string): void => {
    if (hashTimer !== undefined) clearTimeout(hashTimer);
    hashTimer = setTimeout(() => {
      void encodeSourceHash(text).then((hash) => {
        if (hash !== location.hash) history.replaceState(null, "", hash);
      });
    }, HASH_DELAY_MS);
  };

  examples.append(el("option", { textContent: "(your model)", attrs: { value: "" } }), ...EXAMPLES.map((e) => el("option", { textContent: e.name, attrs: { value: e.name } })));
  const matchExample = (text: string) => (examples.value = EXAMPLES.find((e) => e.source === text)?.name ?? "");

  const editor = createEditor({
    parent: byId("editor"),
    list: byId<HTMLOListElement>("diagnostics"),
    initial,
    onChecked(result, text) {
      const model = result.model ?? null;
      inspect.show(model);
      if (model) {
        session.setSource(text);
        keep.modelName = model.name;
      }
      train.modelChecked(model);
      speed.enabled = model !== null;
      matchExample(text);
      followHash(text);
    },
  });
  examples.addEventListener("change", () => {
    const source = exampleSource(examples.value);
    if (source !== undefined) editor.setText(source);
  });
  window.addEventListener("hashchange", () => {
    void decodeSourceHash(location.hash).then(
      (text) => text !== null && text !== editor.text() && editor.setText(text),
      (error) => status.set(messageOf(error), "error"),
    );
  });
  byId("share").addEventListener("click", () => {
    void encodeSourceHash(editor.text()).then(async (hash) => {
      history.replaceState(null, "", hash);
      try {
        await navigator.clipboard.writeText(location.href);
        status.set("link copied: it reproduces this model");
      } catch {
        status.set("the link is in the address bar (the clipboard is not available here)");
      }
    });
  });
  document.addEventListener("dragover", (event) => event.preventDefault());
  document.addEventListener("drop", (event) => {
    event.preventDefault();
    void train.addFiles([...(event.dataTransfer?.files ?? [])]);
  });

  status.set("loading the bundled digits…", "busy");
  await store.bundled.then(() => status.set("ready"), () => undefined);
  document.body.dataset["ready"] = "true";
}

void start();
