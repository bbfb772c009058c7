/**
 * @fileoverview The plots: line plots over training steps (uPlot: small and fast, canvas), a
 * heat map (a vector per time point, e.g. per-block activation probabilities) and a bar strip
 * (a count per index, e.g. leaf occupancy), both plain canvas. Each plot's container carries
 * `data-points`: how many points it shows, so tests and scripts can read progress.
 */
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

export const PALETTE = ["#2f6fdf", "#e0632a", "#1f9d6a", "#a34fd1", "#c9a400", "#d13f6f", "#3aa6b9", "#6b7a8f"];

/** Redraws at most once per frame, however many points arrive. */
class FrameThrottle {
  private pending = false;
  constructor(private readonly draw: () => void) {}
  request(): void {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.draw();
    });
  }
}

export interface LinePlotOptions {
  title: string;
  xLabel: string;
  /** Fixed y range (e.g. [0, 1] for fractions); default: fit the data. */
  yRange?: [number, number];
  height?: number;
  /** Draw points only (per-epoch values). */
  points?: boolean;
  /** Lines with a dot at every point (few, spaced points: per-epoch measurements). */
  markers?: boolean;
  /** Series drawn as points only (sparse ones, e.g. one value per epoch among per-step lines). */
  pointSeries?: (name: string) => boolean;
}

/** A line plot whose series are added as they first appear. */
export class LinePlot {
  readonly root: HTMLElement;
  private readonly xs: number[] = [];
  private readonly ys = new Map<string, (number | null)[]>();
  private chart: uPlot | null = null;
  private chartSeries: string[] = [];
  private readonly throttle = new FrameThrottle(() => this.draw());

  constructor(parent: HTMLElement, private readonly options: LinePlotOptions, testId?: string) {
    this.root = document.createElement("div");
    this.root.className = "plot";
    if (testId) this.root.dataset["testid"] = testId;
    this.root.dataset["points"] = "0";
    parent.append(this.root);
    new ResizeObserver(() => this.chart?.setSize({ width: this.width(), height: this.options.height ?? 160 })).observe(this.root);
    this.draw();
  }

  /**
   * Adds values at x for some series (others get a gap there); values at the last x again join
   * that point (uPlot wants x strictly increasing).
   */
  push(x: number, values: Record<string, number | null>): void {
    const same = this.xs.length > 0 && this.xs[this.xs.length - 1] === x;
    if (!same) this.xs.push(x);
    for (const name of Object.keys(values)) {
      if (!this.ys.has(name)) this.ys.set(name, new Array<number | null>(this.xs.length - (same ? 0 : 1)).fill(null));
    }
    for (const [name, column] of this.ys) {
      if (!same) column.push(values[name] ?? null);
      else if (name in values) column[column.length - 1] = values[name] ?? null;
    }
    this.root.dataset["points"] = String(this.xs.length);
    this.throttle.request();
  }

  clear(): void {
    this.xs.length = 0;
    this.ys.clear();
    this.root.dataset["points"] = "0";
    this.throttle.request();
  }

  get points(): number {
    return this.xs.length;
  }

  private width(): number {
    return Math.max(200, this.root.clientWidth || 400);
  }

  private draw(): void {
    const names = [...this.ys.keys()];
    if (!this.chart || names.join("\u0000") !== this.chartSeries.join("\u0000")) {
      this.chart?.destroy();
      this.chartSeries = names;
      const points = this.options.points === true;
      this.chart = new uPlot(
        {
          title: this.options.title,
          width: this.width(),
          height: this.options.height ?? 160,
          legend: { show: names.length > 0 },
          cursor: { drag: { x: false, y: false } },
          scales: {
            // a little room on the right, so that the last point (often a dot) is drawn whole
            x: { time: false, range: (_u: uPlot, min: number, max: number): uPlot.Range.MinMax => (min === max ? [min - 1, max + 1] : [min, max + (max - min) * 0.03]) },
            y: this.options.yRange ? { range: this.options.yRange } : {},
          },
          axes: [{ label: this.options.xLabel, size: 36, labelSize: 14 }, { size: 48 }],
          series: [
            { label: this.options.xLabel },
            ...names.map((name, i) => {
              const dots = points || this.options.pointSeries?.(name) === true;
              const show = dots || this.options.markers === true || undefined;
              return { label: name, stroke: PALETTE[i % PALETTE.length], width: dots ? 0 : 1.5, spanGaps: !dots, points: { show, size: 7, fill: PALETTE[i % PALETTE.length] } };
            }),
          ],
        },
        [[], ...names.map(() => [])],
        this.root,
      );
    }
    this.chart.setData([this.xs, ...names.map((n) => this.ys.get(n)!)] as uPlot.AlignedData);
  }
}

/** Viridis-like ramp for values in [0, 1]. */
function color(v: number): string {
  const t = Math.max(0, Math.min(1, v));
  const r = Math.round(68 + t * (253 - 68));
  const g = Math.round(1 + t * (231 - 1));
  const b = Math.round(84 + Math.sin(t * Math.PI) * 90 - t * 50);
  return `rgb(${r},${g},${b})`;
}

/**
 * Columns of values (one per time point), one row per index; colors span the values' own range
 * (the caption says which), so that small differences between indices show.
 */
export class HeatMap {
  readonly root: HTMLElement;
  private readonly caption: HTMLElement;
  private readonly canvas: HTMLCanvasElement;
  private readonly columns: number[][] = [];
  private readonly throttle = new FrameThrottle(() => this.draw());

  constructor(parent: HTMLElement, private readonly title: string, private readonly rowLabel: string) {
    this.root = document.createElement("figure");
    this.root.className = "heatmap";
    this.root.dataset["points"] = "0";
    this.caption = document.createElement("figcaption");
    this.caption.textContent = title;
    this.canvas = document.createElement("canvas");
    this.canvas.height = 120;
    this.root.append(this.caption, this.canvas);
    parent.append(this.root);
  }

  push(column: readonly number[]): void {
    this.columns.push([...column]);
    this.root.dataset["points"] = String(this.columns.length);
    this.throttle.request();
  }

  private draw(): void {
    let lo = Infinity;
    let hi = -Infinity;
    for (const column of this.columns) for (const v of column) (lo = Math.min(lo, v)), (hi = Math.max(hi, v));
    if (!(hi >= lo)) return;
    const span = hi - lo || 1;
    this.caption.textContent = `${this.title} (dark ${lo.toPrecision(3)}, bright ${hi.toPrecision(3)})`;
    const width = Math.max(200, this.root.clientWidth || 400);
    const rows = Math.max(1, ...this.columns.map((c) => c.length));
    const top = 12;
    const height = top + Math.min(228, Math.max(48, rows * 12));
    this.canvas.width = width;
    this.canvas.height = height;
    const ctx = this.canvas.getContext("2d")!;
    ctx.clearRect(0, 0, width, height);
    const left = 30;
    const cw = (width - left) / Math.max(this.columns.length, 1);
    const rh = (height - top) / rows;
    this.columns.forEach((column, x) => {
      column.forEach((v, y) => {
        ctx.fillStyle = color((v - lo) / span);
        ctx.fillRect(left + x * cw, top + y * rh, Math.ceil(cw), Math.ceil(rh));
      });
    });
    ctx.fillStyle = "#555";
    ctx.font = "10px sans-serif";
    ctx.fillText(this.rowLabel, 0, 9);
    const every = Math.ceil(rows / Math.max(1, Math.floor((height - top) / 12)));
    for (let y = 0; y < rows; y += every) ctx.fillText(String(y), 2, top + y * rh + Math.min(rh, 12) - 2);
  }
}

/** One bar per index (a count or a fraction), with an optional highlighted set. */
export class BarStrip {
  readonly root: HTMLElement;
  private readonly canvas: HTMLCanvasElement;

  constructor(parent: HTMLElement, private readonly title: string) {
    this.root = document.createElement("figure");
    this.root.className = "bars";
    const caption = document.createElement("figcaption");
    caption.textContent = title;
    this.canvas = document.createElement("canvas");
    this.root.append(caption, this.canvas);
    parent.append(this.root);
  }

  /** Values in [0, max]; `highlight` marks indices (a selected example's choices). */
  show(values: ArrayLike<number>, max: number, highlight: ReadonlySet<number> = new Set()): void {
    const width = Math.max(200, this.root.clientWidth || 400);
    const height = 70;
    this.canvas.width = width;
    this.canvas.height = height;
    this.root.dataset["points"] = String(values.length);
    const ctx = this.canvas.getContext("2d")!;
    ctx.clearRect(0, 0, width, height);
    const w = width / Math.max(values.length, 1);
    for (let i = 0; i < values.length; i++) {
      const h = max > 0 ? (values[i]! / max) * (height - 4) : 0;
      ctx.fillStyle = highlight.has(i) ? "#e0632a" : "#2f6fdf";
      ctx.fillRect(i * w, height - h, Math.max(1, w - (w > 4 ? 1 : 0)), h);
    }
  }
}
