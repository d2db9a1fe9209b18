import type { HostMetricsSource, HostSample } from "../ports/host-metrics-source.js";
import type { SimHypervisor } from "./sim-hypervisor.js";

/**
 * Host numbers of a simulated host, from its own VMs: CPU = sum of VM CPU over the host's cores,
 * load averages = busy cores, available memory = total - VM memory - reserve.
 */
export function createSimMetricsSource(sim: SimHypervisor, opts: { cpusOverride?: number; memOverrideMiB?: number } = {}): HostMetricsSource {
  return {
    async sample(): Promise<HostSample> {
      const cpus = opts.cpusOverride ?? sim.config.cpus;
      const memTotalMiB = opts.memOverrideMiB ?? sim.config.mem_mib;
      const busy = sim.totalVmCpuPercent();
      const load = busy / 100;
      return {
        cpus,
        cpuPercent: Math.min(100, busy / cpus),
        load1: load,
        load5: load,
        load15: load,
        memTotalMiB,
        memAvailableMiB: Math.max(0, memTotalMiB - sim.totalVmMemMiB() - sim.config.reserve_mib),
      };
    },
  };
}
