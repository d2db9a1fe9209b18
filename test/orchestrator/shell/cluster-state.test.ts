import { describe, expect, it } from "vitest";
import { ClusterState } from "../../../orchestrator/shell/cluster-state.js";
import { defaultPolicy } from "../../../shared/config/policy.js";
import type { HostMetrics } from "../../../shared/schemas/host-metrics.js";
import type { VmInfo } from "../../../shared/schemas/vm.js";
import { ClusterSnapshot, type InFlightMigration, type PastMove } from "../../../shared/schemas/snapshot.js";
import { plan } from "../../../orchestrator/core/index.js";

const policy = { ...defaultPolicy(), stale_after: 30 };
const vm = (name: string, o: Partial<VmInfo> = {}): VmInfo => ({
  name,
  state: "running",
  vcpus: 1,
  memMiB: 1024,
  maxMemMiB: 1024,
  cpuPercent: 10,
  migrating: false,
  ...o,
});
const metrics = (host: string, ts: number, vms: VmInfo[], cpu = 20): HostMetrics => ({
  v: 1,
  host,
  ts,
  seq: ts,
  cpus: 4,
  hostCpuPercent: cpu,
  load1: 0,
  load5: 0,
  load15: 0,
  memTotalMiB: 8192,
  memAvailableMiB: 4096,
  loadSource: "host",
  cpuPercent: cpu,
  vms,
});

describe("ClusterState", () => {
  it("judges freshness on metrics: a heartbeat alone keeps the agent alive but not the host usable", () => {
    const s = new ClusterState();
    s.ingestMetrics(metrics("a", 1, []), 1_000, policy);
    s.ingestHeartbeat(
      { v: 1, host: "a", ts: 2, seq: 2, agentVersion: "x", startedAt: 0, collectOk: false, collectError: "virsh: failed to connect", migrationsRunning: 0 },
      40_000,
    );
    expect(s.isFresh("a", 40_000, policy)).toBe(false);
    const [st] = s.statuses(40_000, policy, new Map(), new Set());
    expect(st).toMatchObject({ fresh: false, agentAlive: true, collectOk: false });
    expect(s.snapshot({ now: 40_000, mapping: new Map(), maintenance: new Set(), inFlight: [], history: [], frozenVms: [] }).hosts[0]!.lastSeen).toBe(1_000);
  });

  it("drops metrics older than the newest it has", () => {
    const s = new ClusterState();
    s.ingestMetrics(metrics("a", 100, [], 90), 1_000, policy);
    expect(s.ingestMetrics(metrics("a", 50, [], 10), 1_100, policy)).toBe(false);
    expect(s.metrics("a")!.cpuPercent).toBe(90);
  });

  it("lists a VM once in the snapshot: where it runs, not the paused incoming copy", () => {
    const s = new ClusterState();
    s.ingestMetrics(metrics("a", 1, [vm("x", { migrating: true })]), 1_000, policy);
    s.ingestMetrics(metrics("b", 1, [vm("x", { state: "paused" }), vm("y")]), 1_000, policy);
    const snap = s.snapshot({ now: 1_500, mapping: new Map([["a", "10.0.0.1"]]), maintenance: new Set(["b"]), inFlight: [], history: [], frozenVms: [] });
    expect(snap.vms.map((v) => [v.name, v.host])).toEqual([
      ["x", "a"],
      ["y", "b"],
    ]);
    expect(snap.hosts.map((h) => [h.id, h.address ?? null, h.maintenance])).toEqual([
      ["a", "10.0.0.1", false],
      ["b", null, true],
    ]);
    expect(s.locate("x").map((l) => l.host)).toEqual(["a", "b"]);
  });

  it("keeps its VM index current as inventories change and hosts are forgotten", () => {
    const s = new ClusterState();
    s.ingestMetrics(metrics("a", 1, [vm("x"), vm("y")]), 1_000, policy);
    s.ingestMetrics(metrics("b", 1, []), 1_000, policy);
    expect(s.locate("x").map((l) => l.host)).toEqual(["a"]);
    s.ingestMetrics(metrics("a", 2, [vm("y")]), 2_000, policy);
    s.ingestMetrics(metrics("b", 2, [vm("x")]), 2_000, policy);
    expect(s.locate("x").map((l) => l.host)).toEqual(["b"]);
    expect(s.locate("y")[0]!.info.name).toBe("y");
    s.forget("a");
    expect(s.locate("y")).toEqual([]);
    expect(s.locate("never")).toEqual([]);
  });

  it("follows a VM through both ends of a migration and back, and reports each host's newest figures", () => {
    const s = new ClusterState();
    const hosts = () => s.locate("x").map((l) => l.host);
    s.ingestMetrics(metrics("a", 1, [vm("x", { cpuPercent: 10 }), vm("y")]), 1_000, policy);
    s.ingestMetrics(metrics("b", 1, [vm("x", { state: "paused" })]), 1_000, policy);
    s.ingestMetrics(metrics("c", 1, [vm("x", { state: "paused" })]), 1_000, policy);
    expect(hosts()).toEqual(["a", "b", "c"]);
    s.ingestMetrics(metrics("c", 2, []), 2_000, policy);
    s.ingestMetrics(metrics("a", 2, [vm("y")]), 2_000, policy);
    expect(hosts()).toEqual(["b"]);
    s.ingestMetrics(metrics("a", 3, [vm("x", { cpuPercent: 20 }), vm("y")]), 3_000, policy);
    expect(hosts()).toEqual(["a", "b"]);
    s.ingestMetrics(metrics("b", 3, []), 3_000, policy);
    expect(hosts()).toEqual(["a"]);
    // Same VMs in the same order: the index is kept, the figures are the new message's.
    s.ingestMetrics(metrics("a", 4, [vm("x", { cpuPercent: 30 }), vm("y")]), 4_000, policy);
    expect(s.locate("x")[0]!.info.cpuPercent).toBe(30);
    // Same VMs, another order.
    s.ingestMetrics(metrics("a", 5, [vm("y"), vm("x", { cpuPercent: 40 })]), 5_000, policy);
    expect(s.locate("x")[0]!.info.cpuPercent).toBe(40);
    expect(s.locate("y")[0]!.info.name).toBe("y");
  });

  it("reports the agent's error while its heartbeats say collection fails", () => {
    const s = new ClusterState();
    s.ingestMetrics(metrics("a", 1, []), 1_000, policy);
    expect(s.collectFailure("a")).toBeUndefined();
    s.ingestHeartbeat(
      { v: 1, host: "a", ts: 2, seq: 2, agentVersion: "x", startedAt: 0, collectOk: false, collectError: "libvirtd down", migrationsRunning: 0 },
      2_000,
    );
    expect(s.collectFailure("a")).toBe("libvirtd down");
    // The planner sees it too, and will not send VMs there (DEST_UNHEALTHY).
    const snap = () => s.snapshot({ now: 3_000, mapping: new Map(), maintenance: new Set(), inFlight: [], history: [], frozenVms: [] }).hosts[0]!;
    expect(snap().collectError).toBe("libvirtd down");
    s.ingestMetrics(metrics("a", 3, []), 3_000, policy);
    expect(s.collectFailure("a")).toBeUndefined();
    expect(snap().collectError).toBeUndefined();
  });

  it("keeps a bounded window of samples for max_over", () => {
    const s = new ClusterState();
    const p = { ...policy, interval: 1, max_over: 10, stale_after: 5, predict_window: 0 };
    for (let t = 0; t < 200; t++) s.ingestMetrics(metrics("a", t, []), t * 1000, p);
    const snap = s.snapshot({ now: 199_000, mapping: new Map(), maintenance: new Set(), inFlight: [], history: [], frozenVms: [] });
    const samples = snap.hosts[0]!.samples;
    expect(samples.length).toBeLessThanOrEqual(20);
    expect(samples[0]!.ts).toBeGreaterThanOrEqual(199_000 - 18_000);
  });

  it("keeps predict_window of samples when that is longer, for the load trend", () => {
    const s = new ClusterState();
    const p = { ...policy, interval: 1, max_over: 10, stale_after: 5, predict_window: 60 };
    for (let t = 0; t < 200; t++) s.ingestMetrics(metrics("a", t, []), t * 1000, p);
    const samples = s.snapshot({ now: 199_000, mapping: new Map(), maintenance: new Set(), inFlight: [], history: [], frozenVms: [] }).hosts[0]!.samples;
    expect(samples[0]!.ts).toBe(199_000 - 60_000);
  });

  describe("a VM that two hosts list", () => {
    const snap = (s: ClusterState, inFlight: InFlightMigration[] = []) =>
      s.snapshot({
        now: 1_500,
        mapping: new Map([
          ["a", "10.0.0.1"],
          ["b", "10.0.0.2"],
          ["c", "10.0.0.3"],
        ]),
        maintenance: new Set(),
        inFlight,
        history: [],
        frozenVms: [],
      });
    const twoEnds = () => {
      const s = new ClusterState();
      s.ingestMetrics(metrics("a", 1, [vm("x", { migrating: true })]), 1_000, policy);
      s.ingestMetrics(metrics("b", 1, [vm("x", { state: "paused" }), vm("y")]), 1_000, policy);
      s.ingestMetrics(metrics("c", 1, [vm("z")]), 1_000, policy);
      return s;
    };

    it("is planned with where it runs and the other hosts in alsoListedOn, so the planner leaves it alone", () => {
      const s = twoEnds();
      expect(snap(s).vms.find((v) => v.name === "x")).toMatchObject({ host: "a", alsoListedOn: ["b"] });
      expect(snap(s).vms.find((v) => v.name === "y")).not.toHaveProperty("alsoListedOn");
      const p = plan(snap(s), { ...defaultPolicy(), stale_after: 30 }, 1_500, { mode: "manual", vm: "x", destination: "c" });
      expect(p.moves).toEqual([]);
      expect(p.decisions.find((d) => d.subject === "x")).toMatchObject({ code: "VM_LISTED_TWICE", numbers: { host: "a", alsoListedOn: "b" } });
    });

    it("while its migration is the orchestrator's own, it is only VM_MIGRATING", () => {
      const flight: InFlightMigration = { requestId: "m-1", vm: "x", source: "a", destination: "b", startedAt: 1_000, memMiB: 1024, cpuPercent: 10 };
      const p = plan(snap(twoEnds(), [flight]), { ...defaultPolicy(), stale_after: 30 }, 1_500, { mode: "manual", vm: "x", destination: "c" });
      expect(p.decisions.filter((d) => d.subject === "x").map((d) => d.code)).toEqual(["VM_MIGRATING"]);
    });

    it("a shut-off copy (a definition left behind by a migration) is not a second listing", () => {
      const s = new ClusterState();
      s.ingestMetrics(metrics("a", 1, [vm("x", { state: "shutoff" })]), 1_000, policy);
      s.ingestMetrics(metrics("b", 1, [vm("x")]), 1_000, policy);
      expect(snap(s).vms).toEqual([expect.not.objectContaining({ alsoListedOn: expect.anything() })]);
      expect(snap(s).vms[0]!.host).toBe("b");
    });
  });

  it("builds only keys of the strict snapshot schema: what `ballast snapshot` prints reads back unchanged", () => {
    const s = new ClusterState();
    s.ingestMetrics(metrics("a", 1, [vm("x", { migrating: true }), vm("w", { state: "shutoff", cpuPercent: null })]), 1_000, policy);
    s.ingestMetrics(metrics("b", 1, [vm("x", { state: "paused" })]), 1_000, policy);
    s.ingestHeartbeat(
      { v: 1, host: "b", ts: 2, seq: 2, agentVersion: "x", startedAt: 0, collectOk: false, collectError: "libvirtd down", migrationsRunning: 0 },
      1_200,
    );
    const history: PastMove[] = [{ vm: "x", source: "b", destination: "a", finishedAt: 900, outcome: "succeeded", strategy: "evacuate" }];
    const inFlight: InFlightMigration[] = [{ requestId: "m-1", vm: "x", source: "a", destination: "b", startedAt: 1_000, memMiB: 1024, cpuPercent: 10 }];
    const built = s.snapshot({ now: 1_500, mapping: new Map([["a", "10.0.0.1"]]), maintenance: new Set(["b"]), inFlight, history, frozenVms: ["w"] });
    const printed = JSON.parse(JSON.stringify(built)) as unknown;
    expect(ClusterSnapshot.parse(printed)).toEqual(built);
  });
});
