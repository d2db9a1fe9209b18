import type { HostSample } from "../../shared/schemas/snapshot.js";

// Short-term load prediction from a host's own recent samples (Beloglazov & Buyya's local
// regression, used here for destinations): a least-squares line through the CPU samples of the
// last `windowS` seconds, extrapolated `aheadS` seconds past the newest one. Pure maths.

/**
 * Predicted CPU percent `aheadS` after the newest sample (at most 100), or null when prediction
 * is off (windowS = 0), fewer than three samples fall in the window (a line through two points
 * is noise), or they cover less than half the window (a few seconds of samples extrapolated
 * minutes ahead would turn any step into a steep trend). Samples oldest first.
 */
export function predictCpu(samples: readonly HostSample[], windowS: number, aheadS: number): number | null {
  const n = samples.length;
  if (windowS <= 0 || n < 3) return null;
  const newest = samples[n - 1]!;
  const from = newest.ts - windowS * 1000;
  let k = 0;
  let sx = 0;
  let sy = 0;
  let sxx = 0;
  let sxy = 0;
  for (let i = n - 1; i >= 0; i--) {
    const s = samples[i]!;
    if (s.ts < from) break;
    const x = (s.ts - newest.ts) / 1000;
    k += 1;
    sx += x;
    sy += s.cpu;
    sxx += x * x;
    sxy += x * s.cpu;
  }
  if (k < 3) return null;
  const oldestUsed = samples[n - k]!;
  if (newest.ts - oldestUsed.ts < (windowS * 1000) / 2) return null;
  const den = k * sxx - sx * sx;
  if (den <= 0) return null;
  const b = (k * sxy - sx * sy) / den;
  const a = (sy - b * sx) / k;
  return Math.min(100, Math.max(0, a + b * aheadS));
}
