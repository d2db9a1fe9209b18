// load_source "domains": a host's CPU load is what its own domains use. Needed where several
// hypervisors share one kernel (the lab), so host-wide figures are the same for all of them.

/**
 * Sum of the domains' CPU (percent of one core each) divided by the host's cores: percent of
 * the whole host, clamped to 0..100. Domains without a figure yet (first sample) count as 0.
 */
export function domainLoadPercent(vmCpuPercents: ReadonlyArray<number | null>, cpus: number): number {
  if (cpus <= 0) return 0;
  const sum = vmCpuPercents.reduce<number>((s, v) => s + (v ?? 0), 0);
  return Math.min(100, Math.max(0, sum / cpus));
}
