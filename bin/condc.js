#!/usr/bin/env node
// The condc command. Relaxed SIMD (FMA) is behind a flag on Node 20; turning it on before any
// WebAssembly is compiled lets the runtime pick the relaxed build when it validates, and fall
// back to the plain-SIMD build otherwise. The bundled command (dist/cli-bundle/) starts fastest.
import v8 from "node:v8";
import { existsSync } from "node:fs";
v8.setFlagsFromString("--experimental-wasm-relaxed-simd");
const bundle = new URL("../dist/cli-bundle/main.js", import.meta.url);
const { main } = await import(existsSync(bundle) ? bundle.href : "../dist/cli/main.js");
process.exitCode = await main(process.argv.slice(2));
