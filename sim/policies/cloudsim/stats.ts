// The statistics CloudSim's MathUtil uses, reproduced so thresholds come out identical.

/** Index one past the last non-zero value (CloudSim's countNonZeroBeginning). */
export function countNonZeroBeginning(data: ArrayLike<number>): number {
  let i = data.length - 1;
  while (i >= 0) {
    if (data[i--] !== 0) break;
  }
  return i + 2;
}

/** The data without its trailing zeros. */
export function trimZeroTail(data: ArrayLike<number>): number[] {
  return Array.prototype.slice.call(data, 0, countNonZeroBeginning(data)) as number[];
}

/** Median as Apache Commons Math's Percentile(50) computes it (mean of the middle two for even n). */
export function median(data: ArrayLike<number>): number {
  const n = data.length;
  if (n === 0) return Number.NaN;
  const s = Float64Array.from(data as ArrayLike<number>).sort();
  if (n === 1) return s[0]!;
  const pos = (50 * (n + 1)) / 100;
  const fpos = Math.floor(pos);
  const d = pos - fpos;
  if (pos < 1) return s[0]!;
  if (pos >= n) return s[n - 1]!;
  const lower = s[fpos - 1]!;
  const upper = s[fpos]!;
  return lower + d * (upper - lower);
}

/** Median absolute deviation (no scaling constant), as CloudSim's MathUtil.mad. */
export function mad(data: ArrayLike<number>): number {
  if (data.length === 0) return 0;
  const m = median(data);
  const dev = new Float64Array(data.length);
  for (let i = 0; i < data.length; i++) dev[i] = Math.abs(m - data[i]!);
  return median(dev);
}

/** Interquartile range with CloudSim's rounding of the quartile positions. */
export function iqr(data: ArrayLike<number>): number {
  const s = Float64Array.from(data as ArrayLike<number>).sort();
  const n = s.length;
  const q1 = Math.round(0.25 * (n + 1)) - 1;
  const q3 = Math.round(0.75 * (n + 1)) - 1;
  return s[q3]! - s[q1]!;
}

/**
 * Ordinary least squares y = a + b·x with x = 1..n, using the updating formulas of Apache
 * Commons Math's SimpleRegression (what CloudSim's LR and, in 3.0.3, LRR actually run).
 * Returns [intercept, slope]; NaNs when n < 3.
 */
export function olsOnIndex(y: ArrayLike<number>): [number, number] {
  const n = y.length;
  if (n < 3) return [Number.NaN, Number.NaN];
  let sumX = 0;
  let sumY = 0;
  let sumXX = 0;
  let sumXY = 0;
  let xbar = 0;
  let ybar = 0;
  for (let i = 0; i < n; i++) {
    const x = i + 1;
    const yi = y[i]!;
    if (i === 0) {
      xbar = x;
      ybar = yi;
    } else {
      const fact1 = 1.0 + i;
      const fact2 = i / (1.0 + i);
      const dx = x - xbar;
      const dy = yi - ybar;
      sumXX += dx * dx * fact2;
      sumXY += dx * dy * fact2;
      xbar += dx / fact1;
      ybar += dy / fact1;
    }
    sumX += x;
    sumY += yi;
  }
  const slope = sumXY / sumXX;
  const intercept = (sumY - slope * sumX) / n;
  return [intercept, slope];
}
