import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { PolicyInput } from "../../../shared/config/policy.js";
import { checkDestination, checkMoveCap, checkSource, checkVm, exceedsPhysicalMemory, type DestOptions } from "../../../orchestrator/core/constraints.js";
import { createContext } from "../../../orchestrator/core/context.js";
import { plan, preflightEvacuation } from "../../../orchestrator/core/planner.js";
import type { PlanRequest } from "../../../shared/schemas/plan.js";
import type { ClusterSnapshot, PastMove } from "../../../shared/schemas/snapshot.js";
import { flight, host, NOW, past, policy, snapshot, vm } from "./builders.js";

// One scenario per code: the VM "x" on host "a" and the candidate destination "b".

const base = (o: { b?: Parameters<typeof host>[1]; bVms?: ReturnType<typeof vm>[]; x?: Parameters<typeof vm>[2] } = {}) =>
  snapshot([host("a", { cpu: 50 }), host("b", o.b ?? { cpu: 20 })], [vm("x", "a", o.x), ...(o.bVms ?? [vm("b1", "b")])]);

function verdict(s: ClusterSnapshot, pol: PolicyInput = {}, opts: Partial<DestOptions> = {}, mode: "cycle" | "manual" = "cycle", dest = "b") {
  const p = policy(pol);
  const ctx = createContext(s, p, NOW, mode, {});
  if (opts.allowEmpty === false) ctx.closing.clear();
  const x = ctx.model.vmByName.get("x")!;
  const vmR = checkVm(ctx, x);
  const d = checkDestination(ctx, x, ctx.model.hostById.get(dest)!, {
    cpuLimit: p.max_load_candidate,
    memLimit: p.max_mem_candidate,
    allowEmpty: true,
    caps: ctx.caps,
    ...opts,
  });
  return { vm: vmR, dest: d.ok ? null : d.rejection, ok: d, ctx };
}

describe("checkDestination: one scenario per code", () => {
  it.each([
    { code: "DEST_SILENT", s: base({ b: { lastSeenAgo: 100 } }) },
    { code: "DEST_MAINTENANCE", s: base({ b: { maintenance: true } }) },
    { code: "DEST_UNHEALTHY", s: base({ b: { collectError: "virsh domstats: failed to connect to the hypervisor" } }) },
    { code: "DEST_EXCLUDED", s: base(), pol: { excluded_hosts: ["b"] } },
    { code: "DEST_NO_ADDRESS", s: base({ b: { address: null } }) },
    { code: "DEST_TOO_MANY_VMS", s: base({ bVms: [vm("b1", "b"), vm("b2", "b")] }), pol: { max_vm_per_host: 2 } },
    { code: "DEST_CPU", s: base({ b: { cpu: 65 } }) },
    { code: "DEST_MEM", s: base({ b: { mem: 84 } }), note: "projected memory over max_mem_candidate" },
    {
      code: "DEST_MEM",
      s: base({ b: { cpu: 10, mem: 10, memGiB: 16 }, bVms: [vm("b1", "b", { mem: 14_000 })] }),
      note: "committed VM memory over overcommit × total − reserve",
    },
    { code: "DEST_SETTLING", s: { ...base(), history: [past("z", "b", "c", 30)] }, pol: { host_settle: 60 } },
    { code: "DEST_CONCURRENCY", s: { ...base(), inFlight: [flight("z1", "c", "b"), flight("z2", "d", "b")] } },
    { code: "DEST_EMPTY", s: base({ bVms: [] }), opts: { allowEmpty: false } },
    { code: "RULE_MUST", s: base(), pol: { rules: [{ name: "apart", type: "anti-affinity", vms: ["x", "b1"] }] } },
    { code: "RULE_MUST", s: base(), pol: { rules: [{ name: "only-a-c", type: "vm-host", vms: ["x"], hosts: ["a", "c"] }] } },
    { code: "RULE_MUST", s: base(), pol: { rules: [{ name: "not-b", type: "vm-not-host", vms: ["x"], hosts: ["b"] }] } },
    {
      code: "RULE_MUST",
      s: snapshot([host("a"), host("b")], [vm("x", "a"), vm("y", "a"), vm("b1", "b")]),
      pol: { rules: [{ name: "together", type: "affinity", vms: ["x", "y"] }] },
    },
    { code: "DEST_IS_SOURCE", s: base(), dest: "a" },
  ] as { code: string; s: ClusterSnapshot; pol?: PolicyInput; opts?: Partial<DestOptions>; dest?: string; note?: string }[])(
    "$code $note",
    ({ code, s, pol, opts, dest }) => {
      const r = verdict(s, pol, opts, "cycle", dest);
      expect(r.dest?.code).toBe(code);
      expect(r.dest?.message.length).toBeGreaterThan(10);
    },
  );

  it("a clean destination passes with its projected loads", () => {
    const r = verdict(base());
    expect(r.dest).toBeNull();
    expect(r.ok.ok && r.ok.cpuAfter).toBeCloseTo(20 + 50 / 8);
  });

  it("DEST_CPU message carries the numbers: host b 55.3 % + 9.7 % = 65.0 % ≥ 60 %", () => {
    const r = verdict(base({ b: { cpu: 55.3 }, x: { cpu: 77.6 } }), { max_load_candidate: 60 });
    expect(r.dest?.code).toBe("DEST_CPU");
    expect(r.dest?.message).toBe("host b 55.3 % + 9.7 % = 65.0 % ≥ 60.0 %");
    expect(r.dest?.numbers).toMatchObject({ cpuPercent: 55.3, vmCpuPercent: 9.7, projectedCpuPercent: 65, limitPercent: 60 });
  });

  it("a VM whose CPU is not measured counts as all its vCPUs busy, and says so", () => {
    const r = verdict(base({ b: { cpu: 40 }, x: { cpu: null, vcpus: 4 } }));
    expect(r.dest?.code).toBe("DEST_CPU");
    expect(r.dest?.numbers).toMatchObject({ vmCpuPercent: 50, cpuAssumed: true });
    expect(r.dest?.message).toContain("not measured");
  });

  it("filters: a rule with source_hosts not matching the VM's host does not apply", () => {
    const r = verdict(base(), { rules: [{ name: "apart", type: "anti-affinity", vms: ["x", "b1"], source_hosts: ["c"] }] });
    expect(r.dest).toBeNull();
  });

  it("filters: a rule with target_hosts only constrains those targets", () => {
    expect(verdict(base(), { rules: [{ name: "apart", type: "anti-affinity", vms: ["x", "b1"], target_hosts: ["c"] }] }).dest).toBeNull();
    expect(verdict(base(), { rules: [{ name: "apart", type: "anti-affinity", vms: ["x", "b1"], target_hosts: ["b"] }] }).dest?.code).toBe("RULE_MUST");
  });

  it("a should rule never rejects: the destination reports it as broken", () => {
    const r = verdict(base(), { rules: [{ name: "apart", type: "anti-affinity", strength: "should", vms: ["x", "b1"] }] });
    expect(r.ok.ok && r.ok.brokenShould).toEqual(["apart"]);
  });

  it("anti-affinity counts a VM migrating towards the destination", () => {
    const s = { ...snapshot([host("a"), host("b"), host("c")], [vm("x", "a"), vm("y", "c"), vm("b1", "b")]), inFlight: [flight("y", "c", "b")] };
    expect(verdict(s, { rules: [{ name: "apart", type: "anti-affinity", vms: ["x", "y"] }] }).dest?.code).toBe("RULE_MUST");
  });

  it("operator modes skip settle times", () => {
    const s = { ...base(), history: [past("z", "b", "c", 30)] };
    expect(verdict(s, {}, {}, "manual").dest).toBeNull();
  });
});

describe("checkVm: one scenario per code", () => {
  it.each([
    { code: "VM_PINNED", s: base(), pol: { pinned_vms: ["x"] } },
    { code: "VM_EXCLUDED", s: base(), pol: { excluded_vms: ["x"] } },
    { code: "VM_NOT_RUNNING", s: base({ x: { state: "shutoff" } }) },
    { code: "VM_FROZEN", s: { ...base(), frozenVms: ["x"] } },
    { code: "VM_PINGPONG", s: { ...base(), history: [past("x", "a", "b", 2000), past("x", "b", "a", 1000)] }, pol: { vm_cooldown: 0 } },
    { code: "VM_COOLDOWN", s: { ...base(), history: [past("x", "c", "a", 100)] } },
    { code: "VM_MIGRATING", s: { ...base(), inFlight: [flight("x", "a", "c")] } },
    { code: "SOURCE_EXCLUDED", s: base(), pol: { excluded_hosts: ["a"] } },
    { code: "SOURCE_SILENT", s: snapshot([host("a", { lastSeenAgo: 100 }), host("b")], [vm("x", "a")]) },
    { code: "MOVES_PER_CYCLE", s: base(), pol: { max_moves_per_cycle: 0 } },
    {
      code: "TOTAL_CONCURRENCY",
      s: { ...base(), inFlight: [flight("z1", "c", "d"), flight("z2", "c", "d"), flight("z3", "e", "f"), flight("z4", "e", "f")] },
      pol: { max_concurrent_total: 4 },
    },
    { code: "SOURCE_CONCURRENCY", s: { ...base(), inFlight: [flight("z1", "a", "c"), flight("z2", "a", "d")] } },
  ] as { code: string; s: ClusterSnapshot; pol?: PolicyInput }[])("$code", ({ code, s, pol }) => {
    expect(verdict(s, pol).vm?.code).toBe(code);
  });

  it("VM_COOLDOWN numbers show the doubling", () => {
    const r = verdict({ ...base(), history: [past("x", "c", "d", 1500), past("x", "d", "a", 700)] });
    expect(r.vm).toMatchObject({ code: "VM_COOLDOWN", numbers: { recentMoves: 2, cooldownSeconds: 1200, remainingSeconds: 500 } });
  });

  it("operator modes skip the cooldown and the per-cycle caps, not pins", () => {
    expect(verdict({ ...base(), history: [past("x", "c", "a", 100)] }, { max_moves_per_cycle: 0 }, {}, "manual").vm).toBeNull();
    expect(verdict(base(), { pinned_vms: ["x"] }, {}, "manual").vm?.code).toBe("VM_PINNED");
  });
});

describe("DEST_MEM on physical memory", () => {
  it("refuses a VM that fits the memory limits but would eat into the hypervisor's reserve", () => {
    // b: 16 GiB, 13,824 MiB used; x needs 2,048: 96.9 % ≤ max_mem_candidate 100 %, but 15,872 > 16,384 − 1,024.
    const s = snapshot([host("a"), host("b", { memGiB: 16, mem: 84.375 })], [vm("x", "a"), vm("b1", "b")]);
    const r = verdict(s, { max_mem_candidate: 100, mem_reserve_mib: 1024 });
    expect(r.dest).toMatchObject({ code: "DEST_MEM", numbers: { memUsedMiB: 13_824, vmMemMiB: 2048, limitMiB: 15_360 } });
    expect(r.dest?.message).toContain("reserve 1024 MiB");
    expect(verdict(s, { max_mem_candidate: 100, mem_reserve_mib: 512 }).dest).toBeNull();
  });
});

describe("exceedsPhysicalMemory", () => {
  it.each([
    { used: 10_000, add: 2000, total: 16_384, reserve: 1024, exceeds: false },
    { used: 13_360, add: 2000, total: 16_384, reserve: 1024, exceeds: false, note: "exactly at the limit" },
    { used: 13_361, add: 2000, total: 16_384, reserve: 1024, exceeds: true },
    { used: 15_000, add: 2000, total: 16_384, reserve: 0, exceeds: true },
    { used: 0, add: 0, total: 1024, reserve: 2048, exceeds: true, note: "a reserve larger than the host" },
  ])("$used + $add of $total (reserve $reserve): $exceeds $note", ({ used, add, total, reserve, exceeds }) => {
    expect(exceedsPhysicalMemory(used, add, total, reserve)).toBe(exceeds);
  });

  it("says what the dispatcher's pre-check says (available − incoming − reserve < VM)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1 << 20 }),
        fc.nat(1 << 20),
        fc.nat(1 << 18),
        fc.nat(1 << 16),
        fc.nat(1 << 18),
        (total, availRaw, incoming, reserve, vmMiB) => {
          const available = Math.min(total, availRaw);
          const dispatcher = available - incoming - reserve < vmMiB;
          expect(exceedsPhysicalMemory(total - available + incoming, vmMiB, total, reserve)).toBe(dispatcher);
        },
      ),
    );
  });
});

describe("checkSource: may an overloaded host shed load now?", () => {
  const source = (s: ClusterSnapshot, pol: PolicyInput = {}, mode: "cycle" | "manual" = "cycle") => {
    const ctx = createContext(s, policy(pol), NOW, mode, {});
    return checkSource(ctx, ctx.model.hostById.get("a")!);
  };

  it("SOURCE_SENDING while it still sends a VM, with its loads", () => {
    const r = source({ ...base(), inFlight: [flight("x", "a", "b")] });
    expect(r).toMatchObject({ code: "SOURCE_SENDING", numbers: { inFlightOut: 1, cpuPercent: 50, memPercent: 20 } });
  });

  it("SOURCE_SETTLING right after a migration, then nothing once host_settle has passed", () => {
    const s = { ...base(), history: [past("z", "c", "a", 30)] };
    expect(source(s, { host_settle: 60 })).toMatchObject({ code: "SOURCE_SETTLING", numbers: { sinceSeconds: 30, host_settle: 60 } });
    expect(source(s, { host_settle: 20 })).toBeNull();
  });

  it("sending is reported before settling, and operator modes skip both", () => {
    const s = { ...base(), inFlight: [flight("x", "a", "b")], history: [past("z", "c", "a", 30)] };
    expect(source(s, { host_settle: 60 })?.code).toBe("SOURCE_SENDING");
    expect(source(s, { host_settle: 60 }, "manual")).toBeNull();
  });
});

describe("checkMoveCap", () => {
  it("is MOVES_PER_CYCLE, as checkCaps reports it, once the plan holds max_moves_per_cycle moves", () => {
    const ctx = createContext(base(), policy({ max_moves_per_cycle: 1 }), NOW, "cycle", {});
    expect(checkMoveCap(ctx)).toBeNull();
    ctx.model.applyMove(ctx.model.vmByName.get("b1")!, ctx.model.hostById.get("a")!);
    const r = checkMoveCap(ctx);
    expect(r).toMatchObject({ code: "MOVES_PER_CYCLE", numbers: { planned: 1, max_moves_per_cycle: 1 } });
    expect(checkVm(ctx, ctx.model.vmByName.get("x")!)).toEqual(r);
  });
});

describe("checkVm: a VM that two hosts list (never moved, explained)", () => {
  // x runs on a; c lists it too (an untracked migration's incoming copy, or split brain).
  const twice = (extra: Parameters<typeof snapshot>[2] = {}) =>
    snapshot([host("a"), host("b"), host("c")], [{ ...vm("x", "a"), alsoListedOn: ["c"] }, vm("b1", "b"), vm("c1", "c")], extra);

  it("VM_LISTED_TWICE names both hosts, in every mode", () => {
    const r = verdict(twice());
    expect(r.vm).toMatchObject({ code: "VM_LISTED_TWICE", numbers: { host: "a", alsoListedOn: "c", hosts: 2 } });
    expect(r.vm?.message).toContain("a and c");
    expect(verdict(twice(), {}, {}, "manual").vm?.code).toBe("VM_LISTED_TWICE");
  });

  it("a migration the orchestrator tracks is VM_MIGRATING alone, however it is planned", () => {
    const s = twice({ inFlight: [flight("x", "a", "c")] });
    expect(verdict(s).vm?.code).toBe("VM_MIGRATING");
    const requests: PlanRequest[] = [
      { mode: "cycle" },
      { mode: "evacuate", host: "a", placement: "stripe", useEmptyHosts: false },
      { mode: "manual", vm: "x" },
    ];
    for (const req of requests) {
      const p = plan(s, policy({ strategies: ["hotspot", "balance", "consolidate"] }), NOW, req);
      expect(p.moves.map((m) => m.vm)).not.toContain("x");
      expect(p.decisions.filter((d) => d.code === "VM_LISTED_TWICE")).toEqual([]);
    }
  });

  it("is not moved by an evacuation, which it blocks, nor by a manual migrate", () => {
    const pre = preflightEvacuation(twice(), policy(), NOW, "a");
    expect(pre.plan.moves).toEqual([]);
    expect(pre.canDrain).toBe(false);
    expect(pre.reasons.map((d) => [d.subject, d.code])).toEqual([["x", "VM_LISTED_TWICE"]]);
    expect(plan(twice(), policy(), NOW, { mode: "manual", vm: "x", destination: "b" }).moves).toEqual([]);
  });

  it("a hand-written snapshot with a second running or paused entry is the same; a shut-off one is a stale definition", () => {
    const dup = (state: "paused" | "shutoff") => snapshot([host("a"), host("b"), host("c")], [vm("x", "a"), vm("x", "c", { state }), vm("b1", "b")]);
    expect(verdict(dup("paused")).vm).toMatchObject({ code: "VM_LISTED_TWICE", numbers: { alsoListedOn: "c" } });
    expect(verdict(dup("shutoff")).vm).toBeNull();
  });

  it("the host holding the other copy is not empty: never a power-off candidate, nor emptied", () => {
    const s = snapshot([host("a", { cpu: 30 }), host("b", { cpu: 30 }), host("c", { cpu: 0 })], [{ ...vm("x", "a"), alsoListedOn: ["c"] }, vm("b1", "b")]);
    const p = plan(s, policy({ spare_hosts: 0 }), NOW, { mode: "consolidate" });
    expect(p.emptyHosts).not.toContain("c");
    expect(p.decisions.find((d) => d.subject === "c" && d.code === "HOST_BUSY")?.numbers).toMatchObject({ copies: 1 });
  });
});

describe("checkDestination: never the move that completes a ping-pong", () => {
  // x runs on a; it came from b (the candidate destination) `ago` seconds before NOW.
  const cameFrom = (move: PastMove) => ({ ...base(), history: [move] });

  it("refuses the host the VM came from within pingpong_window: DEST_PINGPONG, with the numbers", () => {
    const r = verdict(cameFrom(past("x", "b", "a", 1000)));
    expect(r.vm).toBeNull(); // the cooldown (600 s) is over
    expect(r.dest).toMatchObject({
      code: "DEST_PINGPONG",
      numbers: { from: "b", to: "a", sinceSeconds: 1000, arrivedAt: NOW - 1_000_000, pingpong_window: 3600 },
    });
    expect(r.dest?.message).toContain("came from b to a 1000.0 s ago");
  });

  it.each([
    { name: "a host it did not come from", move: past("x", "b", "a", 1000), dest: "c" },
    { name: "after pingpong_window", move: past("x", "b", "a", 4000) },
    { name: "after a failed move (it never left b)", move: past("x", "b", "a", 1000, "failed") },
    { name: "when an operator forced the move here (evacuation)", move: { ...past("x", "b", "a", 1000), strategy: "evacuate" as const } },
    { name: "when an operator forced the move here (migrate)", move: { ...past("x", "b", "a", 1000), strategy: "manual" as const } },
  ])("does not refuse $name", ({ move, dest }) => {
    const s = snapshot([host("a", { cpu: 50 }), host("b", { cpu: 20 }), host("c", { cpu: 20 })], [vm("x", "a"), vm("b1", "b"), vm("c1", "c")], {
      history: [move],
    });
    expect(verdict(s, {}, {}, "cycle", dest ?? "b").dest).toBeNull();
  });

  it("an operator's own move back is not refused (it would not count towards a freeze)", () => {
    expect(verdict(cameFrom(past("x", "b", "a", 1000)), {}, {}, "manual").dest).toBeNull();
  });

  it("hot-spot relief sends the VM elsewhere, and says why when the host it came from was the only room", () => {
    // a is over 80 % for 300 s; x (3 cores) came from b 1,000 s ago. b is the least loaded host.
    const hot = (cCpu: number) =>
      snapshot(
        [host("a", { cpu: 95 }), host("b", { cpu: 10 }), host("c", { cpu: cCpu })],
        [vm("x", "a", { cpu: 300, mem: 1024 }), vm("a2", "a", { cpu: 100 }), vm("b1", "b"), vm("c1", "c")],
        { history: [past("x", "b", "a", 1000)] },
      );
    const roomy = plan(hot(20), policy(), NOW);
    expect(roomy.moves.map((m) => `${m.vm}:${m.source}>${m.destination}`)).toEqual(["x:a>c"]);
    expect(roomy.frozen).toEqual([]);
    const full = plan(hot(60), policy(), NOW);
    expect(full.moves.some((m) => m.vm === "x" && m.destination === "b")).toBe(false);
    expect(full.decisions.find((d) => d.kind === "host" && d.subject === "b" && d.vm === "x")).toMatchObject({
      code: "DEST_PINGPONG",
      numbers: { from: "b", to: "a", sinceSeconds: 1000 },
    });
  });
});
