import { describe, expect, it } from "vitest";
import { ClusterState } from "../../../orchestrator/shell/cluster-state.js";
import { defaultPolicy } from "../../../shared/config/policy.js";
import type { HostMetrics } from "../../../shared/schemas/host-metrics.js";
import { ClusterSnapshot } from "../../../shared/schemas/snapshot.js";
import type { VmInfo } from "../../../shared/schemas/vm.js";

// Each VM's memory peak over mem_peak_window, kept from the agents' reports and handed to the
// planner as SnapshotVm.memPeakMiB (it follows the VM across hosts).

const vm = (name: string, memMiB: number, state: VmInfo["state"] = "running"): VmInfo => ({
  name,
  state,
  vcpus: 1,
  memMiB,
  maxMemMiB: 8192,
  cpuPercent: 10,
  migrating: false,
});
const metrics = (host: string, ts: number, vms: VmInfo[]): HostMetrics => ({
  v: 1,
  host,
  ts,
  seq: ts,
  cpus: 4,
  hostCpuPercent: 20,
  load1: 0,
  load5: 0,
  load15: 0,
  memTotalMiB: 16384,
  memAvailableMiB: 8192,
  loadSource: "host",
  cpuPercent: 20,
  vms,
});
const snap = (s: ClusterState, now: number) =>
  ClusterSnapshot.parse(s.snapshot({ now, mapping: new Map(), maintenance: new Set(), inFlight: [], history: [], frozenVms: [] }));
const vmOf = (s: ClusterState, now: number, name: string) => snap(s, now).vms.find((v) => v.name === name);

describe("ClusterState memory peaks", () => {
  const policy = { ...defaultPolicy(), stale_after: 1e9, mem_peak_window: 600 };

  it("reports a VM's peak within mem_peak_window when it is above its current memory, and forgets it after", () => {
    const s = new ClusterState();
    s.ingestMetrics(metrics("a", 1, [vm("x", 2048)]), 0, policy);
    expect(vmOf(s, 0, "x")!.memPeakMiB).toBeUndefined();
    s.ingestMetrics(metrics("a", 2, [vm("x", 6144)]), 100_000, policy);
    s.ingestMetrics(metrics("a", 3, [vm("x", 1024)]), 200_000, policy);
    expect(vmOf(s, 200_000, "x")).toMatchObject({ memMiB: 1024, memPeakMiB: 6144 });
    // 600 s after the peak it is out of the window.
    s.ingestMetrics(metrics("a", 4, [vm("x", 1024)]), 700_001, policy);
    expect(vmOf(s, 700_001, "x")!.memPeakMiB).toBeUndefined();
  });

  it("follows the VM to another host, and drops the peaks of VMs no host lists", () => {
    const s = new ClusterState();
    s.ingestMetrics(metrics("a", 1, [vm("x", 4096), vm("y", 4096)]), 0, policy);
    s.ingestMetrics(metrics("a", 2, [vm("y", 512)]), 10_000, policy);
    s.ingestMetrics(metrics("b", 1, [vm("x", 1024)]), 10_000, policy);
    expect(vmOf(s, 10_000, "x")).toMatchObject({ host: "b", memPeakMiB: 4096 });
    s.ingestMetrics(metrics("a", 3, []), 20_000, policy);
    expect(vmOf(s, 20_000, "y")).toBeUndefined();
    s.ingestMetrics(metrics("a", 4, [vm("y", 512)]), 30_000, policy);
    expect(vmOf(s, 30_000, "y")!.memPeakMiB).toBeUndefined();
  });

  it("counts only running or paused VMs, and nothing with mem_peak_window 0", () => {
    const s = new ClusterState();
    s.ingestMetrics(metrics("a", 1, [vm("x", 4096, "shutoff")]), 0, policy);
    s.ingestMetrics(metrics("a", 2, [vm("x", 1024)]), 10_000, policy);
    expect(vmOf(s, 10_000, "x")!.memPeakMiB).toBeUndefined();
    const off = new ClusterState();
    const p0 = { ...policy, mem_peak_window: 0 };
    off.ingestMetrics(metrics("a", 1, [vm("x", 4096)]), 0, p0);
    off.ingestMetrics(metrics("a", 2, [vm("x", 1024)]), 10_000, p0);
    expect(vmOf(off, 10_000, "x")!.memPeakMiB).toBeUndefined();
  });
});
