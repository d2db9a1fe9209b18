import { describe, expect, it } from "vitest";
import { Policy } from "../../../shared/config/policy.js";
import { silentLogger } from "../../../shared/logger.js";
import type { VmDefinition } from "../../../shared/schemas/agent-api.js";
import type { VmFactsOf } from "../../../orchestrator/shell/facts-store.js";
import { MemoryRecordStore, restartPriorityOf, VmRecords } from "../../../orchestrator/shell/vm-records.js";

// The records' rules without NATS: priorities (VM > rule > default), the fetch cap, the grace that
// never runs for a silent host, and only the leader writing. The KV bucket, migrations and failover
// run for real in test/integration/records.test.ts and test/ha/records.test.ts.

const policy = (p: object = {}) => Policy.parse(p);

describe("restartPriorityOf", () => {
  const p = policy({
    restart_priority: "low",
    rules: [
      { name: "db", type: "anti-affinity", vms: ["db-1", "db-2"] },
      { name: "batch", type: "vm-host", vms: ["db-2", "job-1"], hosts: ["h1"] },
    ],
    restart_priorities: { vms: { "db-1": "never" }, rules: { db: "high", batch: "medium" } },
  });
  it.each([
    ["db-1", "never"], // the VM's own wins over its rule
    ["db-2", "high"], // the highest of its rules
    ["job-1", "medium"],
    ["web-1", "low"], // the default
  ])("%s is %s", (vm, want) => expect(restartPriorityOf(vm, p)).toBe(want));

  it("defaults to medium, and a rule priority must name a rule", () => {
    expect(restartPriorityOf("x", policy())).toBe("medium");
    expect(() => policy({ restart_priorities: { rules: { nope: "high" } } })).toThrow(/no rule named .{0,2}nope/);
  });
});

const facts = (disks: { source: string; shared: boolean }[] = [{ source: "/srv/shared/x.qcow2", shared: true }]): VmFactsOf => ({
  domainType: "kvm",
  arch: "x86_64",
  machine: "pc-q35-7.2",
  cpu: { mode: "host-model", required: [], disabled: [] },
  disks: disks.map((d, i) => ({ target: `vd${"abcdefgh"[i]}`, device: "disk", type: "file", ...d, readonly: false, backingChain: false })),
  interfaces: [],
  hostdevs: [],
  migratable: true,
  reasons: [],
});

function harness(o: { leading?: () => boolean; concurrency?: number } = {}) {
  let now = 1_000_000;
  const hostVms = new Map<string, string[]>([["h1", ["v1", "v2", "v3", "v4", "v5"]]]);
  const reporting = new Set(["h1", "h2"]);
  const pending: { host: string; vm: string; resolve: (d: VmDefinition) => void }[] = [];
  let maxActive = 0;
  const store = new MemoryRecordStore();
  const records = new VmRecords({
    store,
    facts: {
      hostIds: () => [...hostVms.keys()],
      vms: (h) => hostVms.get(h) ?? [],
      vmFacts: (h, vm) => (hostVms.get(h)?.includes(vm) ? facts() : undefined),
      vmDigest: (h, vm) => (hostVms.get(h)?.includes(vm) ? `d-${h}-${vm}` : undefined),
    },
    cluster: {
      hostsOf: (vm) => [...hostVms].filter(([, vms]) => vms.includes(vm)).map(([h]) => h),
      reporting: (h) => reporting.has(h),
    },
    fetch: (host, vm) =>
      new Promise((resolve) => {
        pending.push({ host, vm, resolve });
        maxActive = Math.max(maxActive, pending.length);
      }),
    policy: () => policy(),
    leading: o.leading ?? (() => true),
    epoch: () => 7,
    clock: { now: () => now },
    log: silentLogger(),
    concurrency: o.concurrency ?? 2,
    graceMs: 60_000,
  });
  const answerAll = async () => {
    while (pending.length > 0) {
      const p = pending.shift()!;
      p.resolve({ vm: p.vm, host: p.host, xml: `<domain><name>${p.vm}</name></domain>`, digest: "0".repeat(64), removed: [] });
      await new Promise((r) => setImmediate(r));
    }
  };
  return { records, store, hostVms, reporting, pending, answerAll, maxActive: () => maxActive, advance: (ms: number) => (now += ms), now: () => now };
}

describe("VmRecords", () => {
  it("fetches definitions at most `concurrency` at a time, and records each under the epoch", async () => {
    const h = harness({ concurrency: 2 });
    h.records.onFacts("h1");
    expect(h.pending.length).toBe(2);
    expect(h.records.fetching).toBe(5);
    await h.answerAll();
    await h.records.settled();
    expect(h.maxActive()).toBe(2);
    expect(h.records.all().map((r) => [r.vm, r.host, r.epoch, r.restartPriority])).toEqual(["v1", "v2", "v3", "v4", "v5"].map((v) => [v, "h1", 7, "medium"]));
    expect((await h.store.load()).length).toBe(5);
    // Unchanged facts: nothing fetched again.
    h.records.onFacts("h1");
    expect(h.pending.length).toBe(0);
  });

  it("keeps a silent host's records whatever time passes, and removes a gone VM's only after the grace", async () => {
    const h = harness();
    h.records.onFacts("h1");
    await h.answerAll();
    await h.records.settled();
    // h1 goes silent, its held facts still list v1..v5: a day passes.
    h.reporting.delete("h1");
    for (let i = 0; i < 24; i++) {
      h.advance(3_600_000);
      h.records.sweep(h.now());
    }
    expect(h.records.all().length).toBe(5);
    // What the silent host last listed is what recovery may restart.
    expect(h.records.recoverable().length).toBe(5);
    // h1 reports again without v5.
    h.reporting.add("h1");
    h.hostVms.set("h1", ["v1", "v2", "v3", "v4"]);
    h.records.sweep(h.now());
    h.advance(59_000);
    h.records.sweep(h.now());
    expect(h.records.get("v5")).toBeDefined();
    // Kept through the grace, but not for recovery: its host reported without it (destroyed by hand).
    expect(h.records.recoverable().map((r) => r.vm)).toEqual(["v1", "v2", "v3", "v4"]);
    h.advance(1_000);
    h.records.sweep(h.now());
    await h.records.settled();
    expect(h.records.get("v5")).toBeUndefined();
    expect((await h.store.load()).map((r) => r.vm).sort()).toEqual(["v1", "v2", "v3", "v4"]);
  });

  it("moves the record with a migration", async () => {
    const h = harness();
    h.records.onFacts("h1");
    await h.answerAll();
    h.records.onMigrated("v1", "h2");
    await h.records.settled();
    expect((await h.store.load()).find((r) => r.vm === "v1")!.host).toBe("h2");
  });

  it("a standby fetches and writes nothing", async () => {
    const h = harness({ leading: () => false });
    h.records.onFacts("h1");
    h.records.sweep(h.now());
    expect(h.pending.length).toBe(0);
    expect(await h.store.load()).toEqual([]);
  });
});
