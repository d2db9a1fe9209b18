import type { HostMetrics } from "../../shared/schemas/host-metrics.js";

/** Metrics of an 8-CPU, 32 GiB host at 10 % CPU running `vms`, each of `vmMemMiB` and 5 % CPU. */
export const hostMetrics = (host: string, vms: string[], o: { availMiB?: number; vmMemMiB?: number } = {}): HostMetrics => ({
  v: 1,
  host,
  ts: 1,
  seq: 1,
  cpus: 8,
  hostCpuPercent: 10,
  load1: 0,
  load5: 0,
  load15: 0,
  memTotalMiB: 32768,
  memAvailableMiB: o.availMiB ?? 16384,
  loadSource: "host",
  cpuPercent: 10,
  vms: vms.map((name) => ({
    name,
    state: "running" as const,
    vcpus: 1,
    memMiB: o.vmMemMiB ?? 2048,
    maxMemMiB: o.vmMemMiB ?? 2048,
    cpuPercent: 5,
    migrating: false,
  })),
});
