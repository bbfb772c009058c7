/**
 * @fileoverview saveModel / loadWeights in headless Chromium: indexeddb:// round trips with
 * bit-identical weights, records damaged through IndexedDB (flipped bit, truncation, foreign
 * format, junk, missing bytes, bytes that are not a checkpoint) each refused with a named
 * error while the model keeps its weights, the full mismatch report for another shape,
 * download:// producing the checkpoint file, http(s) loading, and file paths refused.
 */
import { readFileSync } from "node:fs";
import { existsSync } from "node:fs";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compile } from "../../compiler/index.js";
import { loadModel } from "../../runtime/index.js";
import { JS, serve, transpileGraph, type Asset, type StaticServer } from "./support.js";

const CHROMIUM = process.env["CONDC_CHROMIUM"] ?? "/usr/bin/chromium";
const HAVE_CHROMIUM = existsSync(CHROMIUM);
const SKIP_REASON = HAVE_CHROMIUM ? "" : ` [SKIPPED: ${CHROMIUM} not found; install it with apt-get install chromium]`;
const TIMEOUT = 60_000;

const source = (hidden: number): string => `model Store {
  input  x: f32[8]
  target y: class[3]
  layer h   = dense(x, ${hidden}) relu
  layer out = dense(h, 3)
  loss = softmax_cross_entropy(out, y)
}`;

describe.skipIf(!HAVE_CHROMIUM)(`storage in headless Chromium${SKIP_REASON}`, () => {
  let server: StaticServer | undefined;
  let browser: Browser | undefined;
  let page: Page | undefined;
  const pageErrors: string[] = [];
  let servedCheckpoint = new Uint8Array(0);

  beforeAll(async () => {
    const graph = transpileGraph(["runtime/index.ts", "tests/browser/storage-page.ts"]);
    if (graph.problems.length > 0) throw new Error(`module graph problems:\n  ${graph.problems.join("\n  ")}`);
    const assets = new Map<string, Asset>();
    for (const [path, text] of graph.files) assets.set(path, { type: JS, body: text });
    assets.set("/", { type: "text/html; charset=utf-8", body: "<!doctype html><meta charset=utf-8><title>condc storage test</title><body></body>" });
    for (const [name, hidden] of [["narrow", 6], ["wide", 7]] as const) {
      const compiled = await compile(source(hidden), { file: `${name}.cond`, maxBatch: 4, simd: "plain" });
      if (!compiled.ok) throw new Error(`${name} did not compile`);
      assets.set(`/model/${name}/plain.wasm`, { type: "application/wasm", body: compiled.wasm });
      assets.set(`/model/${name}/manifest.json`, { type: "application/json", body: JSON.stringify(compiled.manifest) });
      if (name === "narrow") {
        const model = await loadModel(compiled.wasm, compiled.manifest);
        model.init(11);
        servedCheckpoint = model.save();
        assets.set("/weights/narrow.safetensors", { type: "application/octet-stream", body: servedCheckpoint });
      }
    }
    server = await serve(assets);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"], timeout: TIMEOUT });
    page = await browser.newPage({ acceptDownloads: true });
    page.on("pageerror", (error) => pageErrors.push(`page error: ${error.message}`));
    page.on("crash", () => pageErrors.push("the page crashed"));
    await page.goto(server.url + "/", { timeout: TIMEOUT });
  }, 2 * TIMEOUT);

  afterAll(async () => {
    await page?.close().catch(() => undefined);
    await browser?.close().catch(() => undefined);
    await server?.close();
  });

  /** Calls an export of storage-page.js; fails with any page error. */
  async function call<T>(fn: string, ...args: unknown[]): Promise<T> {
    const result = await page!.evaluate(`import("/tests/browser/storage-page.js").then((m) => m.${fn}(...${JSON.stringify(args)}))`);
    const problems = [...pageErrors.splice(0), ...server!.misses.splice(0).filter((m) => !m.includes("/weights/missing")).map((m) => `404: ${m}`)];
    if (problems.length > 0) throw new Error(`the page failed in ${fn}:\n  ${problems.join("\n  ")}`);
    return result as T;
  }

  type Caught = { name: string; message: string; isCheckpointError: boolean } | null;

  it("indexeddb:// round trip: the loaded model's weights and predictions are bit-identical", async () => {
    const r = await call<{ saved: Record<string, unknown>; loaded: Record<string, unknown>; differedBefore: boolean; identical: boolean; samePredictions: boolean }>("roundTrip");
    expect(r.differedBefore).toBe(true);
    expect(r.identical).toBe(true);
    expect(r.samePredictions).toBe(true);
    expect(r.saved).toMatchObject({ url: "indexeddb://trained", model: "Store", step: 1 });
    expect(r.loaded).toMatchObject({ url: "indexeddb://trained", model: "Store", step: 1, sameSource: true, sourceHash: r.saved["sourceHash"] });
  });

  const damages: Array<[string, (message: string) => void]> = [
    ["flip", (m) => expect(m).toMatch(/^indexeddb:\/\/damaged: corrupt record: CRC-32 of the stored bytes is 0x[0-9a-f]{8}, the record says 0x[0-9a-f]{8}$/)],
    ["truncate", (m) => expect(m).toMatch(/^indexeddb:\/\/damaged: truncated record: \d+ bytes stored, the record says \d+$/)],
    ["format", (m) => expect(m).toBe('indexeddb://damaged: not a condc weights record (format "tensorflowjs", expected "condc-weights")')],
    ["junk", (m) => expect(m).toBe("indexeddb://damaged: corrupt record: not an object (string)")],
    ["no-bytes", (m) => expect(m).toBe("indexeddb://damaged: corrupt record: the weights' bytes are missing")],
    ["bad-checkpoint", (m) => expect(m).toMatch(/^indexeddb:\/\/damaged: header length \d+ goes beyond the end of the file/)],
  ];
  for (const [damage, check] of damages) {
    it(`a damaged record (${damage}): a named error, and the model keeps its weights`, async () => {
      const r = await call<{ error: Caught; unchanged: boolean }>("loadDamaged", damage);
      expect(r.error).not.toBeNull();
      expect(r.error!.isCheckpointError).toBe(true);
      expect(r.error!.name).toBe(damage === "bad-checkpoint" ? "CheckpointError" : "StorageError");
      check(r.error!.message);
      expect(r.unchanged).toBe(true);
    });
  }

  it("weights of another shape: the full mismatch report, weights unchanged; a missing name is named", async () => {
    const r = await call<{ error: Caught; unchanged: boolean }>("otherShape");
    expect(r.error!.message).toBe(
      ["indexeddb://wide: does not match the model (3 mismatches):", "  h.weight: expected [6, 8], found [7, 8]", "  h.bias: expected [6], found [7]", "  out.weight: expected [3, 6], found [3, 7]"].join("\n"),
    );
    expect(r.unchanged).toBe(true);
    expect(await call<Caught>("missing")).toEqual({ name: "StorageError", message: 'indexeddb://never-saved: no model saved under "never-saved" in IndexedDB', isCheckpointError: true });
    const listed = await call<{ before: string[]; after: string[] }>("listAndRemove");
    expect(listed.before).toEqual(expect.arrayContaining(["indexeddb://trained", "indexeddb://wide"]));
    expect(listed.after).not.toContain("indexeddb://wide");
  });

  it("download:// offers NAME.safetensors holding the checkpoint", async () => {
    const [download, result] = await Promise.all([page!.waitForEvent("download", { timeout: TIMEOUT }), call<{ bytes: string; info: Record<string, unknown> }>("download", "my-model")]);
    expect(download.suggestedFilename()).toBe("my-model.safetensors");
    const path = await download.path();
    expect(Buffer.from(readFileSync(path)).equals(Buffer.from(result.bytes, "base64"))).toBe(true);
    expect(result.info).toMatchObject({ url: "download://my-model", model: "Store" });
  });

  it("http(s) URLs load (exactly the served checkpoint); a 404 is named and changes nothing", async () => {
    const ok = await call<{ error: Caught; bytes: string }>("fromHttp", "/weights/narrow.safetensors");
    expect(ok.error).toBeNull();
    expect(Buffer.from(ok.bytes, "base64").equals(Buffer.from(servedCheckpoint))).toBe(true);
    const notFound = await call<{ error: Caught; unchanged: boolean }>("fromHttp", "/weights/missing.safetensors");
    expect(notFound.error!.message).toBe(`${server!.url}/weights/missing.safetensors: HTTP 404 Not Found`);
    expect(notFound.unchanged).toBe(true);
  });

  it("a file path in a browser is a TypeError saying what to use", async () => {
    expect(await call<Caught>("filePathInBrowser")).toEqual({
      name: "TypeError",
      message: 'saveModel: url "models/m.safetensors" is a file path; files need Node\'s entry of condc/runtime (in a browser use indexeddb://NAME or download://NAME)',
      isCheckpointError: false,
    });
  });
});
