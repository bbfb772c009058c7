#!/usr/bin/env node
// The condc command. Relaxed SIMD (FMA) is behind a flag on Node 20; turning it on
// before any WebAssembly is compiled lets the runtime pick the relaxed build when it
// validates, and fall back to the plain-SIMD build otherwise.
import v8 from "node:v8";
v8.setFlagsFromString("--experimental-wasm-relaxed-simd");
const { main } = await import("../dist/cli/main.js");
process.exitCode = await main(process.argv.slice(2));
