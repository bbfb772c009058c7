/**
 * @fileoverview How many threads a model can use here (and saying once why it runs on one). The
 * pool itself is started by `./start.ts`, which loadModel imports only when a model runs on
 * several threads, so an app on one thread does not carry it.
 */
import { threadHost } from "./host.js";
import { SPLIT_THRESHOLDS } from "./thresholds.js";

/** The reasons already given on the console (each is said once). */
const warned = new Set<string>();

/** Says once on the console that a model runs on one thread instead of `wanted`, and why. */
export function warnOneThread(wanted: number, why: string): void {
  if (warned.has(why)) return;
  warned.add(why);
  console.warn(`condc: running on one thread instead of ${wanted}: ${why}`);
}

/**
 * The threads to use: `requested`, else the cores when the model has work to split (`largestWork`,
 * its largest layer's multiply-adds at its max batch, reaches two tiles of the least product
 * threshold) and 1 when no call of it could ever be split (starting workers would only cost);
 * 1, said once, where threads cannot run.
 */
export function usableThreads(requested: number | undefined, largestWork: number): number {
  const host = threadHost();
  const worthSplitting = largestWork >= 2 * Math.min(SPLIT_THRESHOLDS.gemm, SPLIT_THRESHOLDS.gemv);
  const wanted = requested ?? (worthSplitting ? host?.cores() ?? 1 : 1);
  if (wanted <= 1) return 1;
  const why = host === null ? "no thread host: in Node, import condc/runtime (its Node entry brings the threads), or call setThreadHost" : host.unavailable();
  if (why === null) return wanted;
  warnOneThread(wanted, why);
  return 1;
}
