import { describe, expect, it } from "vitest";
import { plan } from "../../../../orchestrator/core/planner.js";
import { balance } from "../../../../orchestrator/core/strategies/balance.js";
import { host, NOW, policy, snapshot, vm } from "../builders.js";

const run = (s: ReturnType<typeof snapshot>, o: Parameters<typeof policy>[0] = {}) =>
  plan(s, policy({ balance_threshold: 5, min_gain: 0.5, ...o }), NOW, { mode: "balance" });

describe("balance", () => {
  it("returns NO_BENEFICIAL_MOVE on a balanced cluster, with the numbers", () => {
    const s = snapshot([host("a", { cpu: 40 }), host("b", { cpu: 42 }), host("c", { cpu: 41 })], [vm("x", "a"), vm("y", "b")]);
    const p = run(s);
    expect(p.moves).toEqual([]);
    expect(p.decisions).toEqual([
      expect.objectContaining({ kind: "cluster", code: "NO_BENEFICIAL_MOVE", numbers: expect.objectContaining({ balance_threshold: 5 }) }),
    ]);
  });

  it("moves load from the busiest to the idlest host and lowers the imbalance", () => {
    const s = snapshot(
      [host("a", { cpu: 65, mem: 60 }), host("b", { cpu: 10, mem: 20 })],
      [vm("x1", "a", { cpu: 100, mem: 4096 }), vm("x2", "a", { cpu: 150, mem: 8192 })],
    );
    const p = run(s, { max_moves_per_cycle: 5 });
    expect(p.moves.length).toBeGreaterThan(0);
    expect(p.moves.every((m) => m.source === "a" && m.destination === "b" && m.code === "IMBALANCE")).toBe(true);
    expect(p.indicators.imbalanceAfter).toBeLessThan(p.indicators.imbalanceBefore);
    expect(p.moves[0]!.numbers.gain).toBeGreaterThanOrEqual(0.5);
  });

  it("compares percentages across host sizes: picks the VM that evens them out rather than the biggest", () => {
    const s = snapshot(
      [host("big", { cpus: 64, cpu: 40, mem: 20 }), host("small", { cpus: 8, cpu: 10, mem: 20 })],
      [vm("v100", "big", { cpu: 100, mem: 1 }), vm("v200", "big", { cpu: 200, mem: 1 }), vm("v400", "big", { cpu: 400, mem: 1 })],
    );
    const p = run(s, { max_moves_per_cycle: 1 });
    expect(p.moves.map((m) => m.vm)).toEqual(["v200"]);
  });

  it("a gain below min_gain is no move; the decision names the best gain", () => {
    const s = snapshot([host("a", { cpu: 60, mem: 20 }), host("b", { cpu: 10, mem: 20 })], [vm("x", "a", { cpu: 10, mem: 64 })]);
    const p = run(s, { min_gain: 5 });
    expect(p.moves).toEqual([]);
    const d = p.decisions.find((x) => x.code === "NO_BENEFICIAL_MOVE")!;
    expect(d.numbers.bestGain).toBeGreaterThan(0);
    expect(d.numbers.bestGain).toBeLessThan(5);
  });

  it("never breaks a should rule for balance", () => {
    const s = snapshot([host("a", { cpu: 65, mem: 60 }), host("b", { cpu: 10, mem: 20 })], [vm("x", "a", { cpu: 150, mem: 4096 }), vm("y", "b")]);
    const p = run(s, { rules: [{ name: "apart", type: "anti-affinity", strength: "should", vms: ["x", "y"] }] });
    expect(p.moves).toEqual([]);
  });

  it("validation names contradictions", () => {
    expect(balance.validate({ ...balance.defaults(policy()), minGain: -1 })).toHaveLength(1);
    expect(balance.validate(balance.defaults(policy()))).toEqual([]);
  });
});
