/**
 * @fileoverview The playground (issue 14) in headless Chromium, on the site `vite build` writes,
 * served locally with the cross-origin isolation headers: the page loads with no console errors;
 * typing an undefined layer name shows its diagnostic (code, line, squiggle, hover) within 500 ms
 * of the last keystroke and fixing it clears it; one epoch on the bundled digits plots the loss
 * and reaches a test accuracy above 0.8, with gate views and test digits; stop ends a run; the
 * speed panel compares the builds; weights go to IndexedDB and back; a reload with the URL hash
 * restores the model. Each panel's screenshot is saved under build/test-artifacts/playground/
 * (git-ignored) and must not be blank.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser, type Locator, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO, type StaticServer } from "../browser/support.js";
import { buildSite, ISOLATION, serveDirectory } from "./site.js";

const CHROMIUM = process.env["CONDC_CHROMIUM"] ?? "/usr/bin/chromium";
const HAVE_CHROMIUM = existsSync(CHROMIUM);
const SKIP_REASON = HAVE_CHROMIUM ? "" : ` [SKIPPED: ${CHROMIUM} not found; install it with apt-get install chromium]`;
const TIMEOUT = 60_000;
const ARTIFACTS = join(REPO, "build", "test-artifacts", "playground");
const DEFAULT_SOURCE = readFileSync(join(REPO, "examples", "mnist-lowrank.cond"), "utf8");
const OUT_LINE = DEFAULT_SOURCE.split("\n").findIndex((l) => l.includes("layer out")) + 1;

interface PageWindow {
  lastKey: number;
  seen: Record<string, number>;
  clearedAt: number;
}

describe.skipIf(!HAVE_CHROMIUM)(`the playground in headless Chromium${SKIP_REASON}`, () => {
  let site = "";
  let server: StaticServer | undefined;
  let browser: Browser | undefined;
  let page: Page;
  const problems: string[] = [];

  beforeAll(async () => {
    site = mkdtempSync(join(tmpdir(), "condc-playground-"));
    await buildSite(site);
    server = await serveDirectory(site, ISOLATION);
    mkdirSync(ARTIFACTS, { recursive: true });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"], timeout: TIMEOUT });
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    page.on("console", (m) => m.type() === "error" && problems.push(`console error: ${m.text()}`));
    page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
    page.on("requestfailed", (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText ?? ""}`));
    page.on("response", (r) => r.status() >= 400 && problems.push(`HTTP ${r.status()}: ${r.url()}`));
    await page.goto(server.url + "/", { timeout: TIMEOUT });
    await page.waitForSelector("body[data-ready=true]", { timeout: TIMEOUT });
  }, 3 * TIMEOUT);

  afterAll(async () => {
    await browser?.close().catch(() => undefined);
    await server?.close();
    if (site) rmSync(site, { recursive: true, force: true });
  });

  /** Saves a screenshot and fails when (nearly) every pixel has one color. */
  async function screenshot(target: Locator | Page, name: string): Promise<void> {
    const png = await target.screenshot({ timeout: TIMEOUT });
    writeFileSync(join(ARTIFACTS, `${name}.png`), png);
    const { other, width, height } = await page.evaluate(async (b64) => {
      const image = new Image();
      image.src = `data:image/png;base64,${b64}`;
      await image.decode();
      const canvas = new OffscreenCanvas(image.width, image.height);
      const ctx = canvas.getContext("2d")!;
      ctx.drawImage(image, 0, 0);
      const data = ctx.getImageData(0, 0, image.width, image.height).data;
      const counts = new Map<number, number>();
      for (let i = 0; i < data.length; i += 4) {
        const key = (data[i]! << 16) | (data[i + 1]! << 8) | data[i + 2]!;
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
      let top = 0;
      for (const c of counts.values()) top = Math.max(top, c);
      return { other: 1 - top / (data.length / 4), width: image.width, height: image.height };
    }, png.toString("base64"));
    expect(width * height, `${name}: empty screenshot`).toBeGreaterThan(100 * 50);
    expect(other, `${name}: the screenshot is blank (one color)`).toBeGreaterThan(0.02);
  }

  const editorText = (): Promise<string> => page.locator(".cm-line").evaluateAll((lines) => lines.map((l) => l.textContent ?? "").join("\n"));

  it("loads with no console errors: the default example checked, inspected, data ready", async () => {
    expect(await editorText()).toBe(DEFAULT_SOURCE);
    expect(await page.getByTestId("diagnostics").locator("li").count()).toBe(0);
    const inspect = page.getByTestId("inspect");
    expect(await inspect.locator("tr[data-layer]").evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset["layer"]))).toEqual(["h1", "h2", "out"]);
    expect(await inspect.locator("tr.total").textContent()).toContain("1,390,000");
    expect(await page.getByTestId("data-select").locator("option").first().textContent()).toContain("8,000 / 2,000");
    expect(await page.locator("#isolation").getAttribute("data-isolated")).toBe("true");
    expect(await page.getByTestId("train-button").isEnabled()).toBe(true);
    await screenshot(page, "page-loaded");
    await screenshot(page.getByTestId("editor-panel"), "editor");
    await screenshot(page.locator("#inspect-panel"), "inspect");
    expect(problems).toEqual([]);
  }, TIMEOUT);

  it("an undefined layer name: its diagnostic at the right line within 500 ms of the last keystroke; fixing it clears it", async () => {
    await page.evaluate(() => {
      const w = window as unknown as PageWindow;
      w.lastKey = 0;
      w.seen = {};
      w.clearedAt = 0;
      document.addEventListener("keydown", () => (w.lastKey = performance.now()), true);
      const list = document.querySelector("[data-testid=diagnostics]")!;
      new MutationObserver(() => {
        for (const item of list.children) w.seen[`${(item as HTMLElement).dataset["code"]}:${(item as HTMLElement).dataset["line"]}`] ??= performance.now();
        if (list.children.length === 0) w.clearedAt = performance.now();
      }).observe(list, { childList: true });
    });
    await page.locator(".cm-line", { hasText: "layer out" }).click();
    await page.keyboard.press("End");
    for (let i = 0; i < "h2, 10)".length; i++) await page.keyboard.press("Backspace");
    await page.keyboard.type("h9, 10)");
    const item = page.locator(`[data-testid=diagnostics] li[data-code=CD2005]`);
    await item.waitFor({ timeout: 5000 });
    expect(await item.getAttribute("data-line")).toBe(String(OUT_LINE));
    expect(await item.textContent()).toContain("unknown name 'h9'; did you mean 'h1'?");
    const delay = await page.evaluate((line) => {
      const w = window as unknown as PageWindow;
      return w.seen[`CD2005:${line}`]! - w.lastKey;
    }, OUT_LINE);
    if (process.env["PLAYGROUND_TIMINGS"]) console.info(`diagnostic shown ${delay.toFixed(0)} ms after the last keystroke`);
    expect(delay).toBeGreaterThan(0);
    expect(delay).toBeLessThan(500);
    // The squiggle sits on the name, and hovering it shows CODE: message.
    const squiggle = page.locator(".cm-lintRange-error");
    expect(await squiggle.textContent()).toBe("h9");
    await squiggle.hover();
    const tooltip = page.locator(".cm-tooltip-lint");
    await tooltip.waitFor({ timeout: 5000 });
    expect(await tooltip.textContent()).toContain("CD2005: unknown name 'h9'; did you mean 'h1'?");
    expect(await page.getByTestId("train-button").isEnabled()).toBe(false);
    await screenshot(page.getByTestId("editor-panel"), "editor-diagnostic");

    await page.locator(".cm-line", { hasText: "layer out" }).click();
    await page.keyboard.press("End");
    await page.evaluate(() => void ((window as unknown as PageWindow).clearedAt = 0));
    for (let i = 0; i < "h9, 10)".length; i++) await page.keyboard.press("Backspace");
    await page.keyboard.type("h2, 10)");
    await page.waitForFunction(() => document.querySelectorAll("[data-testid=diagnostics] li").length === 0, null, { timeout: 5000 });
    const cleared = await page.evaluate(() => (window as unknown as PageWindow).clearedAt - (window as unknown as PageWindow).lastKey);
    if (process.env["PLAYGROUND_TIMINGS"]) console.info(`diagnostics cleared ${cleared.toFixed(0)} ms after the last keystroke`);
    expect(cleared).toBeGreaterThan(0);
    expect(cleared).toBeLessThan(500);
    expect(await editorText()).toBe(DEFAULT_SOURCE);
    expect(await page.getByTestId("train-button").isEnabled()).toBe(true);
  }, TIMEOUT);

  it("trains the default example one epoch on the bundled digits: loss plotted, test accuracy above 0.8, gate views", async () => {
    await page.getByTestId("epochs").fill("1");
    await page.getByTestId("train-button").click();
    await page.waitForFunction(() => document.querySelector("[data-testid=accuracy]")!.textContent !== "–", null, { timeout: TIMEOUT });
    const accuracy = Number.parseFloat((await page.getByTestId("accuracy").textContent())!);
    expect(accuracy).toBeGreaterThan(0.8);
    expect(accuracy).toBeLessThanOrEqual(1);
    // 8,000 examples in batches of 128: 63 steps, each plotted.
    expect(await page.getByTestId("loss-plot").getAttribute("data-points")).toBe("63");
    expect(Number(await page.getByTestId("active-fraction").getAttribute("data-points"))).toBeGreaterThan(0);
    // The test digits and what fired for the first one, after the run.
    await page.locator("[data-testid=digits-row] .digit").first().waitFor({ timeout: TIMEOUT });
    expect(await page.locator("[data-testid=digits-row] .digit").count()).toBe(12);
    const fired = page.locator("[data-testid=fired] figure");
    expect(await fired.evaluateAll((f) => f.map((x) => [(x as HTMLElement).dataset["layer"], (x as HTMLElement).dataset["total"]]))).toEqual([["h1", "1000"], ["h2", "600"]]);
    const active = Number(await fired.first().getAttribute("data-active"));
    expect(active).toBeGreaterThan(0);
    expect(active).toBeLessThan(1000);
    // Low-rank layers' measurements over training: initial and after the epoch.
    for (const key of ["sign_agreement", "false_negative_rate"]) expect(await page.getByTestId(`measure-${key}`).getAttribute("data-points")).toBe("2");
    await page.locator("[data-testid=digits-row] .digit").nth(2).click();
    expect(await page.locator("[data-testid=fired] figure").first().textContent()).toContain("example 2");
    expect(await page.getByTestId("status").textContent()).toMatch(/^trained 1 epochs: test accuracy/);
    await screenshot(page.getByTestId("train-panel"), "train");
    await screenshot(page.getByTestId("gates-panel"), "gates");
  }, 2 * TIMEOUT);

  it("stop ends a run after some steps and the page can train again", async () => {
    await page.getByTestId("epochs").fill("5");
    await page.getByTestId("train-button").click();
    await page.waitForFunction(() => Number(document.querySelector("[data-testid=loss-plot]")!.getAttribute("data-points")) >= 5, null, { timeout: TIMEOUT });
    await page.getByTestId("stop-button").click();
    await page.waitForFunction(() => /^stopped after step \d+/.test(document.querySelector("[data-testid=status]")!.textContent ?? ""), null, { timeout: 10_000 });
    const stoppedAt = Number(/step (\d+)/.exec((await page.getByTestId("status").textContent())!)![1]);
    expect(stoppedAt).toBeGreaterThanOrEqual(5);
    expect(stoppedAt).toBeLessThan(5 * 63);
    expect(await page.getByTestId("train-button").isEnabled()).toBe(true);
    expect(await page.getByTestId("stop-button").isEnabled()).toBe(false);
    const points = await page.getByTestId("loss-plot").getAttribute("data-points");
    await page.waitForTimeout(400);
    expect(await page.getByTestId("loss-plot").getAttribute("data-points")).toBe(points);
    expect(Number(points)).toBeLessThanOrEqual(stoppedAt);
  }, TIMEOUT);

  it("the speed panel times the dense and the conditional build at batch 1 and 128", async () => {
    await page.getByTestId("speed-button").click();
    const cases = page.locator("[data-testid=speed-panel] .speed-case");
    await page.waitForFunction(() => document.querySelectorAll("[data-testid=speed-panel] .speed-case").length === 2, null, { timeout: TIMEOUT });
    const ratios = await cases.evaluateAll((c) => c.map((x) => [(x as HTMLElement).dataset["batch"], Number((x as HTMLElement).dataset["timeRatio"]), Number((x as HTMLElement).dataset["macRatio"])]));
    expect(ratios.map((r) => r[0])).toEqual(["1", "128"]);
    for (const [, time, macs] of ratios) {
      expect(Number.isFinite(time) && (time as number) > 0).toBe(true);
      expect(Number.isFinite(macs) && (macs as number) > 0).toBe(true);
    }
    await screenshot(page.getByTestId("speed-panel"), "speed");
  }, TIMEOUT);

  it("keeps the weights in IndexedDB and loads them back", async () => {
    await page.getByTestId("keep-name").fill("digits-test");
    await page.getByTestId("save-button").click();
    await page.waitForFunction(() => /^saved indexeddb:\/\/digits-test/.test(document.querySelector("[data-testid=keep-message]")!.textContent ?? ""), null, { timeout: 10_000 });
    expect(await page.getByTestId("saved-models").inputValue()).toBe("indexeddb://digits-test");
    await page.getByTestId("load-button").click();
    await page.waitForFunction(() => /^loaded indexeddb:\/\/digits-test \(model MnistLowRank, step \d+\)$/.test(document.querySelector("[data-testid=keep-message]")!.textContent ?? ""), null, { timeout: 10_000 });
    await screenshot(page.getByTestId("keep-panel"), "keep");
  }, TIMEOUT);

  it("a reload with the URL hash restores the model", async () => {
    await page.locator(".cm-line", { hasText: "epochs" }).click();
    await page.keyboard.press("End");
    await page.keyboard.press("Backspace");
    await page.keyboard.type("3  // from the link");
    const edited = await editorText();
    expect(edited).toContain("epochs    = 3  // from the link");
    await page.waitForFunction(() => location.hash.startsWith("#code="), null, { timeout: 5000 });
    await page.waitForTimeout(500); // the hash follows the text after a short pause
    const url = page.url();
    await page.reload({ timeout: TIMEOUT });
    await page.waitForSelector("body[data-ready=true]", { timeout: TIMEOUT });
    expect(page.url()).toBe(url);
    expect(await editorText()).toBe(edited);
    expect(await page.getByTestId("epochs").inputValue()).toBe("3");
    expect(await page.locator("#examples").inputValue()).toBe("");
    // A fresh page from the same link, too.
    const other = await browser!.newPage();
    await other.goto(url, { timeout: TIMEOUT });
    await other.waitForSelector("body[data-ready=true]", { timeout: TIMEOUT });
    expect(await other.locator(".cm-line").evaluateAll((lines) => lines.map((l) => l.textContent ?? "").join("\n"))).toBe(edited);
    await other.close();
    expect(problems).toEqual([]);
    expect(server!.misses).toEqual([]);
  }, 2 * TIMEOUT);
});
