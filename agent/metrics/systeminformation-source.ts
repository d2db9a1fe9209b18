import { createRequire } from "node:module";
import { cpus as osCpus, loadavg } from "node:os";
import type { Systeminformation } from "systeminformation";

// Only systeminformation's CPU and memory modules: its index loads every module (disks, network,
// graphics, docker, ...), which costs the agent a few MiB of memory for nothing it uses. The
// package has no "exports" map, so its lib/ files are reachable, and they are CommonJS.
const require = createRequire(import.meta.url);
const { currentLoad } = require("systeminformation/lib/cpu.js") as { currentLoad(): Promise<Systeminformation.CurrentLoadData> };
const { mem } = require("systeminformation/lib/memory.js") as { mem(): Promise<Systeminformation.MemData> };
import type { HostMetricsSource, HostSample } from "../ports/host-metrics-source.js";

/**
 * The real host: CPU usage and memory from systeminformation, load averages and core count from
 * node:os. Memory "available" is what the kernel reports as MemAvailable (reclaimable caches
 * count as free), which is what a destination can actually give a new VM.
 */
export function createSystemInformationSource(opts: { cpusOverride?: number; memOverrideMiB?: number } = {}): HostMetricsSource {
  return {
    async sample(): Promise<HostSample> {
      const [load, memory] = await Promise.all([currentLoad(), mem()]);
      const [l1, l5, l15] = loadavg();
      const MiB = 1024 * 1024;
      const memTotalMiB = opts.memOverrideMiB ?? memory.total / MiB;
      return {
        cpus: opts.cpusOverride ?? Math.max(1, osCpus().length),
        cpuPercent: Math.min(100, Math.max(0, Number.isFinite(load.currentLoad) ? load.currentLoad : 0)),
        load1: l1 ?? 0,
        load5: l5 ?? 0,
        load15: l15 ?? 0,
        memTotalMiB,
        memAvailableMiB: Math.min(memTotalMiB, Math.max(0, memory.available / MiB)),
      };
    },
  };
}
