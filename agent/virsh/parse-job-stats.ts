import type { MigrationStats } from "../../shared/schemas/agent-api.js";

// Parsers for libvirt's migration job statistics in the three shapes virsh prints them:
//  - `virsh event --event job-completed`: "event 'job-completed' for domain 'X':" then
//    tab-indented "field: value" lines with raw typed parameters (ms, bytes),
//  - `virsh domjobinfo --rawstats`: "field: value" lines, same names,
//  - `virsh domjobinfo` (human): "Data processed:   708.771 KiB", "Time elapsed:   533   ms".
// Pure functions, tested on captured output.

/** Raw typed parameters ("time_elapsed: 4114") of one job-completed event, or undefined when none. */
export function parseJobCompletedEvent(text: string): Map<string, number> | undefined {
  const lines = text.split(/\r?\n/);
  const start = lines.findIndex((l) => /event 'job-completed' for domain /.test(l));
  if (start < 0) return undefined;
  const fields = new Map<string, number>();
  for (const line of lines.slice(start + 1)) {
    const m = /^\s+([a-z_]+):\s*(-?\d+(?:\.\d+)?)\s*$/.exec(line);
    if (!m) break; // the block ends at the first line that is not an indented field
    fields.set(m[1]!, Number(m[2]));
  }
  return fields;
}

/** `field: value` lines of `domjobinfo --rawstats`. */
export function parseRawJobStats(text: string): Map<string, number> {
  const fields = new Map<string, number>();
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*([a-z_]+):\s*(-?\d+(?:\.\d+)?)\s*$/.exec(line);
    if (m) fields.set(m[1]!, Number(m[2]));
  }
  return fields;
}

/** MigrationStats from raw libvirt job fields; durationMs is the caller's wall-clock time. */
export function migrationStatsFromJobFields(fields: Map<string, number>, durationMs: number): MigrationStats {
  const stats: MigrationStats = { durationMs: Math.max(0, durationMs) };
  const pick = (k: string) => {
    const v = fields.get(k);
    return v !== undefined && v >= 0 ? v : undefined;
  };
  const set = <K extends keyof MigrationStats>(key: K, v: number | undefined) => {
    if (v !== undefined) (stats as Record<string, unknown>)[key] = v;
  };
  set("elapsedMs", pick("time_elapsed"));
  set("downtimeMs", pick("downtime"));
  set("dataTotalBytes", pick("data_total"));
  set("dataProcessedBytes", pick("data_processed"));
  set("memoryBps", pick("memory_bps"));
  set("memoryIterations", pick("memory_iteration"));
  return stats;
}

const UNIT: Record<string, number> = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, TiB: 1024 ** 4, PiB: 1024 ** 5 };

/** Human `virsh domjobinfo` output: "Label:  value [unit]" pairs, sizes converted to bytes. */
export interface HumanJobInfo {
  jobType?: string;
  operation?: string;
  timeElapsedMs?: number;
  dataProcessedBytes?: number;
  dataRemainingBytes?: number;
  dataTotalBytes?: number;
  memoryBps?: number;
  iteration?: number;
  downtimeMs?: number;
}

export function parseDomjobinfo(text: string): HumanJobInfo {
  const out: HumanJobInfo = {};
  for (const line of text.split(/\r?\n/)) {
    const m = /^([A-Za-z][A-Za-z /.-]*?):\s+(.*?)\s*$/.exec(line);
    if (!m) continue;
    const label = m[1]!;
    const value = m[2]!;
    const size = () => {
      const s = /^(\d+(?:\.\d+)?)\s*([KMGTP]?i?B)(?:\/s)?$/.exec(value);
      return s ? Math.round(Number(s[1]) * (UNIT[s[2]!] ?? NaN)) : undefined;
    };
    const int = () => {
      const s = /^(\d+)/.exec(value);
      return s ? Number(s[1]) : undefined;
    };
    switch (label) {
      case "Job type":
        out.jobType = value;
        break;
      case "Operation":
        out.operation = value;
        break;
      case "Time elapsed":
        out.timeElapsedMs = int();
        break;
      case "Data processed":
        out.dataProcessedBytes = size();
        break;
      case "Data remaining":
        out.dataRemainingBytes = size();
        break;
      case "Data total":
        out.dataTotalBytes = size();
        break;
      case "Memory bandwidth":
        out.memoryBps = size();
        break;
      case "Iteration":
        out.iteration = int();
        break;
      case "Total downtime":
        out.downtimeMs = int();
        break;
    }
  }
  for (const k of Object.keys(out) as Array<keyof HumanJobInfo>) if (out[k] === undefined || Number.isNaN(out[k])) delete out[k];
  return out;
}

/**
 * Progress of a running job in percent, or undefined when libvirt has no byte counts yet
 * (early in a migration only "Job type" and "Time elapsed" are printed). Data processed can
 * exceed data total when memory is sent again (dirty pages), so remaining/total is used first.
 */
export function jobProgressPercent(info: HumanJobInfo): number | undefined {
  const total = info.dataTotalBytes;
  if (total === undefined || total <= 0) return undefined;
  let pct: number;
  if (info.dataRemainingBytes !== undefined) pct = (1 - info.dataRemainingBytes / total) * 100;
  else if (info.dataProcessedBytes !== undefined) pct = (info.dataProcessedBytes / total) * 100;
  else return undefined;
  return Math.min(100, Math.max(0, pct));
}
