import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { PlacementRule, Policy } from "../../../shared/config/policy.js";
import { effectivePolicy } from "../../../orchestrator/core/headroom.js";
import { plan, preflightEvacuation } from "../../../orchestrator/core/planner.js";
import type { Plan, PlanRequest } from "../../../shared/schemas/plan.js";
import type { ClusterSnapshot } from "../../../shared/schemas/snapshot.js";
import { flight, host, NOW, past, policy, snapshot, vm } from "./builders.js";

// Random clusters; every property is checked against an independent replay of the plan's moves.

const RUNS = 150;
const LIVE = new Set(["running", "paused"]);

const arbCluster = fc
  .record({
    hosts: fc.array(
      fc.record({
        cpus: fc.constantFrom(4, 8, 16, 32),
        memGiB: fc.constantFrom(16, 32, 64),
        cpu: fc.integer({ min: 0, max: 100 }),
        mem: fc.integer({ min: 5, max: 95 }),
        overFor: fc.constantFrom(0, 30, 120, 300),
        silent: fc.integer({ min: 0, max: 7 }).map((n) => n === 0),
        maintenance: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
        noAddress: fc.integer({ min: 0, max: 14 }).map((n) => n === 0),
      }),
      { minLength: 2, maxLength: 7 },
    ),
    vms: fc.array(
      fc.record({
        host: fc.nat(),
        mem: fc.integer({ min: 256, max: 12_288 }),
        cpu: fc.option(fc.integer({ min: 0, max: 400 }), { freq: 6 }),
        vcpus: fc.integer({ min: 1, max: 8 }),
        state: fc.constantFrom("running", "running", "running", "running", "paused", "shutoff"),
      }),
      { maxLength: 18 },
    ),
    flights: fc.array(fc.record({ vm: fc.nat(), dest: fc.nat() }), { maxLength: 2 }),
    history: fc.array(fc.record({ vm: fc.nat(), src: fc.nat(), dst: fc.nat(), ago: fc.integer({ min: 1, max: 5000 }) }), { maxLength: 4 }),
    rules: fc.array(
      fc.record({
        type: fc.constantFrom("affinity", "anti-affinity", "vm-host", "vm-not-host"),
        strength: fc.constantFrom("must", "must", "should"),
        vms: fc.uniqueArray(fc.nat({ max: 17 }), { minLength: 2, maxLength: 3 }),
        hosts: fc.uniqueArray(fc.nat({ max: 6 }), { minLength: 1, maxLength: 3 }),
      }),
      { maxLength: 3 },
    ),
  })
  .map(({ hosts, vms, flights, history, rules }) => {
    const hs = hosts.map((h, i) =>
      host(`h${i}`, {
        cpus: h.cpus,
        memGiB: h.memGiB,
        cpu: h.cpu,
        mem: h.mem,
        overFor: h.overFor,
        lastSeenAgo: h.silent ? 100 : 0,
        maintenance: h.maintenance,
        ...(h.noAddress ? { address: null } : {}),
      }),
    );
    const hid = (n: number) => `h${n % hs.length}`;
    const vs = vms.map((v, i) => vm(`v${i}`, hid(v.host), { mem: v.mem, cpu: v.cpu, vcpus: v.vcpus, state: v.state as "running" }));
    const fl =
      vs.length === 0
        ? []
        : flights
            .map((f) => vs[f.vm % vs.length]!)
            .filter((v, i, a) => a.indexOf(v) === i)
            .map((v, i) => flight(v.name, v.host, hid(i + 1 + Number(v.host.slice(1))), { mem: v.memMiB, cpu: v.cpuPercent ?? 0 }))
            .filter((f) => f.source !== f.destination);
    const hist = vs.length === 0 ? [] : history.map((h) => past(`v${h.vm % vs.length}`, hid(h.src), hid(h.dst), h.ago));
    const rs: PlacementRule[] =
      vs.length < 2
        ? []
        : rules
            .map((r, i) => {
              const names = [...new Set(r.vms.map((n) => `v${n % vs.length}`))];
              const base = { name: `r${i}`, strength: r.strength as "must" | "should" };
              if (r.type === "vm-host" || r.type === "vm-not-host") return { ...base, type: r.type, vms: names, hosts: r.hosts.map(hid) } as PlacementRule;
              return {
                ...base,
                type: r.type,
                vms: names.length >= 2 ? names : [names[0]!, `v${(Number(names[0]!.slice(1)) + 1) % vs.length}`],
              } as PlacementRule;
            })
            .filter((r) => r.vms.length >= 2 || r.type === "vm-host" || r.type === "vm-not-host");
    return { s: snapshot(hs, vs, { inFlight: fl, history: hist }), rules: rs };
  });

const generous = { max_moves_per_cycle: 40, max_concurrent_total: 40, max_concurrent_per_source: 40, max_concurrent_per_destination: 40 };

/** Independent replay: capacity and must rules hold at every move. Returns a problem or null. */
function replayProblem(s: ClusterSnapshot, configured: Policy, pl: Plan): string | null {
  // CPU levels are those the plan used: adapted to the swing, within headroom_min_share of the
  // configured headroom (checked here independently of the planner's arithmetic).
  const p = effectivePolicy(s, configured, NOW).policy;
  for (const k of ["load_threshold", "load_target", "max_load_candidate", "consolidate_load"] as const) {
    const bound = 100 - (100 - configured[k]) * configured.headroom_min_share;
    if (p[k] < configured[k] - 1e-9 || p[k] > bound + 0.01) return `${k} ${p[k]} outside [${configured[k]}, ${bound}]`;
  }
  if (pl.decisions.some((d) => d.code === "CPU_HEADROOM_ADAPTED") !== (p !== configured)) return "adapted levels not reported";
  const hosts = new Map(s.hosts.map((h) => [h.id, { h, used: (h.cpuPercent / 100) * h.cpus, mem: h.memTotalMiB - h.memAvailableMiB, committed: 0, count: 0 }]));
  const where = new Map<string, string>();
  const flying = new Map<string, string>();
  const vmsBy = new Map(s.vms.map((v) => [v.name, v]));
  for (const v of s.vms) {
    if (!LIVE.has(v.state)) continue;
    where.set(v.name, v.host);
    const h = hosts.get(v.host)!;
    h.committed += v.memMiB;
    h.count += 1;
  }
  for (const f of s.inFlight) {
    flying.set(f.vm, f.destination);
    const d = hosts.get(f.destination);
    if (!d) continue;
    d.used += f.cpuPercent / 100;
    d.mem += f.memMiB;
    d.committed += f.memMiB;
    d.count += 1;
  }
  const on = (name: string, hostId: string) => where.get(name) === hostId || flying.get(name) === hostId;
  for (const m of pl.moves) {
    const v = vmsBy.get(m.vm)!;
    const src = hosts.get(m.source)!;
    const d = hosts.get(m.destination)!;
    if (where.get(m.vm) !== m.source) return `${m.vm} is not on ${m.source}`;
    if (p.pinned_vms.includes(m.vm) || p.excluded_vms.includes(m.vm)) return `${m.vm} pinned/excluded moved`;
    if (!d.h.address || d.h.maintenance || NOW - d.h.lastSeen > p.stale_after * 1000) return `bad destination ${m.destination}`;
    const load = v.cpuPercent !== null ? v.cpuPercent / 100 : v.vcpus;
    const limit = m.strategy === "consolidate" ? Math.min(p.consolidate_load, p.max_load_candidate) : p.max_load_candidate;
    if (((d.used + load) / d.h.cpus) * 100 >= limit + 1e-9) return `cpu over on ${m.destination}`;
    if (((d.mem + v.memMiB) / d.h.memTotalMiB) * 100 > p.max_mem_candidate + 1e-9) return `mem over on ${m.destination}`;
    if (d.committed + v.memMiB > p.mem_overcommit * d.h.memTotalMiB - p.mem_reserve_mib + 1e-9) return `committed over on ${m.destination}`;
    if (d.mem + v.memMiB > d.h.memTotalMiB - p.mem_reserve_mib + 1e-9) return `physical memory over on ${m.destination}`;
    if (d.count >= p.max_vm_per_host) return `too many VMs on ${m.destination}`;
    for (const r of p.rules) {
      if (r.strength !== "must" || !r.vms.includes(m.vm)) continue;
      if (r.source_hosts && !r.source_hosts.includes(m.source)) continue;
      if (r.target_hosts && !r.target_hosts.includes(m.destination)) continue;
      const others = r.vms.filter((o) => o !== m.vm && where.has(o));
      const ok =
        r.type === "vm-host"
          ? r.hosts.includes(m.destination)
          : r.type === "vm-not-host"
            ? !r.hosts.includes(m.destination)
            : r.type === "anti-affinity"
              ? others.every((o) => !on(o, m.destination))
              : others.every((o) => on(o, m.destination));
      if (!ok) return `must rule ${r.name} broken by ${m.vm} → ${m.destination}`;
    }
    src.used = Math.max(0, src.used - (v.cpuPercent !== null ? v.cpuPercent / 100 : 0));
    src.mem = Math.max(0, src.mem - v.memMiB);
    src.committed -= v.memMiB;
    src.count -= 1;
    d.used += load;
    d.mem += v.memMiB;
    d.committed += v.memMiB;
    d.count += 1;
    where.set(m.vm, m.destination);
  }
  return null;
}

const shuffle = <T>(xs: T[], seed: number): T[] => {
  const a = [...xs];
  let x = seed || 1;
  for (let i = a.length - 1; i > 0; i--) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    const j = x % (i + 1);
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
};

/** The cluster plus five hosts at 30 % with ten steady samples, each running one small VM. */
function withSteadyHosts(s: ClusterSnapshot): ClusterSnapshot {
  const extra = Array.from({ length: 5 }, (_, i) => host(`steady${i}`, { cpu: 30, overFor: 100 }));
  return { ...s, hosts: [...s.hosts, ...extra], vms: [...s.vms, ...extra.map((h) => vm(`${h.id}-vm`, h.id, { cpu: 20, mem: 1024 }))] };
}

describe("planner properties", () => {
  it("a plan never breaks capacity or a must rule (cycle with all strategies, evacuate, manual)", () => {
    let adapted = 0;
    fc.assert(
      fc.property(
        arbCluster,
        fc.nat(),
        fc.constantFrom("cycle", "evacuate-stripe", "evacuate-pack", "manual"),
        fc.boolean(),
        ({ s: base, rules }, pick, mode, steady) => {
          // Half the clusters get five more busy hosts with steady samples, so the CPU levels adapt.
          const s = steady ? withSteadyHosts(base) : base;
          const p = policy({ ...generous, strategies: ["hotspot", "balance", "consolidate"], balance_threshold: 0, min_gain: 0, max_over: 0, rules });
          const h = s.hosts[pick % s.hosts.length]!.id;
          const req: PlanRequest =
            mode === "cycle"
              ? { mode: "cycle" }
              : mode === "manual"
                ? { mode: "manual", vm: s.vms[pick % Math.max(1, s.vms.length)]?.name ?? "none" }
                : { mode: "evacuate", host: h, placement: mode === "evacuate-pack" ? "pack" : "stripe", useEmptyHosts: pick % 2 === 0 };
          const pl = plan(s, p, NOW, req);
          if (pl.decisions.some((d) => d.code === "CPU_HEADROOM_ADAPTED")) adapted += 1;
          expect(replayProblem(s, p, pl)).toBeNull();
        },
      ),
      { numRuns: RUNS },
    );
    // Adapted CPU levels were exercised (the steady clusters always adapt).
    expect(adapted).toBeGreaterThan(0);
  });

  it("evacuation empties the host whenever preflight says it can", () => {
    fc.assert(
      fc.property(arbCluster, fc.nat(), fc.boolean(), fc.boolean(), ({ s, rules }, pick, pack, useEmpty) => {
        const h = s.hosts[pick % s.hosts.length]!.id;
        const pre = preflightEvacuation(s, policy({ rules }), NOW, h, pack ? "pack" : "stripe", useEmpty);
        if (!pre.canDrain) {
          expect(pre.reasons.length).toBeGreaterThan(0);
          return;
        }
        const leaving = new Set(s.inFlight.filter((f) => f.source === h).map((f) => f.vm));
        const moved = new Set(pre.plan.moves.filter((m) => m.source === h).map((m) => m.vm));
        for (const v of s.vms) if (v.host === h && LIVE.has(v.state) && !leaving.has(v.name)) expect(moved.has(v.name)).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });

  it("same input → same plan byte for byte, also with shuffled input order", () => {
    fc.assert(
      fc.property(arbCluster, fc.integer({ min: 1, max: 1 << 30 }), ({ s, rules }, seed) => {
        const p = policy({ ...generous, strategies: ["hotspot", "balance", "consolidate"], balance_threshold: 0, min_gain: 0, rules });
        const a = JSON.stringify(plan(s, p, NOW));
        const shuffled: ClusterSnapshot = {
          ...s,
          hosts: shuffle(s.hosts, seed),
          vms: shuffle(s.vms, seed + 1),
          history: shuffle(s.history, seed + 2),
          inFlight: shuffle(s.inFlight, seed + 3),
        };
        expect(JSON.stringify(plan(s, p, NOW))).toBe(a);
        expect(JSON.stringify(plan(shuffled, p, NOW))).toBe(a);
      }),
      { numRuns: RUNS },
    );
  });

  it("applying a balance plan never raises imbalance", () => {
    fc.assert(
      fc.property(arbCluster, fc.constantFrom(0, 0.5, 2), fc.constantFrom(0, 1, 3), ({ s, rules }, minGain, memWeight) => {
        const pl = plan(s, policy({ ...generous, balance_threshold: 0, min_gain: minGain, mem_weight: memWeight, rules }), NOW, { mode: "balance" });
        expect(pl.indicators.imbalanceAfter).toBeLessThanOrEqual(pl.indicators.imbalanceBefore);
      }),
      { numRuns: RUNS },
    );
  });

  it("consolidation never moves a VM from a host it does not empty", () => {
    fc.assert(
      fc.property(arbCluster, ({ s, rules }) => {
        const pl = plan(s, policy({ ...generous, consolidate_load: 70, rules }), NOW, { mode: "consolidate" });
        const gone = new Set(pl.moves.map((m) => m.vm));
        for (const src of new Set(pl.moves.map((m) => m.source))) {
          const left = s.vms.filter((v) => v.host === src && LIVE.has(v.state) && !gone.has(v.name));
          expect(left.map((v) => v.name)).toEqual([]);
        }
        expect(pl.moves.every((m) => m.strategy === "consolidate")).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });
});
