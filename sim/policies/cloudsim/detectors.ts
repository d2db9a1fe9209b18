import { migrationTimeS } from "../../model/datacentre.js";
import { countNonZeroBeginning, iqr, mad, olsOnIndex } from "./stats.js";

// Host overload detection of Beloglazov & Buyya (CCPE 2012) as CloudSim 3.0.3 implements it.
// A detector sees one host's load: the summed CPU demand of its VMs, and the host's utilisation
// history (newest first), which CloudSim derives from the histories of the VMs it holds NOW.

export interface HostLoad {
  readonly totalMips: number;
  /** Sum of the current CPU demand of the host's VMs, MIPS. */
  readonly requestedMips: number;
  /** Largest RAM of the host's VMs, MB (for LR's migration-time horizon). */
  readonly maxVmRamMb: number;
  readonly bwKbit: number;
  /** Length of the host utilisation history once trailing zeros are trimmed (≤ 30). */
  historyLength(): number;
  /** History value i, newest first (i < historyLength()). */
  historyAt(i: number): number;
}

/** The trimmed history as an array (newest first). */
export function historyOf(l: HostLoad): number[] {
  const n = l.historyLength();
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) out[i] = l.historyAt(i);
  return out;
}

/** A HostLoad from plain numbers, for tests and offline analysis. */
export function hostLoad(totalMips: number, requestedMips: number, history: readonly number[], maxVmRamMb = 1740, bwKbit = 1_000_000): HostLoad {
  const n = countNonZeroBeginning(history);
  return { totalMips, requestedMips, maxVmRamMb, bwKbit, historyLength: () => n, historyAt: (i) => history[i]! };
}

export type OverloadDetector = (load: HostLoad) => boolean;

export type DetectorName = "thr" | "lr" | "lrr" | "iqr" | "mad";

/** THR: overloaded when requested / capacity > threshold. */
export function thresholdDetector(threshold: number): OverloadDetector {
  return (l) => l.requestedMips / l.totalMips > threshold;
}

export interface AdaptiveOptions {
  /** Detector used while the history is too short (CloudSim: THR 0.7). */
  fallback?: OverloadDetector;
}

/**
 * LR: least squares over the last 10 history values (oldest first, x = 1..10); overloaded when
 * s · (a + b · (10 + ceil(max migration time / interval))) >= 1. Fewer than 10 values: fallback.
 */
export function localRegressionDetector(safety: number, interval: number, opts: AdaptiveOptions = {}): OverloadDetector {
  const fallback = opts.fallback ?? thresholdDetector(0.7);
  const length = 10;
  const y = new Float64Array(length);
  return (l) => {
    if (l.historyLength() < length) return fallback(l);
    for (let i = 0; i < length; i++) y[i] = l.historyAt(length - i - 1);
    const [a, b] = olsOnIndex(y);
    if (Number.isNaN(a) || Number.isNaN(b)) return fallback(l);
    const migrationIntervals = Math.ceil(migrationTimeS(l.maxVmRamMb, l.bwKbit) / interval);
    const predicted = (a + b * (length + migrationIntervals)) * safety;
    return predicted >= 1;
  };
}

/** IQR: overloaded when requested / capacity > 1 - s · IQR(history); needs ≥ 12 values. */
export function iqrDetector(safety: number, opts: AdaptiveOptions = {}): OverloadDetector {
  const fallback = opts.fallback ?? thresholdDetector(0.7);
  return (l) => {
    if (l.historyLength() < 12) return fallback(l);
    const upper = 1 - safety * iqr(historyOf(l));
    return l.requestedMips / l.totalMips > upper;
  };
}

/** MAD: overloaded when requested / capacity > 1 - s · MAD(history); needs ≥ 12 values. */
export function madDetector(safety: number, opts: AdaptiveOptions = {}): OverloadDetector {
  const fallback = opts.fallback ?? thresholdDetector(0.7);
  return (l) => {
    if (l.historyLength() < 12) return fallback(l);
    const upper = 1 - safety * mad(historyOf(l));
    return l.requestedMips / l.totalMips > upper;
  };
}

/** Builds a detector by CloudSim name; LRR equals LR in 3.0.3 (its weights are never applied). */
export function makeDetector(name: DetectorName, parameter: number, interval = 300, fallbackThreshold = 0.7): OverloadDetector {
  const fallback = thresholdDetector(fallbackThreshold);
  switch (name) {
    case "thr":
      return thresholdDetector(parameter);
    case "lr":
    case "lrr":
      return localRegressionDetector(parameter, interval, { fallback });
    case "iqr":
      return iqrDetector(parameter, { fallback });
    case "mad":
      return madDetector(parameter, { fallback });
  }
}
