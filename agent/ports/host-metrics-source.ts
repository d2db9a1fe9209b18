/** Host-level numbers, as the operating system (or a simulated host) reports them. */
export interface HostSample {
  cpus: number;
  /** Whole-host CPU usage, percent of all cores (0..100). */
  cpuPercent: number;
  load1: number;
  load5: number;
  load15: number;
  memTotalMiB: number;
  memAvailableMiB: number;
}

export interface HostMetricsSource {
  sample(): Promise<HostSample>;
}
