import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { main } from "../../cli/main.js";
import { offlinePlan, parseSnapshot } from "../../cli/offline-plan.js";
import { ClusterState } from "../../orchestrator/shell/cluster-state.js";
import { defaultPolicy } from "../../shared/config/policy.js";
import type { HostMetrics } from "../../shared/schemas/host-metrics.js";
import type { ClusterSnapshot, PastMove, SnapshotHost, SnapshotVm } from "../../shared/schemas/snapshot.js";
import { hostFacts, vmFacts } from "../orchestrator/core/facts-builders.js";

// `ballast plan --snapshot FILE` reads hand-written files: a misspelt key or a time in seconds
// must be an error that says where, never a plan made on something else.

const dir = mkdtempSync(join(tmpdir(), "ballast-offline-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const file = (doc: unknown): string => {
  const f = join(dir, `snap-${n++}.json`);
  writeFileSync(f, JSON.stringify(doc));
  return f;
};
const planFile = (doc: unknown, o: { mode?: string; host?: string; now?: string } = {}) =>
  offlinePlan({ snapshotFile: file(doc), mode: o.mode ?? "cycle", useEmpty: false, ...(o.host ? { host: o.host } : {}), ...(o.now ? { now: o.now } : {}) });

const NOW = 1_700_000_000_000;
const host = (id: string, cpu: number, maintenance = false): SnapshotHost => ({
  id,
  cpus: 8,
  memTotalMiB: 65536,
  memAvailableMiB: 52428.8,
  cpuPercent: cpu,
  lastSeen: NOW,
  samples: [0, 10, 20].map((ago) => ({ ts: NOW - ago * 1000, cpu, mem: 20 })),
  address: `10.0.0.${id.length}`,
  maintenance,
  tags: [],
});
const vm = (name: string, on: string): SnapshotVm => ({ name, host: on, state: "running", vcpus: 2, memMiB: 2048, cpuPercent: 50, tags: [] });
const past = (v: string, source: string, destination: string, agoSeconds: number): PastMove => ({
  vm: v,
  source,
  destination,
  finishedAt: NOW - agoSeconds * 1000,
  outcome: "succeeded",
});

// a is in maintenance and the least loaded; x on c must go somewhere (evacuation of c).
// Hand-written files: any key may be there.
type SnapshotFile = Omit<ClusterSnapshot, "hosts" | "vms"> & { hosts: Record<string, unknown>[]; vms: Record<string, unknown>[] };
const cluster = (): SnapshotFile => ({
  v: 1,
  takenAt: NOW,
  hosts: [host("a", 5, true), host("b", 30), host("c", 50)],
  vms: [vm("x", "c"), vm("b1", "b")],
  inFlight: [],
  history: [],
  frozenVms: [],
  incompatible: [],
});

describe("plan --snapshot: a strict snapshot format", () => {
  it('refuses a misspelt key, naming where it is and what it may mean ("maintainance": true put a VM in maintenance)', () => {
    const s = cluster();
    const { maintenance: _, ...a } = s.hosts[0]!;
    s.hosts[0] = { ...a, maintainance: true };
    expect(() => planFile(s, { mode: "evacuate", host: "c" })).toThrow('hosts[0] (a): unknown key "maintainance" (did you mean "maintenance"?)');
  });

  it.each([
    { where: "the top level", edit: (s: Record<string, unknown>) => (s.frozenVM = []), says: 'unknown key "frozenVM" (did you mean "frozenVms"?)' },
    {
      where: "a sample",
      edit: (s: { hosts: { samples: Record<string, unknown>[] }[] }) => (s.hosts[1]!.samples[0]!.cpuu = 3),
      says: 'hosts[1] (b).samples[0]: unknown key "cpuu" (did you mean "cpu"?)',
    },
    {
      where: "a VM",
      edit: (s: { vms: Record<string, unknown>[] }) => (s.vms[0]!.memMib = 4096),
      says: 'vms[0] (x): unknown key "memMib" (did you mean "memMiB"?)',
    },
    {
      where: "a move in flight",
      edit: (s: Record<string, unknown>) =>
        (s.inFlight = [{ requestId: "r", vm: "x", source: "c", destination: "b", startedAt: NOW, memMiB: 1, cpuPercent: 1, dest: "b" }]),
      says: 'inFlight[0] (x): unknown key "dest"',
    },
    {
      where: "a past move",
      edit: (s: Record<string, unknown>) => (s.history = [{ ...past("x", "b", "c", 100), outcom: "failed" }]),
      says: 'history[0] (x): unknown key "outcom" (did you mean "outcome"?)',
    },
    {
      where: "a wrong type",
      edit: (s: { vms: Record<string, unknown>[] }) => (s.vms[0]!.memMiB = "4 GiB"),
      says: "vms[0] (x).memMiB: Invalid input: expected number, received string",
    },
  ] as { where: string; edit: (s: never) => unknown; says: string }[])("names the path of the problem in $where", ({ edit, says }) => {
    const s = cluster();
    edit(s as never);
    expect(() => planFile(s)).toThrow(says);
  });

  it("refuses a snapshot whose times are in seconds, saying so, instead of calling every host stale", () => {
    const s = cluster();
    const seconds = { ...s, takenAt: NOW / 1000, hosts: s.hosts.map((h) => ({ ...h, lastSeen: NOW / 1000, samples: [] })) };
    expect(() => planFile(seconds)).toThrow(
      /takenAt is 1700000000, before 2001-01-01 as ms since the epoch: .* looks like seconds \(read as seconds: 2023-11-14T22:13:20\.000Z\)/,
    );
    // One host's time in seconds is as wrong, and named.
    const one = { ...s, hosts: s.hosts.map((h, i) => (i === 2 ? { ...h, lastSeen: NOW / 1000, samples: [] } : h)) };
    expect(() => planFile(one)).toThrow("hosts[2] (c).lastSeen is 1700000000");
    expect(() => planFile(s, { now: String(NOW / 1000) })).toThrow("--now is 1700000000");
  });

  it("names a stale host in the plan (HOST_STALE with its age) rather than hiding it behind NO_HOTSPOT", () => {
    const s = cluster();
    s.hosts[2] = { ...s.hosts[2]!, lastSeen: NOW - 600_000, samples: [] };
    const p = planFile(s);
    expect(p.decisions.find((d) => d.code === "HOST_STALE")).toMatchObject({ kind: "host", subject: "c", numbers: { silentSeconds: 600, stale_after: 35 } });
  });

  it("reads back what the orchestrator builds (`ballast snapshot`), and plans on it", () => {
    const st = new ClusterState();
    const metrics = (h: string, vms: HostMetrics["vms"]): HostMetrics => ({
      v: 1,
      host: h,
      ts: 1,
      seq: 1,
      cpus: 4,
      hostCpuPercent: 20,
      load1: 0,
      load5: 0,
      load15: 0,
      memTotalMiB: 8192,
      memAvailableMiB: 4096,
      loadSource: "host",
      cpuPercent: 20,
      vms,
    });
    const v = (name: string, state: "running" | "paused" = "running") => ({
      name,
      state,
      vcpus: 1,
      memMiB: 512,
      maxMemMiB: 512,
      cpuPercent: 5,
      migrating: false,
    });
    st.ingestMetrics(metrics("a", [v("x"), v("y")]), NOW - 1000, defaultPolicy());
    st.ingestMetrics(metrics("b", [v("x", "paused")]), NOW - 1000, defaultPolicy());
    const built = st.snapshot({
      now: NOW,
      mapping: new Map([
        ["a", "10.0.0.1"],
        ["b", "10.0.0.2"],
      ]),
      maintenance: new Set(),
      inFlight: [],
      history: [{ vm: "y", source: "b", destination: "a", finishedAt: NOW - 5000, outcome: "succeeded", strategy: "manual" }],
      frozenVms: [],
    });
    expect(parseSnapshot(JSON.parse(JSON.stringify(built)), "snapshot")).toEqual(built);
    const p = planFile(built, { mode: "evacuate", host: "a" });
    expect(p.decisions.find((d) => d.subject === "x")?.code).toBe("VM_LISTED_TWICE");
  });

  it("plans on the facts a snapshot carries: a VM goes only where its network is, and a misspelt fact is an error", () => {
    // x runs on c, which is evacuated; a is in maintenance; b has no br-db, so x has nowhere to go.
    const s = cluster();
    const withNet = (h: Record<string, unknown>, bridges: string[]) => ({ ...h, facts: hostFacts({ bridges }) });
    s.hosts = [withNet(s.hosts[0]!, ["br-db"]), withNet(s.hosts[1]!, ["br0"]), withNet(s.hosts[2]!, ["br-db"])];
    s.vms = s.vms.map((v) => ({ ...v, facts: vmFacts({ interfaces: [{ type: "bridge", source: "br-db" }] }) }));
    const p = planFile(s, { mode: "evacuate", host: "c" });
    expect(p.moves.map((m) => m.vm)).not.toContain("x");
    expect(JSON.stringify(p.decisions)).toContain("DEST_NETWORK_MISSING");
    expect(JSON.stringify(p.decisions)).toContain("br-db");
    // b gains the bridge: x moves there.
    s.hosts[1] = withNet(s.hosts[1]!, ["br-db"]);
    expect(planFile(s, { mode: "evacuate", host: "c" }).moves.find((m) => m.vm === "x")?.destination).toBe("b");
    // The facts are as strict as the rest of the file.
    (s.hosts[1]!.facts as Record<string, unknown>).bridge = ["br-db"];
    expect(() => planFile(s, { mode: "evacuate", host: "c" })).toThrow(/hosts\[1\] \(b\)\.facts: unknown key "bridge"/);
  });

  it("`ballast plan --snapshot` exits 2 with the message", async () => {
    const s = cluster();
    (s.vms[0] as Record<string, unknown>).hots = "c";
    let err = "";
    const code = await main(["plan", "--snapshot", file(s)], { out: () => undefined, err: (x) => (err += x) });
    expect(code).toBe(2);
    expect(err).toContain('vms[0] (x): unknown key "hots" (did you mean "host"?)');
  });
});
