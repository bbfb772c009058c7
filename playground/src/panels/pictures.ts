/**
 * @fileoverview Small canvases: an input row drawn as a square grayscale image (28 x 28 digits),
 * and a grid of cells, one per unit, block, leaf or expert, lit where the example used it.
 */

/** The example as a square image when its width is a square number (else a one-row strip). */
export function drawDigit(pixels: Float32Array, scale = 2): HTMLCanvasElement {
  const side = Math.round(Math.sqrt(pixels.length));
  const [w, h] = side * side === pixels.length ? [side, side] : [pixels.length, 1];
  const small = document.createElement("canvas");
  small.width = w;
  small.height = h;
  const ctx = small.getContext("2d")!;
  const image = ctx.createImageData(w, h);
  for (let i = 0; i < pixels.length; i++) {
    const v = 255 - Math.round(255 * Math.max(0, Math.min(1, pixels[i]!)));
    image.data.set([v, v, v, 255], 4 * i);
  }
  ctx.putImageData(image, 0, 0);
  const canvas = document.createElement("canvas");
  canvas.width = w * scale;
  canvas.height = Math.max(h * scale, 8);
  const big = canvas.getContext("2d")!;
  big.imageSmoothingEnabled = false;
  big.drawImage(small, 0, 0, canvas.width, canvas.height);
  return canvas;
}

/** One cell per index, rows of up to 50. */
export class CellGrid {
  readonly canvas = document.createElement("canvas");
  private readonly columns: number;
  private readonly cell: number;

  constructor(private readonly total: number) {
    this.columns = Math.min(total, 50);
    this.cell = total <= 16 ? 18 : total <= 128 ? 12 : 8;
  }

  show(active: ReadonlySet<number>): void {
    const rows = Math.ceil(this.total / this.columns);
    this.canvas.width = this.columns * this.cell;
    this.canvas.height = rows * this.cell;
    const ctx = this.canvas.getContext("2d")!;
    for (let i = 0; i < this.total; i++) {
      ctx.fillStyle = active.has(i) ? "#e0632a" : "#e4e7ec";
      ctx.fillRect((i % this.columns) * this.cell, Math.floor(i / this.columns) * this.cell, this.cell - 1, this.cell - 1);
    }
  }
}
