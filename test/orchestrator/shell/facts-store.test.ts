import { describe, expect, it } from "vitest";
import { FactsStore } from "../../../orchestrator/shell/facts-store.js";
import { FactsRefresher } from "../../../orchestrator/shell/facts-refresher.js";
import { IncompatiblePairs } from "../../../orchestrator/shell/incompatible-pairs.js";
import { silentLogger } from "../../../shared/logger.js";
import type { AgentFacts } from "../../../shared/schemas/facts.js";
import { hostFacts, vmFacts } from "../../integration/fake-agents.js";

// The facts kept per host, the pairs that hold until facts change, and the refresher's limits
// (one request per host, a back-off after failures), with an injected clock.

const facts = (host: string, ts: number, digest: string, over: { extra?: string[]; vms?: AgentFacts["vms"] } = {}): AgentFacts => ({
  v: 1,
  host,
  ts,
  digest,
  hostFacts: hostFacts(over.extra ?? []),
  vms: over.vms ?? [],
});

describe("FactsStore", () => {
  it("keeps the newest facts per host by the agent's time, and strips VM names for snapshots", () => {
    const s = new FactsStore();
    const changed: string[] = [];
    s.onChange((h) => changed.push(h));
    expect(s.ingest(facts("a", 10, "0000aaaa", { vms: [{ name: "v", ...vmFacts("v") }] }), 1)).toBe(true);
    expect(s.ingest(facts("a", 5, "0000bbbb"), 2)).toBe(false); // older: a late reply
    expect(s.digest("a")).toBe("0000aaaa");
    expect(s.vmFacts("a", "v")).toEqual(vmFacts("v"));
    expect(s.ingest(facts("a", 11, "0000aaaa"), 3)).toBe(true); // same digest: no change
    expect(changed).toEqual(["a"]);
    expect(s.ingest(facts("a", 12, "0000cccc", { extra: ["avx512f"] }), 4)).toBe(true);
    expect(changed).toEqual(["a", "a"]);
    expect(s.vmFacts("a", "v")).toBeUndefined();
  });
});

describe("IncompatiblePairs", () => {
  it("forgets a pair when the VM's facts or the destination's host facts change, not otherwise", () => {
    const s = new FactsStore();
    s.ingest(facts("a", 1, "0000aaaa", { vms: [{ name: "v", ...vmFacts("v") }] }), 1);
    s.ingest(facts("b", 1, "0000bbbb"), 1);
    const written: number[] = [];
    const p = new IncompatiblePairs((all) => written.push(all.length));
    p.record({ vm: "v", vmHost: "a", destination: "b", since: 5, error: "the CPU is incompatible with host CPU" }, s);
    expect(p.forSnapshot()).toEqual([{ vm: "v", destination: "b", since: 5, error: "the CPU is incompatible with host CPU" }]);
    // b's VMs change (its digest does), its host facts do not: the pair holds.
    s.ingest(facts("b", 2, "0000bbb2", { vms: [{ name: "w", ...vmFacts("w") }] }), 2);
    expect(p.prune(s, () => "a")).toBe(0);
    // The VM's own facts change (its disk moved to shared storage... or anything): forgotten.
    s.ingest(facts("a", 2, "0000aaa2", { vms: [{ name: "v", ...vmFacts("v", true) }] }), 2);
    expect(p.prune(s, () => "a")).toBe(1);
    expect(p.size).toBe(0);
    expect(written).toEqual([1, 0]);
  });

  it("keeps a pair whose VM or host facts are not known now, and restores from the HA store", () => {
    const s = new FactsStore();
    const p = new IncompatiblePairs();
    p.record({ vm: "v", vmHost: "a", destination: "b", since: 1, error: "x" }, s);
    expect(p.all()[0]).toEqual({ vm: "v", destination: "b", since: 1, error: "x" });
    expect(p.prune(s, () => undefined)).toBe(0);
    const q = new IncompatiblePairs();
    q.restore(p.all());
    expect(q.has("v", "b")).toBe(true);
  });
});

describe("FactsRefresher", () => {
  it("asks once per host at a time, not while its facts match, and backs off after failures", async () => {
    let now = 0;
    const store = new FactsStore();
    const asked: string[] = [];
    let fail = true;
    const resolvers: (() => void)[] = [];
    const r = new FactsRefresher({
      store,
      clock: { now: () => now },
      log: silentLogger(),
      backoffMs: 1000,
      request: (host) => {
        asked.push(host);
        return new Promise((resolve, reject) => resolvers.push(() => (fail ? reject(new Error("no responders")) : resolve(facts(host, 1, "0000aaaa")))));
      },
    });
    r.onHeartbeat("a", "0000aaaa");
    r.onHeartbeat("a", "0000aaaa"); // still asking: not twice
    expect(asked).toEqual(["a"]);
    resolvers.shift()!();
    await new Promise((res) => setImmediate(res));
    expect(r.counters.refreshFailures).toBe(1);
    r.onHeartbeat("a", "0000aaaa"); // within the back-off
    expect(asked).toEqual(["a"]);
    now = 1001;
    fail = false;
    r.onHeartbeat("a", "0000aaaa");
    expect(asked).toEqual(["a", "a"]);
    resolvers.shift()!();
    await new Promise((res) => setImmediate(res));
    expect(store.digest("a")).toBe("0000aaaa");
    r.onHeartbeat("a", "0000aaaa"); // matches: nothing to ask
    r.onHeartbeat("a", undefined); // an older agent: never asked
    expect(asked).toEqual(["a", "a"]);
    expect(r.counters.refreshes).toBe(1);
  });

  it("refuses an answer that names another host", async () => {
    const store = new FactsStore();
    const r = new FactsRefresher({ store, clock: { now: () => 0 }, log: silentLogger(), request: async () => facts("evil", 1, "0000aaaa") });
    r.onHeartbeat("a", "0000aaaa");
    await new Promise((res) => setImmediate(res));
    await new Promise((res) => setImmediate(res));
    expect(store.has("a") || store.has("evil")).toBe(false);
    expect(r.counters.rejected).toBe(1);
  });
});
