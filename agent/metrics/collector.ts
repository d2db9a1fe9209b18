import type { Logger } from "../../shared/logger.js";
import type { LoadSource } from "../../shared/schemas/host-metrics.js";
import { HostMetrics } from "../../shared/schemas/host-metrics.js";
import { VmName } from "../../shared/schemas/ids.js";
import type { VmInfo } from "../../shared/schemas/vm.js";
import type { Clock } from "../ports/clock.js";
import type { HostMetricsSource } from "../ports/host-metrics-source.js";
import type { Hypervisor } from "../ports/hypervisor.js";
import { CpuDeltaTracker } from "./cpu-delta.js";
import { domainLoadPercent } from "./domain-load.js";

export interface CollectorOptions {
  host: string;
  hypervisor: Hypervisor;
  source: HostMetricsSource;
  clock: Clock;
  logger: Logger;
  loadSource: LoadSource;
  /** Whether a VM is being migrated away by this agent right now. */
  isMigrating: (vm: string) => boolean;
}

/**
 * One HostMetrics per call: one domain listing + one host sample, per-VM CPU from cpu.time
 * deltas since the previous call. The result is validated against the published schema.
 */
export class MetricsCollector {
  private readonly cpu = new CpuDeltaTracker();
  private seq = 0;
  private readonly warnedNames = new Set<string>();

  constructor(private readonly o: CollectorOptions) {}

  async collect(): Promise<HostMetrics> {
    const { hypervisor, source, clock } = this.o;
    const [domains, host] = await Promise.all([hypervisor.listDomains(), source.sample()]);
    const ts = Math.round(clock.now());
    const cpuByVm = this.cpu.update(domains, ts);
    const vms: VmInfo[] = [];
    for (const d of domains) {
      // A domain whose name Ballast cannot address safely is left out (and said once), rather
      // than making the whole host's metrics invalid.
      if (!VmName.safeParse(d.name).success) {
        if (!this.warnedNames.has(d.name)) this.o.logger.warn({ vm: d.name }, "domain name not usable by Ballast; ignored");
        this.warnedNames.add(d.name);
        continue;
      }
      vms.push({
        name: d.name,
        state: d.state,
        vcpus: d.vcpus,
        memMiB: d.memMiB,
        maxMemMiB: d.maxMemMiB,
        cpuPercent: cpuByVm.get(d.name) ?? null,
        migrating: this.o.isMigrating(d.name),
      });
    }
    const cpuPercent =
      this.o.loadSource === "domains"
        ? domainLoadPercent(
            vms.map((v) => v.cpuPercent),
            host.cpus,
          )
        : host.cpuPercent;
    return HostMetrics.parse({
      v: 1,
      host: this.o.host,
      ts,
      seq: this.seq++,
      cpus: host.cpus,
      hostCpuPercent: host.cpuPercent,
      load1: host.load1,
      load5: host.load5,
      load15: host.load15,
      memTotalMiB: host.memTotalMiB,
      memAvailableMiB: host.memAvailableMiB,
      loadSource: this.o.loadSource,
      cpuPercent,
      vms,
    });
  }
}
