// How much of two cores this process gets right now: the same CPU work (a pure JS loop) run on
// one worker thread, then halved over two at once; the ratio of the wall times is 2.0 where two
// cores are free and 1.0 where the machine's other jobs leave one. A threads benchmark reports
// it beside its speedups: they cannot exceed it.
import { Worker } from "node:worker_threads";

const WORK = `const { parentPort } = require("node:worker_threads");
parentPort.on("message", (n) => { let x = 0; for (let i = 0; i < n; i++) x += Math.sqrt(i); parentPort.postMessage(x); });`;

function timed(workers, iterations) {
  return new Promise((resolve) => {
    const threads = Array.from({ length: workers }, () => new Worker(WORK, { eval: true }));
    let ready = 0;
    // Start the clock once every thread is up (thread start-up is not the point).
    for (const w of threads) w.once("online", () => {
      if (++ready < workers) return;
      const t0 = performance.now();
      let left = workers;
      for (const t of threads) {
        t.once("message", () => {
          if (--left > 0) return;
          resolve(performance.now() - t0);
          for (const x of threads) x.terminate();
        });
        t.postMessage(iterations / workers);
      }
    });
  });
}

/** The median over `rounds` of (time on 1 thread) / (time on 2 threads) for the same work. */
export async function parallelCapacity(rounds = 3, iterations = 6e7) {
  const ratios = [];
  for (let r = 0; r < rounds; r++) ratios.push((await timed(1, iterations)) / (await timed(2, iterations)));
  ratios.sort((a, b) => a - b);
  return ratios[ratios.length >> 1];
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(`parallel capacity ${(await parallelCapacity()).toFixed(2)}x`);
