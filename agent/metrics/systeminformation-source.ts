import { cpus as osCpus, loadavg } from "node:os";
import si from "systeminformation";
import type { HostMetricsSource, HostSample } from "../ports/host-metrics-source.js";

/**
 * The real host: CPU usage and memory from systeminformation, load averages and core count from
 * node:os. Memory "available" is what the kernel reports as MemAvailable (reclaimable caches
 * count as free), which is what a destination can actually give a new VM.
 */
export function createSystemInformationSource(opts: { cpusOverride?: number; memOverrideMiB?: number } = {}): HostMetricsSource {
  return {
    async sample(): Promise<HostSample> {
      const [load, mem] = await Promise.all([si.currentLoad(), si.mem()]);
      const [l1, l5, l15] = loadavg();
      const MiB = 1024 * 1024;
      const memTotalMiB = opts.memOverrideMiB ?? mem.total / MiB;
      return {
        cpus: opts.cpusOverride ?? Math.max(1, osCpus().length),
        cpuPercent: Math.min(100, Math.max(0, Number.isFinite(load.currentLoad) ? load.currentLoad : 0)),
        load1: l1 ?? 0,
        load5: l5 ?? 0,
        load15: l15 ?? 0,
        memTotalMiB,
        memAvailableMiB: Math.min(memTotalMiB, Math.max(0, mem.available / MiB)),
      };
    },
  };
}
