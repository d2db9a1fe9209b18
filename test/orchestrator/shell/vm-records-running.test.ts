import { describe, expect, it } from "vitest";
import { Policy } from "../../../shared/config/policy.js";
import { silentLogger } from "../../../shared/logger.js";
import type { VmDefinition } from "../../../shared/schemas/agent-api.js";
import type { VmFactsOf } from "../../../orchestrator/shell/facts-store.js";
import { MemoryRecordStore, VmRecords } from "../../../orchestrator/shell/vm-records.js";

// Which host a record follows when several hosts list its VM: the one that runs it; when several
// run it (a returning host's old copy started again), the host the record already names, so the
// duplicate guard pauses the other copy and never the recorded one. A silent host's stale
// inventory does not hold the record back from the host that runs the VM now.

const facts: VmFactsOf = {
  domainType: "kvm",
  arch: "x86_64",
  machine: "pc-q35-7.2",
  cpu: { mode: "host-model", required: [], disabled: [] },
  disks: [{ target: "vda", device: "disk", type: "file", source: "/srv/shared/web1.qcow2", shared: true, readonly: false, backingChain: false }],
  interfaces: [],
  hostdevs: [],
  migratable: true,
  reasons: [],
};

function harness() {
  /** host -> VM -> state */
  const listed = new Map<string, Map<string, string>>();
  const reporting = new Set<string>();
  const records = new VmRecords({
    store: new MemoryRecordStore(),
    facts: {
      hostIds: () => [...listed.keys()],
      vms: (h) => [...(listed.get(h)?.keys() ?? [])],
      vmFacts: (h, vm) => (listed.get(h)?.has(vm) ? facts : undefined),
      vmDigest: (h, vm) => (listed.get(h)?.has(vm) ? "d" : undefined),
    },
    cluster: {
      // As the orchestrator's: running first, in the order the hosts were indexed.
      hostsOf: (vm) =>
        [...listed]
          .filter(([, vms]) => vms.has(vm))
          .sort(([, x], [, y]) => Number(y.get(vm) === "running") - Number(x.get(vm) === "running"))
          .map(([h]) => h),
      reporting: (h) => reporting.has(h),
      running: (vm) => [...listed].filter(([h, vms]) => reporting.has(h) && vms.get(vm) === "running").map(([h]) => h),
    },
    fetch: (host, vm): Promise<VmDefinition> => Promise.resolve({ vm, host, xml: `<domain><name>${vm}</name></domain>`, digest: "0".repeat(64), removed: [] }),
    policy: () => Policy.parse({}),
    leading: () => true,
    epoch: () => 1,
    clock: { now: () => 1_000 },
    log: silentLogger(),
    concurrency: 4,
    graceMs: 60_000,
  });
  const list = (h: string, vm: string, state: string) => {
    if (!listed.has(h)) listed.set(h, new Map());
    listed.get(h)!.set(vm, state);
    reporting.add(h);
  };
  const settle = async () => {
    await records.idle();
    await records.settled();
  };
  return { records, list, reporting, settle };
}

describe("VmRecords with a VM on several hosts", () => {
  it("stays with the host it names when another host runs the VM too", async () => {
    const h = harness();
    h.list("b", "web1", "running");
    h.records.onFacts("b");
    await h.settle();
    expect(h.records.get("web1")?.host).toBe("b");
    // Restarted on a after b went silent: b's last inventory still says running.
    h.reporting.delete("b");
    h.list("a", "web1", "running");
    h.reporting.delete("b");
    h.records.onFacts("a");
    await h.settle();
    expect(h.records.get("web1")?.host).toBe("a");
    // b returns and its old copy is started by hand: both run it, the record stays with a.
    h.list("b", "web1", "running");
    h.records.onFacts("b");
    await h.settle();
    expect(h.records.get("web1")?.host).toBe("a");
    h.records.onFacts("a");
    await h.settle();
    expect(h.records.get("web1")?.host).toBe("a");
  });

  it("follows the running host when the other copy is paused (a migration's switch-over)", async () => {
    const h = harness();
    h.list("b", "web1", "running");
    h.records.onFacts("b");
    await h.settle();
    h.list("b", "web1", "paused");
    h.list("a", "web1", "running");
    h.records.onFacts("a");
    await h.settle();
    expect(h.records.get("web1")?.host).toBe("a");
  });
});
