// Utilisation of a trace at an arbitrary time, the way CloudSim's UtilizationModelPlanetLabInMemory
// computes it: samples every `interval` seconds, a final sample appended equal to the last one,
// and linear interpolation between neighbouring samples.

/** Appends the extra sample CloudSim adds (equal to the last), so time = n * interval is defined. */
export function withTrailingSample(samples: Float64Array): Float64Array {
  const out = new Float64Array(samples.length + 1);
  out.set(samples);
  out[samples.length] = samples.length > 0 ? samples[samples.length - 1]! : 0;
  return out;
}

/** Value at `time` seconds; `data` must already carry the trailing sample. Clamped at the ends. */
export function utilisationAt(data: Float64Array, time: number, interval: number): number {
  const last = data.length - 1;
  if (time % interval === 0) {
    const i = Math.trunc(Math.trunc(time) / Math.trunc(interval));
    return data[Math.min(Math.max(i, 0), last)]!;
  }
  let t1 = Math.floor(time / interval);
  let t2 = Math.ceil(time / interval);
  if (t1 < 0) t1 = 0;
  if (t2 > last) t2 = last;
  if (t1 > last) t1 = last;
  const u1 = data[t1]!;
  const u2 = data[t2]!;
  if (t2 === t1) return u1;
  const delta = (u2 - u1) / ((t2 - t1) * interval);
  return u1 + delta * (time - t1 * interval);
}
