import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { PlacementRule } from "../../../shared/config/policy.js";
import { checkDestination, type DestOptions } from "../../../orchestrator/core/constraints.js";
import { createContext, type PlanContext } from "../../../orchestrator/core/context.js";
import type { HostModel, VmModel } from "../../../orchestrator/core/cluster-model.js";
import { findDestination, type Placement } from "../../../orchestrator/core/placement.js";
import { compareByLoad } from "../../../orchestrator/core/load-order.js";
import { host, NOW, policy, snapshot, vm } from "./builders.js";

// The spread search visits hosts capacity group by capacity group and stops early; it must pick
// exactly what checking every host and taking the best would pick, also after moves have reordered
// the hosts.

function naiveSpread(ctx: PlanContext, x: VmModel, opts: DestOptions): Placement | null {
  let best: Placement | null = null;
  for (const h of ctx.model.hosts) {
    const v = checkDestination(ctx, x, h, opts, false);
    if (!v.ok) continue;
    const c: Placement = { host: h, brokenShould: v.brokenShould, cpuAfter: v.cpuAfter, memAfter: v.memAfter, keyAfter: v.keyAfter };
    const wins =
      !best ||
      c.brokenShould.length < best.brokenShould.length ||
      (c.brokenShould.length === best.brokenShould.length && (c.keyAfter < best.keyAfter || (c.keyAfter === best.keyAfter && c.host.id < best.host.id)));
    if (wins) best = c;
  }
  return best;
}

const sorted = (hs: readonly HostModel[]): boolean => hs.every((h, i) => i === 0 || compareByLoad(hs[i - 1]!, h) < 0);

const arb = (capacities: number) =>
  fc.record({
    hosts: fc.array(
      fc.record({
        size: fc.nat({ max: capacities - 1 }),
        cpu: fc.integer({ min: 0, max: 95 }),
        mem: fc.integer({ min: 5, max: 90 }),
        speed: fc.constantFrom(undefined, 1, 1.5),
      }),
      { minLength: 2, maxLength: 40 },
    ),
    vms: fc.array(
      fc.record({
        host: fc.nat(),
        mem: fc.integer({ min: 256, max: 16_384 }),
        cpu: fc.option(fc.integer({ min: 0, max: 800 }), { freq: 5 }),
        vcpus: fc.integer({ min: 1, max: 8 }),
      }),
      { minLength: 1, maxLength: 60 },
    ),
    moves: fc.array(fc.record({ vm: fc.nat(), to: fc.nat() }), { maxLength: 8 }),
    should: fc.array(fc.record({ vm: fc.nat(), hosts: fc.uniqueArray(fc.nat(), { minLength: 1, maxLength: 4 }) }), { maxLength: 4 }),
    weights: fc.constantFrom({}, { cpu_weight: 3, mem_weight: 1 }, { cpu_weight: 0, mem_weight: 1 }),
  });

function check(capacities: number) {
  fc.assert(
    fc.property(arb(capacities), ({ hosts, vms, moves, should, weights }) => {
      const hs = hosts.map((h, i) => ({
        ...host(`h${String(i).padStart(2, "0")}`, { cpus: 8 * (1 + (h.size % 8)), memGiB: 32 * (1 + Math.floor(h.size / 8)), cpu: h.cpu, mem: h.mem }),
        ...(h.speed ? { cpuSpeed: h.speed } : {}),
      }));
      const vs = vms.map((v, i) => vm(`v${i}`, hs[v.host % hs.length]!.id, { mem: v.mem, cpu: v.cpu, vcpus: v.vcpus }));
      const rules: PlacementRule[] = should.map((r, i) => ({
        name: `s${i}`,
        type: "vm-not-host",
        strength: "should",
        vms: [vs[r.vm % vs.length]!.name],
        hosts: r.hosts.map((n) => hs[n % hs.length]!.id),
      }));
      const p = policy({ ...weights, rules, host_settle: 0 });
      const ctx = createContext(snapshot(hs, vs), p, NOW, "cycle", {});
      const m = ctx.model;
      for (const mv of moves) {
        const x = m.vms[mv.vm % m.vms.length]!;
        const to = m.hosts[mv.to % m.hosts.length]!;
        if (x.host !== to.id) m.applyMove(x, to);
      }
      expect(sorted(m.byLoad)).toBe(true);
      for (const g of m.groups) expect(sorted(g.hosts)).toBe(true);
      expect(m.groups.reduce((n, g) => n + g.hosts.length, 0)).toBe(m.hosts.length);
      const opts: DestOptions = { cpuLimit: p.max_load_candidate, memLimit: p.max_mem_candidate, allowEmpty: true, caps: false };
      for (const x of m.vms) {
        const got = findDestination(ctx, x, opts, "spread");
        const want = naiveSpread(ctx, x, opts);
        expect(got?.host.id ?? null).toBe(want?.host.id ?? null);
        expect(got?.brokenShould ?? null).toEqual(want?.brokenShould ?? null);
      }
    }),
    { numRuns: 200 },
  );
}

describe("findDestination spread", () => {
  it("picks the destination a scan of every host picks (few capacities: grouped search)", () => check(4));
  it("picks the destination a scan of every host picks (many capacities: one pass by load)", () => check(64));
});
