// Pure parsers for the two trace formats. No I/O here: see load.ts.
//
// - planetlab: one integer per line, 0-99, the VM's CPU utilisation in percent of its capacity;
//   any number of lines (the CoMon days have 288: 24 h at 300 s).
// - cpu-mem: two numbers per line, `cpu_percent mem_percent` (the GCD-derived set); memory can
//   exceed 100 in the source data and is clamped to 100 here.

export class TraceParseError extends Error {
  override readonly name = "TraceParseError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** One VM's workload: utilisation fractions (0..1) per sample, oldest first. */
export interface VmTrace {
  readonly name: string;
  /** CPU utilisation of the VM's capacity, fraction 0..1, one per sample. */
  readonly cpu: Float64Array;
  /** Memory utilisation of the VM's RAM, fraction 0..1 (absent for CPU-only traces). */
  readonly mem?: Float64Array;
}

export type TraceFormat = "planetlab" | "cpu-mem";

function lines(text: string): string[] {
  const out = text.split(/\r?\n/);
  while (out.length > 0 && out[out.length - 1]!.trim() === "") out.pop();
  return out;
}

/**
 * Parses a PlanetLab file. Returns percent values as integers (0..100). `expected` is the number
 * of samples required; 0 (the default) accepts any non-empty length (the CoMon days have 288).
 */
export function parsePlanetLab(text: string, name = "<trace>", expected = 0): number[] {
  const rows = lines(text);
  if (rows.length === 0) throw new TraceParseError(`${name}: empty trace`);
  if (expected > 0 && rows.length !== expected) {
    throw new TraceParseError(`${name}: expected ${expected} lines, found ${rows.length}`);
  }
  const out = new Array<number>(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const s = rows[i]!.trim();
    if (!/^\d+$/.test(s)) throw new TraceParseError(`${name}:${i + 1}: not a non-negative integer: ${JSON.stringify(s)}`);
    const v = Number(s);
    if (v > 100) throw new TraceParseError(`${name}:${i + 1}: utilisation ${v} > 100`);
    out[i] = v;
  }
  return out;
}

/** Parses a `cpu_percent mem_percent` file. CPU and memory are clamped to [0, 100]. */
export function parseCpuMem(text: string, name = "<trace>", expected = 0): { cpu: number[]; mem: number[] } {
  const rows = lines(text);
  if (rows.length === 0) throw new TraceParseError(`${name}: empty trace`);
  if (expected > 0 && rows.length !== expected) {
    throw new TraceParseError(`${name}: expected ${expected} lines, found ${rows.length}`);
  }
  const cpu = new Array<number>(rows.length);
  const mem = new Array<number>(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const parts = rows[i]!.trim().split(/\s+/);
    if (parts.length !== 2) throw new TraceParseError(`${name}:${i + 1}: expected 2 columns, found ${parts.length}`);
    const c = Number(parts[0]);
    const m = Number(parts[1]);
    if (!Number.isFinite(c) || !Number.isFinite(m)) {
      throw new TraceParseError(`${name}:${i + 1}: not numbers: ${JSON.stringify(rows[i])}`);
    }
    cpu[i] = Math.min(100, Math.max(0, c));
    mem[i] = Math.min(100, Math.max(0, m));
  }
  return { cpu, mem };
}

/** Percent values to fractions, the way CloudSim does it (value / 100.0). */
export function percentToFractions(values: readonly number[]): Float64Array {
  const out = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = values[i]! / 100.0;
  return out;
}

/** Byte-order comparison of file names (the order the notes require: sorted, not fs order). */
export function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

/** Builds a VmTrace from file text in the given format. */
export function parseTrace(format: TraceFormat, text: string, name: string, expected = 0): VmTrace {
  if (format === "planetlab") return { name, cpu: percentToFractions(parsePlanetLab(text, name, expected)) };
  const { cpu, mem } = parseCpuMem(text, name, expected);
  return { name, cpu: percentToFractions(cpu), mem: percentToFractions(mem) };
}
