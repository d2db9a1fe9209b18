import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { compareBytes, parseTrace, TraceParseError, type TraceFormat, type VmTrace } from "./parse.js";

// The only file-system code of the simulator's input side: read a folder of per-VM trace files
// in sorted byte order (not the file system's order: VM i's size depends on its position).
//
// A trace may have any number of samples, but every VM of a run must have the same number: the
// simulated span is samples × sample interval, and a VM whose trace ended early would either stop
// (how long?) or repeat its last value for hours, both silently. So a mismatch is an error that
// names the file and its count.

export interface LoadOptions {
  /** Lines each file must have; 0 (the default) accepts any length, the same for every file. */
  expectedSamples?: number;
  /** Keep at most this many files (after sorting), for short test runs. */
  limit?: number;
}

export function listTraceFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => !f.startsWith(".") && f !== "README.md" && statSync(join(dir, f)).isFile())
    .sort(compareBytes);
}

/** Throws naming the first file whose sample count differs from the first file's. */
export function checkSameLength(traces: readonly VmTrace[], where: string): void {
  const first = traces[0];
  if (!first) return;
  const odd = traces.find((t) => t.cpu.length !== first.cpu.length);
  if (odd)
    throw new TraceParseError(
      `${where}: every VM must have the same number of samples; ${first.name} has ${first.cpu.length}, ${odd.name} has ${odd.cpu.length}`,
    );
}

export function loadTraceDir(dir: string, format: TraceFormat, opts: LoadOptions = {}): VmTrace[] {
  let files = listTraceFiles(dir);
  if (opts.limit !== undefined) files = files.slice(0, opts.limit);
  if (files.length === 0) throw new TraceParseError(`${dir}: no trace files`);
  const traces = files.map((f) => parseTrace(format, readFileSync(join(dir, f), "utf8"), f, opts.expectedSamples ?? 0));
  checkSameLength(traces, dir);
  return traces;
}

export interface JoinOptions extends LoadOptions {
  /**
   * Keep only the VMs (file names) present in every folder instead of failing when the sets
   * differ (PlanetLab's days hold different VMs: 558 of 20110303's 1052 are also in 20110306).
   */
  commonVms?: boolean;
}

export interface JoinedTraces {
  traces: VmTrace[];
  /** VMs left out because some folder lacks them (commonVms only). */
  dropped: number;
}

/**
 * Several folders (days, in the order given) as one continuous trace per VM: VM "x" is file x of
 * the first folder followed by file x of the second, and so on. `limit` applies to the joined set.
 */
export function loadTraceDirs(dirs: readonly string[], format: TraceFormat, opts: JoinOptions = {}): JoinedTraces {
  if (dirs.length === 0) throw new TraceParseError("no trace folder");
  if (dirs.length === 1) return { traces: loadTraceDir(dirs[0]!, format, opts), dropped: 0 };
  const per = dirs.map((d) => {
    const t = loadTraceDir(d, format, { ...(opts.expectedSamples !== undefined ? { expectedSamples: opts.expectedSamples } : {}) });
    return new Map(t.map((x) => [x.name, x]));
  });
  const all = [...new Set(per.flatMap((m) => [...m.keys()]))].sort(compareBytes);
  let names = all.filter((n) => per.every((m) => m.has(n)));
  const dropped = all.length - names.length;
  if (dropped > 0 && !opts.commonVms) {
    const k = per.findIndex((m) => all.some((n) => !m.has(n)));
    const missing = all.find((n) => !per[k]!.has(n))!;
    throw new TraceParseError(
      `${dirs[k]}: ${dropped} of ${all.length} VMs are not in every folder (e.g. ${missing}); keep only the ${names.length} common ones with --common-vms`,
    );
  }
  if (names.length === 0) throw new TraceParseError(`${dirs.join(", ")}: no VM is in every folder`);
  if (opts.limit !== undefined) names = names.slice(0, opts.limit);
  const traces = names.map((name) => {
    const parts = per.map((m) => m.get(name)!);
    const mem = parts.every((p) => p.mem) ? concat(parts.map((p) => p.mem!)) : undefined;
    return mem ? { name, cpu: concat(parts.map((p) => p.cpu)), mem } : { name, cpu: concat(parts.map((p) => p.cpu)) };
  });
  return { traces, dropped };
}

function concat(xs: readonly Float64Array[]): Float64Array {
  const out = new Float64Array(xs.reduce((s, x) => s + x.length, 0));
  let o = 0;
  for (const x of xs) {
    out.set(x, o);
    o += x.length;
  }
  return out;
}
