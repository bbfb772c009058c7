/**
 * @fileoverview A one-line progress bar on a terminal's standard error (nothing when
 * standard error is not a terminal, so logs and pipes stay clean).
 */
import type { TrainProgress } from "../runtime/train.js";

export function progressPrinter(enabled: boolean): { update(p: TrainProgress): void; clear(): void } {
  const stream = process.stderr;
  const active = enabled && stream.isTTY === true;
  let shown = false;
  return {
    update(p) {
      if (!active) return;
      const width = 24;
      const filled = Math.round((p.done / p.total) * width);
      const bar = "#".repeat(filled) + "-".repeat(width - filled);
      stream.write(`\repoch ${p.epoch}/${p.epochs} [${bar}] ${p.done}/${p.total} loss ${p.loss.toFixed(4)} acc ${(100 * p.accuracy).toFixed(1)}% ${Math.round(p.examplesPerSecond)} ex/s `);
      shown = true;
    },
    clear() {
      if (shown) stream.write("\r\x1b[K");
      shown = false;
    },
  };
}
