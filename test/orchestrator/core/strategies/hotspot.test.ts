import { describe, expect, it } from "vitest";
import { plan } from "../../../../orchestrator/core/planner.js";
import { flight, host, NOW, past, policy, snapshot, vm } from "../builders.js";

// Hot host "a": 8 cores at 90 % for 5 minutes (threshold 80, target 70 → 1.6 cores must go).
const hotA = () => host("a", { cpus: 8, cpu: 90, overFor: 300 });
const codes = (p: ReturnType<typeof plan>) => p.decisions.map((d) => d.code);

describe("hotspot", () => {
  it("moves the cheapest VM whose move alone ends the overload", () => {
    const s = snapshot(
      [hotA(), host("b", { cpu: 20 })],
      [
        vm("big", "a", { cpu: 300, mem: 16384 }),
        vm("cheap", "a", { cpu: 200, mem: 1024 }),
        vm("tiny", "a", { cpu: 50, mem: 512 }),
        vm("mid", "a", { cpu: 160, mem: 4096 }),
      ],
    );
    const p = plan(s, policy(), NOW);
    expect(p.moves).toHaveLength(1);
    expect(p.moves[0]).toMatchObject({ vm: "cheap", source: "a", destination: "b", code: "HOST_OVERLOADED", strategy: "hotspot" });
    expect(p.moves[0]!.numbers.sourceCpuAfter).toBeLessThanOrEqual(70);
  });

  it("waits for a hot source that is already sending a VM instead of shedding another", () => {
    const s = {
      ...snapshot([hotA(), host("b", { cpu: 20 })], [vm("leaving", "a", { cpu: 200, mem: 1024 }), vm("other", "a", { cpu: 200, mem: 1024 })]),
      inFlight: [flight("f1", "a", "b")],
    };
    const p = plan(s, policy(), NOW);
    expect(p.moves).toEqual([]);
    expect(codes(p)).toContain("SOURCE_SENDING");
  });

  it("counts the dirty rate in the cost", () => {
    const s = snapshot(
      [hotA(), host("b", { cpu: 20 })],
      [vm("busy", "a", { cpu: 200, mem: 2048, dirty: 200 }), vm("calm", "a", { cpu: 200, mem: 2560, dirty: 1 })],
    );
    expect(plan(s, policy(), NOW).moves[0]?.vm).toBe("calm");
  });

  it("sends the VM to the destination with the lowest resulting weighted load, ties by id", () => {
    const s = snapshot(
      [hotA(), host("d", { cpu: 10, mem: 20 }), host("b", { cpu: 30, mem: 20 }), host("c", { cpu: 10, mem: 20 }), host("e", { cpu: 5, mem: 60 })],
      [vm("x", "a", { cpu: 200, mem: 1024 })],
    );
    expect(plan(s, policy(), NOW).moves[0]?.destination).toBe("c");
  });

  it("hysteresis: sheds until the host is at or below load_target, not just under the threshold", () => {
    const s = snapshot(
      [hotA(), host("b", { cpus: 32, cpu: 10 }), host("c", { cpus: 32, cpu: 10 })],
      [vm("v1", "a", { cpu: 100 }), vm("v2", "a", { cpu: 90 }), vm("v3", "a", { cpu: 80 })],
    );
    const p = plan(s, policy({ max_moves_per_cycle: 5, max_concurrent_per_source: 5, max_concurrent_total: 5 }), NOW);
    // 7.2 cores, target 5.6: no single VM suffices, v1 covers most (1.0); then 0.6 left and both
    // v2 (0.9) and v3 (0.8) suffice: v3 is cheaper (less CPU activity) → 5.4 cores = 67.5 %.
    expect(p.moves.map((m) => m.vm)).toEqual(["v1", "v3"]);
    expect(p.moves[1]!.numbers.sourceCpuAfter).toBeLessThanOrEqual(70);
    expect(p.indicators.overloadedAfter).toBe(0);
  });

  it("a host between target and threshold is left alone", () => {
    const s = snapshot([host("a", { cpu: 75 }), host("b", { cpu: 10 })], [vm("x", "a", { cpu: 200 })]);
    const p = plan(s, policy(), NOW);
    expect(p.moves).toEqual([]);
    expect(codes(p)).toContain("NO_HOTSPOT");
  });

  it("an overload shorter than max_over moves nothing and says so", () => {
    const s = snapshot([host("a", { cpu: 95, overFor: 30 }), host("b", { cpu: 10 })], [vm("x", "a", { cpu: 200 })]);
    const p = plan(s, policy({ max_over: 60 }), NOW);
    expect(p.moves).toEqual([]);
    expect(p.decisions.find((d) => d.code === "OVERLOAD_TOO_SHORT")).toMatchObject({ subject: "a", numbers: { overSeconds: 30, max_over: 60 } });
  });

  it("a memory hot spot sheds memory", () => {
    const s = snapshot(
      [host("a", { cpu: 10, mem: 95, memGiB: 64 }), host("b", { cpu: 10, mem: 10 })],
      [vm("small", "a", { mem: 1024 }), vm("large", "a", { mem: 8192 })],
    );
    const p = plan(s, policy(), NOW);
    expect(p.moves[0]).toMatchObject({ vm: "large", numbers: { metric: "mem" } });
  });

  it("a source that just sent or received a VM settles first", () => {
    const s = { ...snapshot([hotA(), host("b", { cpu: 10 })], [vm("x", "a", { cpu: 200 })]), history: [past("z", "a", "c", 20)] };
    const p = plan(s, policy({ host_settle: 60 }), NOW);
    expect(p.moves).toEqual([]);
    expect(codes(p)).toContain("SOURCE_SETTLING");
  });

  it("skips a settling destination for another one", () => {
    const s = { ...snapshot([hotA(), host("b", { cpu: 5 }), host("c", { cpu: 30 })], [vm("x", "a", { cpu: 200 })]), history: [past("z", "b", "d", 20)] };
    expect(plan(s, policy({ host_settle: 60 }), NOW).moves[0]?.destination).toBe("c");
  });

  it("does not move a VM in cooldown; the next cheapest sufficient VM goes instead", () => {
    const s = {
      ...snapshot([hotA(), host("b", { cpu: 10 })], [vm("cheap", "a", { cpu: 200, mem: 1024 }), vm("other", "a", { cpu: 200, mem: 2048 })]),
      history: [past("cheap", "c", "a", 100)],
    };
    const p = plan(s, policy(), NOW);
    expect(p.moves[0]?.vm).toBe("other");
    expect(p.decisions.find((d) => d.subject === "cheap")?.code).toBe("VM_COOLDOWN");
  });

  it("freezes a ping-pong VM, reports it and never moves it", () => {
    const s = {
      ...snapshot([hotA(), host("b", { cpu: 10 })], [vm("pp", "a", { cpu: 400 })]),
      history: [past("pp", "a", "b", 3000), past("pp", "b", "a", 2000)],
    };
    const p = plan(s, policy({ vm_cooldown: 0 }), NOW);
    expect(p.moves).toEqual([]);
    expect(p.frozen).toEqual(["pp"]);
    expect(p.decisions.filter((d) => d.subject === "pp").map((d) => d.code)).toContain("VM_PINGPONG");
  });

  it("caps count migrations already in flight", () => {
    const s = {
      ...snapshot(
        [hotA(), host("h", { cpu: 95, overFor: 300 }), host("b", { cpus: 64, cpu: 5 }), host("c", { cpus: 64, cpu: 5 })],
        [vm("x", "a", { cpu: 200 }), vm("y", "h", { cpu: 300 })],
      ),
      inFlight: [flight("z1", "q", "r"), flight("z2", "q", "r"), flight("z3", "s", "t")],
    };
    const p = plan(s, policy({ max_moves_per_cycle: 5, max_concurrent_total: 4, max_concurrent_per_destination: 10 }), NOW);
    expect(p.moves).toHaveLength(1);
    expect(p.decisions.find((d) => d.code === "HOTSPOT_UNRESOLVED")?.numbers.blockedBy).toBe("TOTAL_CONCURRENCY");
  });

  it("per-destination concurrency counts in-flight arrivals", () => {
    const s = {
      ...snapshot([hotA(), host("b", { cpu: 5 }), host("c", { cpu: 30 })], [vm("x", "a", { cpu: 200 })]),
      inFlight: [flight("z1", "q", "b", { cpu: 0, mem: 0 }), flight("z2", "q", "b", { cpu: 0, mem: 0 })],
    };
    expect(plan(s, policy(), NOW).moves[0]?.destination).toBe("c");
  });

  it("never breaks a must rule, even when nothing else fits", () => {
    const s = snapshot([hotA(), host("b", { cpu: 10 })], [vm("x", "a", { cpu: 400 }), vm("y", "b")]);
    const p = plan(s, policy({ rules: [{ name: "apart", type: "anti-affinity", vms: ["x", "y"] }] }), NOW);
    expect(p.moves).toEqual([]);
    expect(p.decisions.find((d) => d.kind === "host" && d.subject === "b" && d.vm === "x")?.code).toBe("RULE_MUST");
    expect(codes(p)).toContain("HOTSPOT_UNRESOLVED");
  });

  it("breaks a should rule only when nothing else fits, and reports it", () => {
    const rules = [{ name: "apart", type: "anti-affinity" as const, strength: "should" as const, vms: ["x", "y"] }];
    const roomy = snapshot([hotA(), host("b", { cpu: 10 }), host("c", { cpu: 30 })], [vm("x", "a", { cpu: 200 }), vm("y", "b")]);
    expect(plan(roomy, policy({ rules }), NOW).moves[0]).toMatchObject({ destination: "c", brokenShouldRules: [] });
    const tight = snapshot([hotA(), host("b", { cpu: 10 }), host("c", { cpu: 69 })], [vm("x", "a", { cpu: 200 }), vm("y", "b")]);
    const m = plan(tight, policy({ rules }), NOW).moves[0]!;
    expect(m).toMatchObject({ destination: "b", brokenShouldRules: ["apart"] });
    expect(m.reason).toContain("should rule");
  });

  it("when no VM fits anywhere: NO_DESTINATION per VM with counts, a few host rejections, HOTSPOT_UNRESOLVED", () => {
    const s = snapshot([hotA(), host("b", { cpu: 68 }), host("c", { cpu: 69 })], [vm("x", "a", { cpu: 400 })]);
    const p = plan(s, policy(), NOW);
    expect(p.moves).toEqual([]);
    expect(p.decisions.find((d) => d.code === "NO_DESTINATION")).toMatchObject({ subject: "x", numbers: { hostsEvaluated: 2, DEST_CPU: 2 } });
    expect(p.decisions.filter((d) => d.kind === "host" && d.vm === "x").map((d) => d.subject)).toEqual(["b", "c"]);
  });
});
