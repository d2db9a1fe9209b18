import { describe, expect, it } from "vitest";
import { createContext } from "../../../../orchestrator/core/context.js";
import { plan, preflightEvacuation } from "../../../../orchestrator/core/planner.js";
import { runStrategies, STRATEGIES, strategiesFor } from "../../../../orchestrator/core/strategies/registry.js";
import type { PlanRequest, StrategyName } from "../../../../shared/schemas/plan.js";
import { StrategyName as StrategyNames } from "../../../../shared/schemas/plan.js";
import { host, NOW, policy, snapshot, vm } from "../builders.js";

// The one path every strategy takes: defaults, validation, run, then finish on the whole plan.

const cluster = () =>
  snapshot(
    [host("a", { cpu: 15 }), host("b", { cpu: 35 }), host("c", { cpu: 5 }), host("d", { cpu: 0, mem: 2 })],
    [vm("a1", "a", { cpu: 60 }), vm("b1", "b", { cpu: 100 }), vm("c1", "c", { cpu: 40 })],
  );

describe("the strategy registry", () => {
  it("holds every strategy under its own name", () => {
    for (const name of StrategyNames.options) expect(STRATEGIES[name].name).toBe(name);
  });

  it.each([
    { strategies: ["hotspot"], order: ["hotspot"] },
    { strategies: ["balance", "hotspot"], order: ["hotspot", "balance"] },
    { strategies: ["consolidate", "balance", "hotspot"], order: ["hotspot", "consolidate", "balance"] },
    { strategies: ["consolidate", "balance", "consolidate"], order: ["consolidate", "balance"] },
    { strategies: [], order: [] },
  ] as { strategies: ("hotspot" | "balance" | "consolidate")[]; order: StrategyName[] }[])("a cycle with $strategies runs $order", ({ strategies, order }) => {
    expect(strategiesFor({ mode: "cycle" }, policy({ strategies }))).toEqual(order);
  });

  it.each([
    { mode: "balance" },
    { mode: "consolidate" },
    { mode: "evacuate", host: "a", placement: "stripe", useEmptyHosts: false },
    { mode: "manual", vm: "a1" },
  ] as PlanRequest[])("mode $mode runs that strategy alone, whatever the policy lists", (request) => {
    expect(strategiesFor(request, policy({ strategies: ["hotspot", "balance", "consolidate"] }))).toEqual([request.mode]);
  });

  it("operator strategies take their arguments from the request", () => {
    const p = policy();
    expect(STRATEGIES.evacuate.defaults(p, { mode: "evacuate", host: "a", placement: "pack", useEmptyHosts: true })).toMatchObject({
      host: "a",
      placement: "pack",
      useEmptyHosts: true,
    });
    expect(STRATEGIES.evacuate.defaults(p)).toMatchObject({ host: "", placement: "stripe", useEmptyHosts: false });
    expect(STRATEGIES.manual.defaults(p, { mode: "manual", vm: "a1", destination: "b" })).toMatchObject({ vm: "a1", destination: "b" });
    expect(STRATEGIES.manual.defaults(p, { mode: "cycle" })).not.toHaveProperty("destination");
  });
});

describe("runStrategies", () => {
  it("refuses invalid arguments with STRATEGY_INVALID, which is also the strategy's blocker", () => {
    const ctx = createContext(cluster(), policy(), NOW, "evacuate", {});
    const out = runStrategies(ctx, ["evacuate"], { mode: "cycle" });
    expect(out.blockers).toEqual([
      {
        kind: "cluster",
        subject: "cluster",
        code: "STRATEGY_INVALID",
        message: "evacuate not run: evacuate needs a host",
        numbers: { errors: 1 },
        strategy: "evacuate",
      },
    ]);
    expect(ctx.log.all()).toEqual(out.blockers);
    expect(ctx.moves).toEqual([]);
  });

  it("carries evacuation's blockers out of its run: preflightEvacuation reads them", () => {
    const s = snapshot([host("m"), host("b")], [vm("v1", "m"), vm("v2", "m"), vm("b1", "b")]);
    const pol = policy({ pinned_vms: ["v2"] });
    const ctx = createContext(s, pol, NOW, "evacuate", {});
    const out = runStrategies(ctx, ["evacuate"], { mode: "evacuate", host: "m", placement: "stripe", useEmptyHosts: false });
    expect(out.blockers.map((d) => [d.subject, d.code])).toEqual([["v2", "VM_PINNED"]]);
    const pre = preflightEvacuation(s, pol, NOW, "m");
    expect(pre.canDrain).toBe(false);
    expect(pre.reasons).toEqual(out.blockers);
  });

  it("reports empty hosts from consolidation's finish, on the whole plan", () => {
    const ctx = createContext(cluster(), policy({ spare_hosts: 0 }), NOW, "consolidate", {});
    const out = runStrategies(ctx, ["consolidate"], { mode: "consolidate" });
    expect(out.emptyHosts).toEqual(plan(cluster(), policy({ spare_hosts: 0 }), NOW, { mode: "consolidate" }).emptyHosts);
    expect(out.emptyHosts.length).toBeGreaterThan(0);
    expect(out.blockers).toEqual([]);
  });

  it("still lists empty hosts when consolidation's own arguments are invalid (they are power-off candidates all the same)", () => {
    const p = plan(cluster(), policy({ consolidate_load: 0, spare_hosts: 0, headroom_min_share: 1 }), NOW, { mode: "consolidate" });
    expect(p.moves).toEqual([]);
    expect(p.decisions.map((d) => d.code)).toContain("STRATEGY_INVALID");
    expect(p.emptyHosts).toEqual(["d"]);
  });

  it("finishes only after every strategy ran: a host consolidation emptied and balancing filled again is not empty", () => {
    // Consolidation runs before balancing here; the empty-host list must be the finished plan's.
    const pol = policy({
      strategies: ["consolidate", "balance"],
      spare_hosts: 0,
      balance_threshold: 0,
      min_gain: 0,
      max_moves_per_cycle: 50,
      max_concurrent_total: 50,
      max_concurrent_per_source: 50,
      max_concurrent_per_destination: 50,
    });
    const p = plan(cluster(), pol, NOW);
    // d, empty at the start and left alone by consolidation, receives b1 from balancing.
    expect(p.moves.map((m) => `${m.strategy} ${m.vm} ${m.source}>${m.destination}`)).toEqual(["consolidate c1 c>b", "consolidate a1 a>b", "balance b1 b>d"]);
    expect(p.emptyHosts).toEqual(["a", "c"]);
  });
});
