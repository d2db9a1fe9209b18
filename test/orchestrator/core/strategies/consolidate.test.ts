import { describe, expect, it } from "vitest";
import { plan } from "../../../../orchestrator/core/planner.js";
import { host, NOW, past, policy, snapshot, vm } from "../builders.js";

const roomy = { max_moves_per_cycle: 50, max_concurrent_total: 50, max_concurrent_per_source: 50, max_concurrent_per_destination: 50 };
const run = (s: ReturnType<typeof snapshot>, o: Parameters<typeof policy>[0] = {}) => plan(s, policy({ ...roomy, ...o }), NOW, { mode: "consolidate" });

describe("consolidate", () => {
  const cluster = () =>
    snapshot(
      [host("a", { cpu: 15 }), host("b", { cpu: 35 }), host("c", { cpu: 5 }), host("d", { cpu: 0, mem: 2 })],
      [vm("a1", "a", { cpu: 60 }), vm("a2", "a", { cpu: 60 }), vm("b1", "b", { cpu: 100 }), vm("c1", "c", { cpu: 40 })],
    );

  it("empties the least loaded hosts entirely, packing onto the most loaded that fit", () => {
    const p = run(cluster(), { spare_hosts: 0 });
    expect(p.moves.map((m) => `${m.vm}:${m.source}>${m.destination}`)).toEqual(["c1:c>b", "a1:a>b", "a2:a>b"]);
    expect(p.indicators.hostsFreed).toEqual(["a", "c"]);
    expect(p.emptyHosts).toEqual(["a", "c", "d"]);
  });

  it("keeps spare_hosts empty hosts as reserve and reports them", () => {
    const p = run(cluster(), { spare_hosts: 1 });
    expect(p.emptyHosts).toHaveLength(2);
    expect(p.decisions.filter((d) => d.code === "HOST_SPARE")).toHaveLength(1);
  });

  it("never moves a VM from a host it cannot empty (a pinned VM keeps the host)", () => {
    const p = run(cluster(), { pinned_vms: ["a2"] });
    expect(p.moves.some((m) => m.source === "a")).toBe(false);
    expect(p.decisions.find((d) => d.subject === "a" && d.code === "HOST_NOT_EMPTIABLE")?.numbers).toMatchObject({ vm: "a2", blockedBy: "VM_PINNED" });
  });

  it("never moves a VM from a host whose last VM does not fit (all or nothing)", () => {
    const s = snapshot([host("a", { cpu: 45 }), host("b", { cpu: 50 })], [vm("a1", "a", { cpu: 40 }), vm("a2", "a", { cpu: 300 }), vm("b1", "b")]);
    // b1 pinned: b, with fewer VMs, would otherwise be emptied onto a first.
    const p = run(s, { pinned_vms: ["b1"] });
    expect(p.moves.filter((m) => m.source === "a")).toEqual([]);
    expect(p.decisions.find((d) => d.subject === "a")).toMatchObject({ code: "HOST_NOT_EMPTIABLE", numbers: { vm: "a2", blockedBy: "NO_DESTINATION" } });
  });

  it("never places VMs on hosts that are empty", () => {
    const s = snapshot([host("a", { cpu: 10 }), host("e", { cpu: 0 })], [vm("a1", "a")]);
    expect(run(s).moves).toEqual([]);
  });

  it("respects consolidate_load on destinations", () => {
    const s = snapshot([host("a", { cpu: 10 }), host("b", { cpu: 55 })], [vm("a1", "a", { cpu: 80 }), vm("b1", "b")]);
    expect(run(s, { consolidate_load: 60, pinned_vms: ["b1"] }).moves).toEqual([]);
    expect(run(s, { consolidate_load: 66, pinned_vms: ["b1"] }).moves).toHaveLength(1);
  });

  it("of hosts of one size, empties the one with the least VM memory first (fewest bytes to copy per freed host)", () => {
    // a is the least loaded but holds 8 GiB to copy; b holds 2 GiB in two VMs.
    const s = snapshot(
      [host("a", { cpu: 10 }), host("b", { cpu: 15 }), host("c", { cpu: 30 })],
      [vm("a1", "a", { cpu: 80, mem: 8192 }), vm("b1", "b", { cpu: 60, mem: 1024 }), vm("b2", "b", { cpu: 60, mem: 1024 }), vm("c1", "c", { cpu: 240 })],
    );
    expect(run(s, { spare_hosts: 0 }).moves.map((m) => m.source)).toEqual(["b", "b", "a"]);
    const capped = run(s, { spare_hosts: 0, max_moves_per_cycle: 2 });
    expect(capped.moves.map((m) => `${m.vm}:${m.source}>${m.destination}`).sort()).toEqual(["b1:b>c", "b2:b>c"]);
    expect(capped.indicators.hostsFreed).toEqual(["b"]);
  });

  it("under max_moves_per_cycle, finishes an emptying it started and defers the next emptiable host", () => {
    // c's one move is under the cap of 2, so a's emptying starts, and is planned whole (3 moves).
    const started = run(cluster(), { max_moves_per_cycle: 2, spare_hosts: 0 });
    expect(started.moves.map((m) => `${m.vm}:${m.source}>${m.destination}`)).toEqual(["c1:c>b", "a1:a>b", "a2:a>b"]);
    expect(started.indicators.hostsFreed).toEqual(["a", "c"]);
    // At a cap of 1, c's move reaches it: a's emptying does not start, and is named deferred.
    const capped = run(cluster(), { max_moves_per_cycle: 1, spare_hosts: 0 });
    expect(capped.moves.map((m) => m.vm)).toEqual(["c1"]);
    expect(capped.decisions.find((d) => d.code === "CONSOLIDATION_DEFERRED")).toMatchObject({
      subject: "a",
      numbers: { vms: 2, planned: 1, max_moves_per_cycle: 1 },
    });
  });

  it("empties a host whose VM is cooling down: the cooldown holds back moves chosen by load, not emptyings", () => {
    // a1 arrived on a from c 2 minutes ago (cooldown 600 s); a is still emptied onto b, not back to c.
    const s = snapshot([host("a", { cpu: 10 }), host("b", { cpu: 40 }), host("c", { cpu: 20 })], [vm("a1", "a", { cpu: 80 }), vm("b1", "b"), vm("c1", "c")], {
      history: [past("a1", "c", "a", 120)],
    });
    const p = run(s, { spare_hosts: 0, pinned_vms: ["b1", "c1"] });
    expect(p.moves.map((m) => `${m.vm}:${m.source}>${m.destination}`)).toEqual(["a1:a>b"]);
    expect(p.decisions.map((d) => d.code)).not.toContain("VM_COOLDOWN");
    // Hot-spot relief still honours it (hotspot.test.ts), and a move back is still refused: with
    // b too full, only c has room, and a1 came from c.
    const back = run(s, { spare_hosts: 0, pinned_vms: ["b1", "c1"], consolidate_load: 45 });
    expect(back.moves).toEqual([]);
    expect(back.decisions.find((d) => d.subject === "a")).toMatchObject({
      code: "HOST_NOT_EMPTIABLE",
      numbers: { blockedBy: "NO_DESTINATION", DEST_PINGPONG: 1 },
    });
  });

  it("plans the whole emptying of a host with more VMs than max_concurrent_per_source: the dispatcher queues them", () => {
    // The default caps: 2 migrations at once per source and per destination, 16 moves per cycle.
    const s = snapshot(
      [host("a", { cpu: 20 }), host("b", { cpu: 40 }), host("c", { cpu: 45 })],
      [vm("a1", "a", { cpu: 50 }), vm("a2", "a", { cpu: 50 }), vm("a3", "a", { cpu: 50 }), vm("b1", "b", { mem: 8192 }), vm("c1", "c", { mem: 8192 })],
    );
    const p = plan(s, policy({ spare_hosts: 0 }), NOW, { mode: "consolidate" });
    expect(p.moves.filter((m) => m.source === "a")).toHaveLength(3);
    expect(p.indicators.hostsFreed).toEqual(["a"]);
    expect(p.emptyHosts).toEqual(["a"]);
    expect(p.decisions.map((d) => d.code)).not.toContain("CONSOLIDATION_DEFERRED");
  });
});

describe("consolidate on hosts of mixed sizes", () => {
  // An emptied host counts one whatever its size: the smallest hosts are emptied first and VMs are
  // packed onto the largest. By percent load alone the 16-core hosts (15 %, 18 %) would be emptied
  // onto the 8-core hosts (20 %), leaving two hosts where one 16-core host takes everything.
  const small = (id: string, cpu: number) => host(id, { cpus: 8, memGiB: 64, cpu });
  const big = (id: string, cpu: number) => host(id, { cpus: 16, memGiB: 128, cpu });
  const tiny = (id: string, cpu: number) => host(id, { cpus: 4, memGiB: 32, cpu });
  const two = (h: string, cpu: number) => [vm(`${h}-1`, h, { cpu }), vm(`${h}-2`, h, { cpu })];
  const cases: {
    name: string;
    hosts: ReturnType<typeof host>[];
    vms: ReturnType<typeof vm>[];
    o?: Parameters<typeof policy>[0];
    freed: string[];
    used: string[];
  }[] = [
    {
      name: "two 8-core hosts at 20 % and two 16-core hosts at 15 % and 18 %: one 16-core host is left",
      hosts: [small("s1", 20), small("s2", 20), big("b1", 15), big("b2", 18)],
      vms: [...two("s1", 80), ...two("s2", 80), ...two("b1", 120), ...two("b2", 144)],
      freed: ["b1", "s1", "s2"],
      used: ["b2"],
    },
    {
      name: "a pinned VM keeps an 8-core host; the other hosts are packed onto the fuller 16-core host",
      hosts: [small("s1", 20), small("s2", 20), big("b1", 15), big("b2", 18)],
      vms: [...two("s1", 80), ...two("s2", 80), ...two("b1", 120), ...two("b2", 144)],
      o: { pinned_vms: ["s1-1"] },
      freed: ["b1", "s2"],
      used: ["b2", "s1"],
    },
    {
      name: "three sizes: the 4-core, then the 8-core, then the emptier 16-core host",
      hosts: [tiny("t1", 30), small("s1", 20), big("b1", 15), big("b2", 18)],
      vms: [...two("t1", 60), ...two("s1", 80), ...two("b1", 120), ...two("b2", 144)],
      freed: ["b1", "s1", "t1"],
      used: ["b2"],
    },
    {
      name: "hosts of one size: the least loaded in percent are emptied first, as before",
      hosts: [big("a", 15), big("b", 30), big("c", 10)],
      vms: [...two("a", 120), ...two("b", 240), ...two("c", 80)],
      freed: ["a", "c"],
      used: ["b"],
    },
  ];
  it.each(cases)("$name", ({ hosts, vms, o, freed, used }) => {
    const s = snapshot(hosts, vms);
    const p = run(s, { spare_hosts: 0, ...o });
    expect([...p.indicators.hostsFreed].sort()).toEqual(freed);
    const after = new Map(s.vms.map((v) => [v.name, v.host]));
    for (const m of p.moves) after.set(m.vm, m.destination);
    expect([...new Set(after.values())].sort()).toEqual(used);
    // All or nothing per source, and deterministic.
    for (const src of new Set(p.moves.map((m) => m.source))) expect(s.vms.filter((v) => v.host === src).every((v) => after.get(v.name) !== src)).toBe(true);
    expect(run(snapshot([...hosts].reverse(), [...vms].reverse()), { spare_hosts: 0, ...o })).toEqual(p);
  });
});
