import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createContext } from "../../../../orchestrator/core/context.js";
import { explainVm } from "../../../../orchestrator/core/explain-vm.js";
import { plan } from "../../../../orchestrator/core/planner.js";
import { poweredMember, reserveVerdict } from "../../../../orchestrator/core/standby.js";
import type { Policy } from "../../../../shared/config/policy.js";
import type { Plan, PlanRequest } from "../../../../shared/schemas/plan.js";
import type { ClusterSnapshot, SnapshotHost } from "../../../../shared/schemas/snapshot.js";
import { flight, host, NOW, policy, snapshot, vm } from "../builders.js";
import { booting, HOUR, idle, off, powered, powerPolicy, rising } from "../power-builders.js";

// Power management in the planner (strategies/power.ts): every rule with a small snapshot, then
// determinism and properties on random clusters.

const run = (s: ClusterSnapshot, pol: Policy = powerPolicy(), req: PlanRequest = { mode: "cycle" }): Plan => plan(s, pol, NOW, req);
const acts = (p: Plan): string[] => p.power.map((a) => `${a.action}:${a.host}:${a.code}`);
const codeOf = (p: Plan, subject: string): string[] => p.decisions.filter((d) => d.subject === subject && d.code.startsWith("POWER_")).map((d) => d.code);
const cluster = (p: Plan): string[] => p.decisions.filter((d) => d.kind === "cluster" && d.code.startsWith("POWER_")).map((d) => d.code);

/** Two working hosts at `cpu` % holding one VM each, and `extra` hosts. */
function busy(cpu: number, extra: SnapshotHost[], vms = [vm("a1", "a"), vm("b1", "b")]): ClusterSnapshot {
  return snapshot([powered(host("a", { cpu })), powered(host("b", { cpu })), ...extra], vms);
}

describe("power: switching off", () => {
  it("switches off a host empty for power_off_after while the others keep the largest host's room", () => {
    const p = run(busy(20, [idle("e")]));
    expect(acts(p)).toEqual(["off:e:POWER_OFF_IDLE"]);
    expect(p.power[0]!.numbers).toMatchObject({ standby: "largest_host", largestHost: "a", needCores: 6.4 });
    // The worked example of docs/power.md.
    expect(p.power[0]!.reason).toBe(
      "host e has held no VM for 7200.0 s ≥ power_off_after 300 s, and without it spare 9.6 cores / 85196.8 MiB on 2 powered host(s) ≥ 6.4 cores / 55705.6 MiB (the room of the largest powered host, a)",
    );
    expect(codeOf(p, "e")).toEqual(["POWER_OFF_IDLE"]);
  });

  it("keeps it on when the reserve would not hold without it (POWER_KEEP_RESERVE)", () => {
    const p = run(busy(60, [idle("e")]));
    expect(p.power.filter((a) => a.action === "off")).toEqual([]);
    expect(codeOf(p, "e")).toContain("POWER_KEEP_RESERVE");
  });

  it.each([
    ["empty, but not for power_off_after", idle("e", {}, { emptySince: NOW - 120_000 }), "POWER_OFF_WAIT"],
    ["on for less than min_on_time", idle("e", {}, { since: NOW - 600_000 }), "POWER_MIN_ON"],
    ["without a power driver", idle("e", {}, { switchable: false }), "POWER_NO_DRIVER"],
    ["whose last power operation failed", idle("e", {}, { failed: "ipmitool: timeout" }), "POWER_HOST_FAILED"],
    ["in maintenance", idle("e", { maintenance: true }), "POWER_MAINTENANCE"],
  ])("does not switch off a host %s", (_what, e, code) => {
    const p = run(busy(20, [e]));
    expect(p.power).toEqual([]);
    expect(codeOf(p, "e")).toEqual([code]);
  });

  it("switches off a host in maintenance with power_off_maintenance", () => {
    expect(acts(run(busy(20, [idle("e", { maintenance: true })]), powerPolicy({ power_off_maintenance: true })))).toEqual(["off:e:POWER_OFF_IDLE"]);
  });

  it("refuses a power-off because a VM appeared (defined, not running) on a host empty until now", () => {
    const s = busy(20, [idle("e")], [vm("a1", "a"), vm("b1", "b"), vm("new", "e", { state: "shutoff" })]);
    const p = run(s);
    expect(p.power).toEqual([]);
    expect(codeOf(p, "e")).toEqual(["POWER_HOLDS_VMS"]);
    expect(p.decisions.find((d) => d.code === "POWER_HOLDS_VMS")!.numbers).toMatchObject({ vms: 1 });
  });

  it("never switches off a host a migration is on its way to", () => {
    const s = busy(20, [idle("e")]);
    s.inFlight = [flight("a1", "a", "e")];
    const p = run(s);
    expect(p.power).toEqual([]);
    expect(codeOf(p, "e")).toEqual(["POWER_HOLDS_VMS"]);
  });

  it.each([
    ["a migration in flight", (s: ClusterSnapshot) => void (s.inFlight = [flight("a1", "a", "b")]), "inFlight"],
    ["a silent powered agent", (s: ClusterSnapshot) => void (s.hosts[1] = powered(host("b", { cpu: 20, lastSeenAgo: 120 }))), "silentHosts"],
    ["a host booting", (s: ClusterSnapshot) => void s.hosts.push(booting("g")), "switchingHosts"],
    ["a host shutting down", (s: ClusterSnapshot) => void s.hosts.push(off("g", {}, { state: "shutting_down" })), "switchingHosts"],
  ])("switches nothing off while the cluster is unsettled: %s", (_what, tweak, key) => {
    const s = busy(10, [idle("e")]);
    tweak(s);
    const p = run(s);
    expect(p.power.filter((a) => a.action === "off")).toEqual([]);
    const d = p.decisions.find((x) => x.kind === "cluster" && x.code === "POWER_UNSETTLED");
    expect(d?.numbers[key]).toBeGreaterThan(0);
  });

  // a is a hot spot: relief moves a VM to b (hosts running VMs first, as the cycle consolidates).
  const hotToB = (): ClusterSnapshot =>
    snapshot(
      [powered(host("a", { cpu: 95, overFor: 600 })), powered(host("b", { cpus: 32, memGiB: 256, cpu: 10 })), idle("e")],
      [vm("a1", "a", { cpu: 300 }), vm("a2", "a", { cpu: 300 }), vm("b1", "b")],
    );

  it("switches an empty host off while this plan moves VMs between others, judging the reserve as the moves leave them", () => {
    const p = run(hotToB(), powerPolicy({ strategies: ["hotspot", "consolidate"], standby_capacity: { cpu_percent: 10, mem_percent: 10 } }));
    expect(p.moves.length).toBeGreaterThan(0);
    expect(p.moves.every((m) => m.destination === "b")).toBe(true);
    expect(acts(p)).toEqual(["off:e:POWER_OFF_IDLE"]);
    expect(p.decisions.some((x) => x.code === "POWER_UNSETTLED")).toBe(false);
  });

  it("keeps the empty host on when the reserve, counted after this plan's moves, needs it", () => {
    // The largest host is b (32 cores): its room is a reserve a and b cannot keep once b takes a's VM.
    const p = run(hotToB(), powerPolicy({ strategies: ["hotspot", "consolidate"] }));
    expect(p.moves.length).toBeGreaterThan(0);
    expect(p.power).toEqual([]);
    expect(codeOf(p, "e")).toEqual(["POWER_KEEP_RESERVE"]);
  });

  it("switches off the smallest first, at most max_power_ops, and says why the others wait", () => {
    const s = busy(10, [idle("f", { cpus: 16 }), idle("e", { cpus: 4 })]);
    const p = run(s);
    expect(acts(p)).toEqual(["off:e:POWER_OFF_IDLE"]);
    expect(codeOf(p, "f")).toEqual(["POWER_OPS_CAP"]);
    expect(acts(run(s, powerPolicy({ max_power_ops: 2 })))).toEqual(["off:e:POWER_OFF_IDLE", "off:f:POWER_OFF_IDLE"]);
  });

  it("keeps the last powered host a vm-host rule allows (POWER_LAST_IN_GROUP)", () => {
    const s = snapshot(
      [powered(host("a", { cpus: 32, cpu: 10, memGiB: 256 })), powered(host("b", { cpus: 32, cpu: 10, memGiB: 256 })), idle("e"), idle("f")],
      [vm("a1", "a"), vm("b1", "b")],
    );
    const rules = [{ name: "db-hosts", type: "vm-host" as const, strength: "should" as const, vms: ["a1"], hosts: ["e", "f"] }];
    const p = run(s, powerPolicy({ max_power_ops: 2, rules }));
    expect(acts(p)).toEqual(["off:e:POWER_OFF_IDLE"]);
    expect(codeOf(p, "f")).toEqual(["POWER_LAST_IN_GROUP"]);
    expect(p.decisions.find((d) => d.subject === "f")!.numbers).toEqual({ rule: "db-hosts" });
  });

  it("keeps N empty powered hosts with standby_capacity { hosts: N }, the largest", () => {
    const s = busy(10, [idle("e", { cpus: 4 }), idle("f", { cpus: 16 })]);
    const p = run(s, powerPolicy({ max_power_ops: 2, standby_capacity: { hosts: 1 } }));
    expect(acts(p)).toEqual(["off:e:POWER_OFF_IDLE"]);
    expect(codeOf(p, "f")).toEqual(["POWER_KEEP_RESERVE"]);
  });

  it("keeps spare shares with standby_capacity { cpu_percent, mem_percent }", () => {
    const s = busy(50, [idle("e")]);
    expect(acts(run(s, powerPolicy({ standby_capacity: { cpu_percent: 10, mem_percent: 10 } })))).toEqual(["off:e:POWER_OFF_IDLE"]);
    // CPU counts up to the 80 % trigger: 2 × (6.4 − 4) = 4.8 spare cores of 16 = 30 %.
    expect(acts(run(s, powerPolicy({ standby_capacity: { cpu_percent: 30, mem_percent: 10 } })))).toEqual(["off:e:POWER_OFF_IDLE"]);
    expect(acts(run(s, powerPolicy({ standby_capacity: { cpu_percent: 35, mem_percent: 10 } })))).toEqual([]);
  });
});

describe("power: switching off the hosts this plan's consolidation empties (power_off_emptied)", () => {
  /** a and b at 30 % with one VM each, c at 5 % with a small VM: consolidation empties b and c onto a. */
  const three = (cVms = [vm("c1", "c", { cpu: 40 })]): ClusterSnapshot =>
    snapshot([powered(host("a", { cpu: 30 })), powered(host("b", { cpu: 30 })), powered(host("c", { cpu: 5 }))], [vm("a1", "a"), vm("b1", "b"), ...cVms]);
  const consolidating = (o: Record<string, unknown> = {}): Policy => powerPolicy({ strategies: ["hotspot", "consolidate"], max_power_ops: 2, ...o });

  it("switches a host off with the moves that empty it, without waiting power_off_after (POWER_OFF_EMPTIED)", () => {
    const p = run(three(), consolidating());
    expect(p.moves.map((m) => `${m.vm}:${m.source}>${m.destination}:${m.code}`)).toEqual(["c1:c>a:CONSOLIDATE", "b1:b>a:CONSOLIDATE"]);
    // The reserve holds with one of them off (a's spare), not with both: the smaller id goes first.
    expect(acts(p)).toEqual(["off:b:POWER_OFF_EMPTIED"]);
    const b = p.power[0]!;
    expect(b.afterMoves).toEqual([1]);
    expect(b.reason).toBe(
      "host b is emptied by this plan (1 move(s)): it is switched off once they have succeeded and its agent reports it empty (power_off_emptied), and without it spare 9.5 cores / 83148.8 MiB on 2 powered host(s) ≥ 6.4 cores / 55705.6 MiB (the room of the largest powered host, a)",
    );
    expect(codeOf(p, "c")).toEqual(["POWER_KEEP_RESERVE"]);
  });

  it("with power_off_emptied false, the emptied host waits power_off_after like any other", () => {
    const p = run(three(), consolidating({ power_off_emptied: false }));
    expect(p.moves.length).toBe(2);
    expect(p.power).toEqual([]);
    expect(codeOf(p, "b")).toEqual(["POWER_HOLDS_VMS"]);
  });

  it("never for a host that keeps a VM this plan does not move (a defined VM), nor with a migration in flight", () => {
    const withDefined = run(three([vm("c1", "c", { cpu: 40 }), vm("c2", "c", { state: "shutoff", cpu: 0 })]), consolidating({ max_power_ops: 3 }));
    expect(withDefined.moves.map((m) => m.vm)).toContain("c1");
    expect(withDefined.power.filter((a) => a.host === "c")).toEqual([]);
    expect(codeOf(withDefined, "c")).toEqual(["POWER_HOLDS_VMS"]);
    const s = three();
    const busy = { ...s, inFlight: [flight("a1", "a", "b")] };
    const p = run(busy, consolidating());
    expect(p.moves.map((m) => m.vm)).toEqual(["c1"]);
    expect(p.power.filter((a) => a.action === "off")).toEqual([]);
    expect(cluster(p)).toContain("POWER_UNSETTLED");
  });

  it("counts the off against max_power_ops and says which code waits", () => {
    const p = run(three(), consolidating({ max_power_ops: 1, standby_capacity: { hosts: 0 } }));
    expect(acts(p)).toEqual(["off:b:POWER_OFF_EMPTIED"]);
    const capped = p.decisions.find((d) => d.subject === "c" && d.code === "POWER_OPS_CAP")!;
    expect(capped.message).toContain("would be switched off (POWER_OFF_EMPTIED)");
  });
});

describe("power: switching on", () => {
  it("switches on the smallest host that restores a lost reserve (POWER_ON_RESERVE)", () => {
    // a and b at 65 %: 2 × (6.4 − 5.2) = 2.4 spare cores below the 80 % trigger < 6.4. A 4-core host
    // adds 3.2 (not enough), an 8-core 6.4.
    const s = busy(65, [off("s", { cpus: 4 }), off("l", { cpus: 32, memGiB: 256 }), off("g", { cpus: 8 })]);
    const p = run(s);
    expect(acts(p)).toEqual(["on:g:POWER_ON_RESERVE"]);
    expect(p.power[0]!.numbers).toMatchObject({ holdsAfter: true, spareCores: 2.4, needCores: 6.4 });
    expect(p.power[0]!.forVms).toEqual([]);
  });

  it.each([
    ["at max_power_cycles_per_day", { cyclesToday: 3 }, "POWER_CYCLE_CAP"],
    ["whose last power operation failed", { failed: "redfish: 401 Unauthorized" }, "POWER_HOST_FAILED"],
    ["without a power driver", { switchable: false }, "POWER_NO_DRIVER"],
  ])("passes over a host %s and takes the next", (_what, p0, code) => {
    const s = busy(60, [off("l", { cpus: 32, memGiB: 256 }), off("g", { cpus: 8 }, p0)]);
    const p = run(s);
    expect(acts(p)).toEqual(["on:l:POWER_ON_RESERVE"]);
    expect(codeOf(p, "g")).toEqual([code]);
  });

  it("does not make a lost reserve wait for min_off_time", () => {
    expect(acts(run(busy(60, [off("g", {}, { since: NOW - 60_000 })])))).toEqual(["on:g:POWER_ON_RESERVE"]);
  });

  it("counts a host already booting as capacity coming: no second host for the same need", () => {
    const p = run(busy(60, [booting("g"), off("h")]));
    expect(p.power).toEqual([]);
    expect(cluster(p)).toEqual(["POWER_NOT_NEEDED"]);
    expect(p.decisions.find((d) => d.code === "POWER_NOT_NEEDED")!.message).toMatch(/g/);
  });

  it("reports a host that did not boot in time and switches another on in the same plan", () => {
    const p = run(busy(60, [booting("g", {}, { bootDeadline: NOW - 1000 }), off("h")]));
    expect(codeOf(p, "g")).toEqual(["POWER_BOOT_OVERDUE"]);
    expect(acts(p)).toEqual(["on:h:POWER_ON_RESERVE"]);
  });

  it("says so when no switched-off host can be switched on (POWER_NO_HOST_TO_WAKE)", () => {
    const p = run(busy(60, [off("g", {}, { failed: "ipmi: no answer" })]));
    expect(p.power).toEqual([]);
    expect(cluster(p)).toEqual(["POWER_NO_HOST_TO_WAKE"]);
    expect(p.decisions.find((d) => d.code === "POWER_NO_HOST_TO_WAKE")!.numbers).toMatchObject({ need: "POWER_ON_RESERVE" });
  });

  it("says nothing is needed when the reserve holds and no demand is predicted (POWER_NOT_NEEDED)", () => {
    const p = run(busy(20, [off("g")]));
    expect(p.power).toEqual([]);
    expect(cluster(p)).toEqual(["POWER_NOT_NEEDED"]);
  });

  describe("demand predicted boot_time ahead", () => {
    // Three 8-core hosts rising from 5 % to 45 % over 10 minutes: now 3 × (6.4 − 3.6) = 8.4 spare
    // cores up to the 80 % trigger ≥ 6.4 (the largest host's room: the reserve holds), but at
    // +300 s they reach 65 %: 8.4 − 4.8 = 3.6 < 6.4.
    const risingCluster = (g: SnapshotHost): ClusterSnapshot =>
      snapshot([...["a", "b", "c"].map((id) => powered(host(id, { cpu: 45, samples: rising(5, 45) }))), g], [vm("a1", "a"), vm("b1", "b"), vm("c1", "c")]);

    it("switches a host on before it is needed (POWER_ON_DEMAND)", () => {
      const p = run(risingCluster(off("g")));
      expect(acts(p)).toEqual(["on:g:POWER_ON_DEMAND"]);
      expect(p.power[0]!.numbers).toMatchObject({ boot_time: 300, riseCores: 4.8, spareCores: 8.4, spareAfterCores: 3.6, reserveCores: 6.4 });
      expect(p.power[0]!.reason).toContain("spare CPU 8.4 cores − a predicted rise of 4.8 in 300 s = 3.6 < 6.4 cores of reserve");
    });

    it("wakes nobody for demand when no rise is predicted and the reserve holds, even with a host over its trigger", () => {
      // a at 100 % (8 cores: 1.6 over its trigger), b and c steady at 35 %: their spare, 2 × 3.6 =
      // 7.2 cores, covers the 6.4 of the reserve. a's excess is hot-spot relief's to move; counted
      // against the others' spare (Σ used 13.6 > Σ trigger 19.2 − 6.4) it woke a host before.
      const s = snapshot(
        [
          powered(host("a", { cpu: 100, samples: rising(100, 100) })),
          powered(host("b", { cpu: 35, samples: rising(35, 35) })),
          powered(host("c", { cpu: 35, samples: rising(35, 35) })),
          off("g"),
        ],
        [vm("a1", "a", { cpu: 400, vcpus: 4 }), vm("a2", "a", { cpu: 400, vcpus: 4 }), vm("b1", "b"), vm("c1", "c")],
      );
      const p = run(s, powerPolicy({ strategies: [] }));
      expect(p.moves).toEqual([]);
      expect(p.power.filter((a) => a.code === "POWER_ON_DEMAND")).toEqual([]);
    });

    it("counts falling hosts against rising ones: the net rise, not the sum of the rises", () => {
      // a and b rise as above, c falls as fast: the net rise is 0 and 10.8 cores ≤ 12.8 hold.
      const s = snapshot(
        [
          powered(host("a", { cpu: 45, samples: rising(5, 45) })),
          powered(host("b", { cpu: 45, samples: rising(5, 45) })),
          powered(host("c", { cpu: 45, samples: rising(85, 45) })),
          off("g"),
        ],
        [vm("a1", "a"), vm("b1", "b"), vm("c1", "c")],
      );
      const p = run(s);
      expect(p.power).toEqual([]);
      expect(cluster(p)).toEqual(["POWER_NOT_NEEDED"]);
    });

    it("does not wake a host while the demand stays under the hot-spot trigger, even above max_load_candidate", () => {
      // 75 % on every host, steady: over the 70 % a destination may reach, under the 80 % trigger.
      const steady = rising(75, 75);
      const s = snapshot(
        [...["a", "b", "c", "d"].map((id) => powered(host(id, { cpu: 75, samples: steady }))), powered(host("r", { cpu: 0 })), off("g")],
        [vm("a1", "a"), vm("b1", "b"), vm("c1", "c"), vm("d1", "d")],
      );
      const p = run(s);
      expect(p.power).toEqual([]);
      expect(cluster(p)).toEqual(["POWER_NOT_NEEDED"]);
    });

    it("lets a host stay off for min_off_time first (POWER_MIN_OFF)", () => {
      const p = run(risingCluster(off("g", {}, { since: NOW - 600_000 })));
      expect(p.power).toEqual([]);
      expect(codeOf(p, "g")).toEqual(["POWER_MIN_OFF"]);
      expect(cluster(p)).toEqual(["POWER_NO_HOST_TO_WAKE"]);
    });

    it("does not predict with prediction off (predict_window 0)", () => {
      expect(run(risingCluster(off("g")), powerPolicy({ predict_window: 0 })).power).toEqual([]);
    });
  });

  describe("hot spots no powered host can relieve", () => {
    const hot = (extra: SnapshotHost[]): ClusterSnapshot =>
      snapshot(
        // b is busy (75 % > max_load_candidate 70 %) but no hot spot itself.
        [powered(host("a", { cpu: 95, overFor: 600 })), powered(host("b", { cpu: 75, overFor: 600 })), ...extra],
        [vm("a1", "a", { cpu: 400, vcpus: 4, mem: 8192 }), vm("a2", "a", { cpu: 300, vcpus: 4 }), vm("b1", "b", { cpu: 600, vcpus: 8 })],
      );
    const pol = powerPolicy({ max_power_ops: 1 });

    it("switches on the smallest host that takes the VMs, which wait for it (POWER_ON_HOTSPOT)", () => {
      const p = run(hot([off("big", { cpus: 32, memGiB: 256 }), off("tiny", { cpus: 2 }), off("g", { cpus: 8 })]), pol);
      expect(p.moves).toEqual([]);
      expect(acts(p)[0]).toBe("on:g:POWER_ON_HOTSPOT");
      // a needs 7.6 − 5.6 = 2 cores: a2 (3 cores) is the cheapest VM that suffices alone.
      expect(p.power[0]!.forVms).toEqual(["a2"]);
      expect(p.decisions.find((d) => d.subject === "a" && d.code === "HOTSPOT_UNRESOLVED")).toBeDefined();
    });

    it("lets a hot spot wait for a host already booting that will take its VMs", () => {
      const p = run(hot([booting("g"), off("h")]), pol);
      expect(p.power).toEqual([]);
      expect(p.decisions.find((d) => d.code === "POWER_NOT_NEEDED")!.numbers).toMatchObject({ need: "POWER_ON_HOTSPOT" });
    });

    it("does not make a hot spot wait for min_off_time", () => {
      expect(acts(run(hot([off("g", {}, { since: NOW - 60_000 })]), pol))[0]).toBe("on:g:POWER_ON_HOTSPOT");
    });
  });

  it("switches a host on for an evacuation whose VMs fit nowhere powered (POWER_ON_EVACUATE)", () => {
    const s = snapshot(
      [powered(host("a", { cpu: 40 })), powered(host("b", { cpu: 65 })), off("g", { cpus: 16 })],
      [vm("a1", "a", { cpu: 200 }), vm("a2", "a", { cpu: 100 }), vm("b1", "b")],
    );
    const p = run(s, powerPolicy(), { mode: "evacuate", host: "a", placement: "stripe", useEmptyHosts: false });
    expect(acts(p)).toEqual(["on:g:POWER_ON_EVACUATE"]);
    expect(p.power[0]!.forVms.sort()).toEqual(["a1", "a2"].filter((n) => p.moves.every((m) => m.vm !== n)));
    expect(p.power[0]!.forVms.length).toBeGreaterThan(0);
  });

  it("judges a VM's must rules on the host it would wake", () => {
    const s = snapshot(
      [powered(host("a", { cpu: 95, overFor: 600 })), powered(host("b", { cpu: 75 })), off("g"), off("h", { cpus: 16 })],
      [vm("a1", "a", { cpu: 400, vcpus: 4 }), vm("b1", "b", { cpu: 600, vcpus: 8 })],
    );
    expect(acts(run(s))[0]).toBe("on:g:POWER_ON_HOTSPOT");
    const rules = [{ name: "not-g", type: "vm-not-host" as const, strength: "must" as const, vms: ["a1"], hosts: ["g"] }];
    expect(acts(run(s, powerPolicy({ rules })))[0]).toBe("on:h:POWER_ON_HOTSPOT");
  });
});

describe("power: hosts off or booting in the rest of the planner", () => {
  const s = (): ClusterSnapshot => busy(20, [off("g"), booting("k"), idle("e")], [vm("a1", "a"), vm("b1", "b")]);

  it("they are not destinations, and say why", () => {
    const x = explainVm(s(), powerPolicy(), NOW, "a1");
    expect(x.hosts.find((d) => d.subject === "g")!.code).toBe("DEST_POWERED_OFF");
    expect(x.hosts.find((d) => d.subject === "k")!.code).toBe("DEST_BOOTING");
  });

  it("they are not stale, not in the imbalance, not spares, and not power-off candidates", () => {
    const p = plan(s(), policy({ strategies: ["hotspot", "balance", "consolidate"], spare_hosts: 1 }), NOW);
    expect(p.decisions.filter((d) => d.code === "HOST_STALE")).toEqual([]);
    expect(p.moves.every((m) => m.destination !== "g" && m.destination !== "k")).toBe(true);
    expect(p.emptyHosts).not.toContain("g");
    expect(p.emptyHosts).not.toContain("k");
    expect(["g", "k"]).not.toContain(p.decisions.find((d) => d.code === "HOST_SPARE")?.subject);
    // The imbalance counts a, b and e only: the same as without g and k.
    const without = plan(busy(20, [idle("e")], [vm("a1", "a"), vm("b1", "b")]), policy({ strategies: ["balance"] }), NOW);
    expect(plan(s(), policy({ strategies: ["balance"] }), NOW).indicators.imbalanceBefore).toBe(without.indicators.imbalanceBefore);
  });

  it("with power_management off, no power actions nor power decisions", () => {
    const p = plan(busy(60, [idle("e"), off("g")]), policy(), NOW);
    expect(p.power).toEqual([]);
    expect(p.decisions.filter((d) => d.code.startsWith("POWER_"))).toEqual([]);
  });
});

describe("power: determinism and properties", () => {
  const arb = fc.record({
    hosts: fc.array(
      fc.record({
        cpus: fc.constantFrom(4, 8, 16, 32),
        cpu: fc.integer({ min: 0, max: 95 }),
        mem: fc.integer({ min: 2, max: 90 }),
        state: fc.constantFrom("on", "on", "on", "off", "booting", "shutting_down", "unknown"),
        switchable: fc.integer({ min: 0, max: 5 }).map((n) => n > 0),
        emptyForH: fc.constantFrom(0, 0.1, 1, 3),
        onForH: fc.constantFrom(0.1, 2, 30),
        failed: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
        cycles: fc.integer({ min: 0, max: 4 }),
        maintenance: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
      }),
      { minLength: 2, maxLength: 8 },
    ),
    vms: fc.array(fc.record({ host: fc.nat(), cpu: fc.integer({ min: 0, max: 300 }), state: fc.constantFrom("running", "running", "shutoff") }), {
      maxLength: 12,
    }),
    ops: fc.integer({ min: 1, max: 3 }),
    standby: fc.constantFrom<Policy["standby_capacity"]>("largest_host", { hosts: 1 }, { cpu_percent: 20, mem_percent: 20 }),
  });

  type Cluster = typeof arb extends fc.Arbitrary<infer T> ? T : never;
  const build = (c: Cluster): ClusterSnapshot => {
    const hosts = c.hosts.map((h, i) => {
      const id = `h${i}`;
      const dormant = h.state === "off" || h.state === "booting" || h.state === "shutting_down";
      const base = host(id, { cpus: h.cpus, cpu: dormant ? 0 : h.cpu, mem: h.mem, maintenance: h.maintenance, ...(dormant ? { lastSeenAgo: 3600 } : {}) });
      return powered(base, {
        state: h.state,
        since: NOW - h.onForH * HOUR,
        switchable: h.switchable,
        emptySince: h.emptyForH > 0 ? NOW - h.emptyForH * HOUR : null,
        cyclesToday: h.cycles,
        bootDeadline: h.state === "booting" ? NOW + (h.cycles % 2 === 0 ? 600_000 : -600_000) : null,
        failed: h.failed ? "driver error" : null,
      });
    });
    const live = hosts.filter((h) => h.power!.state === "on" || h.power!.state === "unknown");
    const vms = live.length === 0 ? [] : c.vms.map((v, i) => vm(`v${i}`, live[v.host % live.length]!.id, { cpu: v.cpu, state: v.state as "running" }));
    return snapshot(hosts, vms);
  };

  it("the same input in any order gives the same plan, byte for byte", () => {
    fc.assert(
      fc.property(arb, (c) => {
        const s = build(c);
        const pol = powerPolicy({ max_power_ops: c.ops, standby_capacity: c.standby, strategies: ["hotspot", "consolidate"] });
        const r = { ...s, hosts: [...s.hosts].reverse(), vms: [...s.vms].reverse() };
        expect(JSON.stringify(plan(r, pol, NOW))).toBe(JSON.stringify(plan(s, pol, NOW)));
      }),
      { numRuns: 60 },
    );
  });

  it("never more than max_power_ops at once, never off a host holding a VM, and the reserve holds after every off", () => {
    fc.assert(
      fc.property(arb, (c) => {
        const s = build(c);
        const pol = powerPolicy({ max_power_ops: c.ops, standby_capacity: c.standby });
        const p = plan(s, pol, NOW);
        const ongoing = s.hosts.filter(
          (h) => h.power!.state === "shutting_down" || (h.power!.state === "booting" && (h.power!.bootDeadline ?? Infinity) >= NOW),
        ).length;
        expect(p.power.length).toBeLessThanOrEqual(Math.max(0, c.ops - ongoing));
        expect(new Set(p.power.map((a) => a.host)).size).toBe(p.power.length);
        const offs = p.power.filter((a) => a.action === "off").map((a) => a.host);
        for (const id of offs) {
          expect(s.vms.some((v) => v.host === id)).toBe(false);
          expect(s.hosts.find((h) => h.id === id)!.power!.state).toBe("on");
        }
        for (const a of p.power.filter((x) => x.action === "on")) expect(s.hosts.find((h) => h.id === a.host)!.power!.state).toBe("off");
        if (offs.length === 0) return;
        // No host switched off is a move's source or destination.
        for (const m of p.moves) expect(offs.includes(m.source) || offs.includes(m.destination)).toBe(false);
        // The reserve is judged on the working copy as the moves leave it; on the snapshot as it is when there are none.
        if (p.moves.length > 0) return;
        const ctx = createContext(s, pol, NOW, "cycle", {});
        const members = ctx.model.hosts.filter((h) => h.fresh && !h.excluded && !h.maintenance && !offs.includes(h.id)).map((h) => poweredMember(ctx, h));
        expect(reserveVerdict(pol, members).holds).toBe(true);
      }),
      { numRuns: 200 },
    );
  });
});
