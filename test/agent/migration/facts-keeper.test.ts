import { describe, expect, it } from "vitest";
import type { FactsSource } from "../../../agent/facts/collect-facts.js";
import { FactsKeeper } from "../../../agent/migration/facts-keeper.js";
import { ManualClock } from "../../../agent/sim/manual-clock.js";
import { simHostFacts, simVmFacts } from "../../../agent/sim/sim-facts.js";
import { silentLogger } from "../../../shared/logger.js";
import { AgentFacts, type HostFacts, type VmFacts } from "../../../shared/schemas/facts.js";

// The agent's facts cache: publishes on the first complete set and on every change of digest
// only, reads a VM's facts when it appears, and survives a source that fails (logged, retried).

function source(host: HostFacts) {
  const calls: string[][] = [];
  let failHost = false;
  let failVms = false;
  const src: FactsSource = {
    async hostFacts() {
      if (failHost) throw new Error("libvirt down");
      return host;
    },
    async vmFacts(names) {
      calls.push([...names]);
      if (failVms) throw new Error("virsh dumpxml hung");
      return names.map((n): VmFacts => simVmFacts(n, undefined, host)).sort((a, b) => a.name.localeCompare(b.name));
    },
  };
  return { src, calls, fail: (h: boolean, v: boolean) => ((failHost = h), (failVms = v)) };
}

describe("FactsKeeper", () => {
  it("publishes once complete and on change only; reads only new VMs; survives failures", async () => {
    const host = simHostFacts(undefined);
    const s = source(host);
    const published: AgentFacts[] = [];
    const clock = new ManualClock();
    const k = new FactsKeeper({
      host: "h1",
      source: s.src,
      clock,
      logger: silentLogger(),
      onChange: (f) => published.push(AgentFacts.parse(f)),
    });
    await k.noteVms(["b", "a"]);
    expect(published).toEqual([]); // no host facts yet
    await k.refreshAll();
    expect(published.map((f) => f.vms.map((v) => v.name))).toEqual([["a", "b"]]);
    expect(k.digest).toBe(published[0]!.digest);
    // Same VMs again (any order), host re-read unchanged: nothing new.
    await k.noteVms(["a", "b"]);
    await k.refreshAll();
    expect(published).toHaveLength(1);
    // A new VM: only it is read.
    s.calls.length = 0;
    await k.noteVms(["a", "b", "c"]);
    expect(s.calls).toEqual([["c"]]);
    expect(published.at(-1)!.vms.map((v) => v.name)).toEqual(["a", "b", "c"]);
    // Failures keep the last facts; the VM is read again next time.
    s.fail(true, true);
    await k.noteVms(["a", "b", "c", "d"]);
    await k.refreshAll();
    expect(published).toHaveLength(2);
    expect((await k.get()).vms.map((v) => v.name)).toEqual(["a", "b", "c"]);
    s.fail(false, false);
    // Within the back-off after a failure, the cycles read nothing; after it, the first does.
    s.calls.length = 0;
    await k.noteVms(["a", "b", "c", "d"]);
    expect(s.calls).toEqual([]);
    await clock.advance(60_000);
    await k.noteVms(["a", "b", "c", "d"]);
    expect(s.calls).toEqual([["d"]]);
    expect(published.at(-1)!.vms.map((v) => v.name)).toEqual(["a", "b", "c", "d"]);
    // A VM gone: forgotten, published.
    await k.noteVms(["d"]);
    expect(published.at(-1)!.vms.map((v) => v.name)).toEqual(["d"]);
  });

  it("a libvirt that keeps failing costs no virsh call per metrics cycle, only one try per retry interval", async () => {
    const s = source(simHostFacts(undefined));
    const clock = new ManualClock();
    const k = new FactsKeeper({ host: "h1", source: s.src, clock, logger: silentLogger(), onChange: () => {}, retryMs: 10_000 });
    s.fail(false, true);
    await k.noteVms(["a", "b"]);
    expect(s.calls).toHaveLength(1);
    for (let cycle = 0; cycle < 9; cycle++) {
      await clock.advance(1000);
      await k.noteVms(["a", "b"]);
    }
    expect(s.calls).toHaveLength(1);
    await clock.advance(1000);
    await k.noteVms(["a", "b"]);
    expect(s.calls).toHaveLength(2);
  });

  it("get() collects when nothing was collected yet, and says why when it cannot", async () => {
    const s = source(simHostFacts(undefined));
    const k = new FactsKeeper({ host: "h1", source: s.src, clock: new ManualClock(), logger: silentLogger(), onChange: () => {} });
    s.fail(true, false);
    await expect(k.get()).rejects.toThrow(/no facts of h1 yet: libvirt down/);
    s.fail(false, false);
    expect((await k.get()).host).toBe("h1");
  });
});
