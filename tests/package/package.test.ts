/**
 * @fileoverview The package as an app gets it: `npm pack` of this working tree (built in a temp
 * copy, so dist/ here is untouched), installed into a fresh app folder without dev
 * dependencies; a TypeScript Node app using `condc`, `condc/runtime` and `condc/worker`
 * type-checks and runs; the `condc` command runs; a browser app importing `condc/runtime` and
 * `condc/worker` bundles with esbuild and runs in headless Chromium with the same results.
 * Needs the npm registry (or npm's cache) for the dependencies: skipped, with the reason
 * printed, only when the registry is unreachable.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { build as esbuild } from "esbuild";
import { chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO, serve, type Asset } from "../browser/support.js";

const CHROMIUM = process.env["CONDC_CHROMIUM"] ?? "/usr/bin/chromium";
const APP_FILES = join(REPO, "tests/package/app");
const DEV_DEPENDENCIES = Object.keys(JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")).devDependencies);
const TSC = join(REPO, "node_modules/typescript/bin/tsc");

function run(command: string, args: string[], cwd: string, timeout = 300_000): string {
  const r = spawnSync(command, args, { cwd, encoding: "utf8", timeout, env: { ...process.env, npm_config_audit: "false", npm_config_fund: "false", npm_config_update_notifier: "false" } });
  if (r.status !== 0) throw new Error(`${command} ${args.join(" ")} (in ${cwd}) failed with ${r.status ?? r.signal}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** Why the registry cannot be used, or null when `npm ping` answers. */
function registryProblem(): string | null {
  const r = spawnSync("npm", ["ping"], { encoding: "utf8", timeout: 30_000 });
  return r.status === 0 ? null : `the npm registry is unreachable (npm ping: ${(r.stderr || r.stdout || String(r.signal)).trim().split("\n").pop()})`;
}

let tmp = "";
let app = "";
let tarball = "";
let skipReason: string | null = null;

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), "condc-package-"));
  // The working tree as git sees it (tracked and new files, nothing ignored), packed from a copy.
  const source = join(tmp, "src");
  const files = execFileSync("git", ["ls-files", "-co", "--exclude-standard", "-z"], { cwd: REPO, encoding: "utf8" }).split("\0").filter(Boolean);
  for (const file of files) {
    if (!existsSync(join(REPO, file))) continue; // deleted in the working tree
    mkdirSync(dirname(join(source, file)), { recursive: true });
    cpSync(join(REPO, file), join(source, file));
  }
  symlinkSync(join(REPO, "node_modules"), join(source, "node_modules"), "dir");
  const packed = run("npm", ["pack", "--pack-destination", tmp, "--silent"], source).trim().split("\n").pop()!;
  tarball = join(tmp, packed);

  app = join(tmp, "app");
  mkdirSync(app);
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "condc-test-app", private: true, type: "module" }));
  for (const file of readdirSync(APP_FILES)) cpSync(join(APP_FILES, file), join(app, file));
  const install = spawnSync("npm", ["install", "--omit=dev", "--prefer-offline", "--no-audit", "--no-fund", tarball], { cwd: app, encoding: "utf8", timeout: 300_000 });
  if (install.status !== 0) {
    skipReason = registryProblem();
    if (!skipReason) throw new Error(`npm install of the tarball failed:\n${install.stdout}\n${install.stderr}`);
    console.warn(`[tests/package SKIPPED: ${skipReason}]`);
  }
}, 600_000);

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** Skips (printing why) only when the install could not reach the registry. */
function needsInstall(ctx: { skip: (note?: string) => void }): void {
  if (skipReason) {
    console.warn(`[SKIPPED: ${skipReason}]`);
    ctx.skip(skipReason);
  }
}

describe("the npm package", () => {
  it("the tarball holds the built package and no tests; it installs without dev dependencies", (ctx) => {
    const listing = run("tar", ["-tzf", tarball], tmp).split("\n");
    for (const file of ["package/dist/compiler/index.js", "package/dist/compiler/index.d.ts", "package/dist/runtime/index.js", "package/dist/runtime/index.d.ts", "package/dist/runtime/node/runtime.js", "package/dist/runtime/node/worker.js", "package/dist/runtime/node/worker-node.js", "package/dist/runtime/worker/browser.js", "package/dist/runtime/worker/worker-browser.js", "package/runtime/kernels/gemm.ts", "package/bin/condc.js"]) {
      expect(listing, file).toContain(file);
    }
    expect(listing.filter((f) => f.startsWith("package/tests/"))).toEqual([]);
    needsInstall(ctx);
    const installed = readdirSync(join(app, "node_modules")).flatMap((name) => (name.startsWith("@") ? readdirSync(join(app, "node_modules", name)).map((n) => `${name}/${n}`) : [name]));
    expect(installed).toContain("condc");
    expect(installed.filter((name) => DEV_DEPENDENCIES.includes(name))).toEqual([]);
  });

  it("a TypeScript Node app type-checks (strict, with and without the DOM lib) and runs: compile, load, storage, worker, CLI", (ctx) => {
    needsInstall(ctx);
    const base = { target: "ES2022", module: "NodeNext", moduleResolution: "NodeNext", strict: true, types: ["node"], typeRoots: [join(REPO, "node_modules/@types")] };
    // Without the DOM lib a Node app must skip checking libraries' .d.ts (WebAssembly is a DOM type in TypeScript's libs).
    writeFileSync(join(app, "tsconfig.json"), JSON.stringify({ compilerOptions: { ...base, lib: ["ES2022"], skipLibCheck: true, outDir: "out" }, include: ["node-app.ts"] }));
    writeFileSync(join(app, "tsconfig.dom.json"), JSON.stringify({ compilerOptions: { ...base, lib: ["ES2022", "DOM"], skipLibCheck: false, noEmit: true }, include: ["node-app.ts"] }));
    run(process.execPath, [TSC, "-p", "tsconfig.dom.json"], app);
    run(process.execPath, [TSC, "-p", "tsconfig.json"], app);
    const output = JSON.parse(run(process.execPath, ["out/node-app.js"], app, 120_000));
    expect(output.probs).toHaveLength(4);
    expect(output.reloaded).toEqual(output.probs);
    expect(output.fromWorker).toEqual(output.probs);
    expect(output.sameSource).toBe(true);
    expect(readFileSync(join(app, "weights.safetensors")).length).toBe(output.saved);
    expect(run(join(app, "node_modules/.bin/condc"), ["check", "model.cond"], app)).toBe("");
    writeFileSync(join(app, "node-output.json"), JSON.stringify(output));
  });

  it("a browser app importing condc/runtime and condc/worker bundles with esbuild, type-checks and runs in headless Chromium", async (ctx) => {
    needsInstall(ctx);
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found; install it with apt-get install chromium`);
    writeFileSync(join(app, "tsconfig.browser.json"), JSON.stringify({ compilerOptions: { target: "ES2022", module: "ESNext", moduleResolution: "Bundler", lib: ["ES2022", "DOM"], strict: true, skipLibCheck: false, noEmit: true, types: [] }, include: ["browser-app.ts"] }));
    run(process.execPath, [TSC, "-p", "tsconfig.browser.json"], app);
    const bundled = await esbuild({
      absWorkingDir: app,
      entryPoints: { app: "browser-app.ts", "worker-browser": "condc/worker-script" },
      bundle: true,
      format: "esm",
      platform: "browser",
      minify: true,
      write: false,
      outdir: "public",
      logLevel: "silent",
    });
    const assets = new Map<string, Asset>();
    for (const file of bundled.outputFiles) assets.set(`/${file.path.slice(join(app, "public").length + 1)}`, { type: "text/javascript", body: file.text });
    expect([...assets.keys()].sort()).toEqual(["/app.js", "/worker-browser.js"]);
    // Bundled for a browser: nothing of Node's is left in it (a module specifier "node:..."; the
    // bare word may occur in WGSL, e.g. a parameter `node: u32`).
    expect(assets.get("/app.js")!.body).not.toMatch(/["'`]node:|worker_threads|require\(/);
    assets.set("/", { type: "text/html; charset=utf-8", body: '<!doctype html><meta charset=utf-8><script type="module" src="/app.js"></script>' });
    assets.set("/model/plain.wasm", { type: "application/wasm", body: readFileSync(join(app, "public/model/plain.wasm")) });
    assets.set("/model/manifest.json", { type: "application/json", body: readFileSync(join(app, "public/model/manifest.json"), "utf8") });
    const server = await serve(assets);
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"] });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(e.message));
      await page.goto(server.url + "/");
      await page.waitForFunction("typeof window.runApp === 'function'");
      const result = (await page.evaluate("window.runApp()")) as Record<string, unknown>;
      const node = JSON.parse(readFileSync(join(app, "node-output.json"), "utf8"));
      expect(errors).toEqual([]);
      expect(server.misses).toEqual([]);
      expect(result["probs"]).toEqual(node.probs);
      expect(result["reloaded"]).toEqual(node.probs);
      expect(result["fromWorker"]).toEqual(node.probs);
      expect(result["sameSource"]).toBe(true);
    } finally {
      await browser.close();
      await server.close();
    }
  });
});
