/**
 * @fileoverview The data the train panel can use: the bundled digits (loaded at start) and IDX
 * files dropped on the page (e.g. Fashion-MNIST's four files, or one images/labels pair, which
 * is then split), read with the runtime's checked IDX loader (`loadIdxPair`).
 */
import type { DataSplit, Dataset } from "../../../runtime/data/dataset.js";
import { subset } from "../../../runtime/data/dataset.js";
import { DataError } from "../../../runtime/data/errors.js";
import { browserGunzip, isGzip } from "../../../runtime/data/gzip.js";
import { loadIdxPair } from "../../../runtime/data/idx.js";
import { stratifiedSplitIndices } from "../../../runtime/data/mnist-digits.js";
import { fetchBundledDigits } from "./bundled-digits.js";

export interface DataChoice {
  id: string;
  label: string;
  split: DataSplit;
}

const IMAGES_MAGIC = 0x803;
const LABELS_MAGIC = 0x801;
/** Seed of the split of a single dropped pair (a fixed one, so runs repeat). */
const DROPPED_SPLIT_SEED = 20150101;

interface DroppedFile {
  name: string;
  bytes: Uint8Array;
  kind: "images" | "labels";
  part: "train" | "test" | null;
}

async function magicOf(file: { name: string; bytes: Uint8Array }): Promise<number> {
  const head = isGzip(file.bytes) ? await browserGunzip(file.bytes, 4).catch(() => new Uint8Array(0)) : file.bytes.subarray(0, 4);
  if (head.length < 4) throw new DataError(file.name, "not an IDX file (too short, or a gzip file that does not inflate)");
  return new DataView(head.buffer, head.byteOffset, 4).getUint32(0, false);
}

async function classify(file: { name: string; bytes: Uint8Array }): Promise<DroppedFile> {
  const magic = await magicOf(file);
  if (magic !== IMAGES_MAGIC && magic !== LABELS_MAGIC) {
    throw new DataError(file.name, `not an MNIST-layout IDX file: magic 0x${magic.toString(16).padStart(8, "0")}, expected 0x00000803 (images) or 0x00000801 (labels)`);
  }
  const lower = file.name.toLowerCase();
  const part = /t10k|test/.test(lower) ? "test" : /train/.test(lower) ? "train" : null;
  return { ...file, kind: magic === IMAGES_MAGIC ? "images" : "labels", part };
}

/** Labels' real class count (the model checks its own against it). */
function withClasses(data: Dataset): Dataset {
  let max = 0;
  for (const label of data.labels) if (label > max) max = label;
  return { ...data, classes: max + 1 };
}

async function pair(files: DroppedFile[], part: "train" | "test" | null, name: string): Promise<Dataset> {
  const images = files.find((f) => f.kind === "images" && f.part === part);
  const labels = files.find((f) => f.kind === "labels" && f.part === part);
  const what = part ?? "the";
  if (!images || !labels) throw new DataError(name, `${what} images and labels are both needed (got ${files.map((f) => f.name).join(", ")})`);
  return withClasses(await loadIdxPair(images.bytes, labels.bytes, { name: `${name}:${part ?? "all"}`, images: images.name, labels: labels.name }, { classes: 256 }));
}

/**
 * Turns dropped files into a split: four files (train and test images and labels, told apart by
 * "train" / "t10k" or "test" in their names) or one images/labels pair, split stratified 5:1.
 */
export async function splitFromFiles(files: { name: string; bytes: Uint8Array }[]): Promise<DataSplit> {
  if (files.length !== 2 && files.length !== 4) throw new DataError("dropped files", `drop 2 files (images and labels) or 4 (train and test of each), got ${files.length}`);
  const dropped = await Promise.all(files.map(classify));
  const name = "dropped";
  if (files.length === 4) return { train: await pair(dropped, "train", name), test: await pair(dropped, "test", name) };
  const all = await pair(dropped.map((f) => ({ ...f, part: null })), null, name);
  const { train, test } = stratifiedSplitIndices(all.labels, all.classes, Math.max(1, Math.round(all.count / 6)), DROPPED_SPLIT_SEED);
  return { train: subset(all, train, `${name}:train`), test: subset(all, test, `${name}:test`) };
}

export class DataStore {
  readonly choices: DataChoice[] = [];
  private listeners: Array<() => void> = [];
  readonly bundled: Promise<DataChoice>;

  constructor() {
    this.bundled = fetchBundledDigits().then((split) => this.add({ id: "mnist", label: `bundled digits (mnist, ${split.train.count.toLocaleString("en-US")} / ${split.test.count.toLocaleString("en-US")})`, split }));
  }

  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  /** Adds (or replaces, by id) a data choice. */
  add(choice: DataChoice): DataChoice {
    const at = this.choices.findIndex((c) => c.id === choice.id);
    if (at >= 0) this.choices[at] = choice;
    else this.choices.push(choice);
    for (const l of this.listeners) l();
    return choice;
  }

  get(id: string): DataChoice | undefined {
    return this.choices.find((c) => c.id === id);
  }

  async addFiles(files: File[]): Promise<DataChoice> {
    const read = await Promise.all(files.map(async (f) => ({ name: f.name, bytes: new Uint8Array(await f.arrayBuffer()) })));
    const split = await splitFromFiles(read);
    const label = `dropped IDX (${split.train.count.toLocaleString("en-US")} / ${split.test.count.toLocaleString("en-US")}, ${split.train.classes} classes)`;
    return this.add({ id: "dropped", label, split });
  }
}
