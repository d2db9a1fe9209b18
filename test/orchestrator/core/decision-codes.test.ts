import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { explainHost } from "../../../orchestrator/core/explain-host.js";
import { explainVm } from "../../../orchestrator/core/explain-vm.js";
import { fenceGate } from "../../../orchestrator/core/fence-gate.js";
import { judgeHosts } from "../../../orchestrator/core/host-failure.js";
import { planRestarts } from "../../../orchestrator/core/restart-plan.js";
import { powerRequest } from "../../../orchestrator/core/power-request.js";
import { plan, preflightEvacuation } from "../../../orchestrator/core/planner.js";
import { DECISION_CODE_HELP, DecisionCode, MoveCode } from "../../../shared/schemas/decision-codes.js";
import { Plan, type PlanRequest } from "../../../shared/schemas/plan.js";
import { FailureVerdict, FenceVerdict, RestartPlan } from "../../../shared/schemas/recovery.js";
import { NOW, policy } from "./builders.js";
import { failureCases } from "./failure-clusters.js";
import { goldenCases } from "./golden-clusters.js";
import { powerCases } from "./power-clusters.js";

// DecisionCode is the closed list of what the core can say. Types keep the core from emitting a
// code outside it; these tests keep the list from holding a code the core never emits, and check
// on the golden clusters that what reaches a plan at run time is in it too.

const CORE = new URL("../../../orchestrator/core/", import.meta.url);
const coreSource = (readdirSync(CORE, { recursive: true, encoding: "utf8" }) as string[])
  .filter((f) => f.endsWith(".ts"))
  .map((f) => readFileSync(new URL(f, CORE), "utf8"))
  .join("\n");

describe("DecisionCode", () => {
  it("lists only codes the core's sources use", () => {
    const unused = DecisionCode.options.filter((c) => !coreSource.includes(`"${c}"`));
    expect(unused).toEqual([]);
  });

  it("lists every code-like string in the core's sources", () => {
    const literals = new Set([...coreSource.matchAll(/"([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)"/g)].map((m) => m[1]!));
    const missing = [...literals].filter((c) => !DecisionCode.safeParse(c).success);
    expect(missing).toEqual([]);
  });

  it("has a one-line description for every code, and move codes are decision codes", () => {
    expect(Object.keys(DECISION_CODE_HELP)).toEqual(DecisionCode.options);
    for (const [code, help] of Object.entries(DECISION_CODE_HELP)) {
      expect(help.length, code).toBeGreaterThan(10);
      expect(help, code).not.toMatch(/\n/);
    }
    for (const c of MoveCode.options) expect(DecisionCode.options).toContain(c);
  });

  it("covers every code the golden clusters produce, in every mode", () => {
    const seen = new Set<string>();
    const note = (code: string): void => {
      seen.add(code);
    };
    for (const c of goldenCases(250, 20261206)) {
      const pol = policy(c.policy);
      const s = c.snapshot;
      const ids = s.hosts.map((h) => h.id);
      const running = s.vms.find((v) => v.state === "running");
      const requests: PlanRequest[] = [
        { mode: "cycle" },
        { mode: "balance" },
        { mode: "consolidate" },
        { mode: "evacuate", host: ids[0]!, placement: "stripe", useEmptyHosts: false },
        { mode: "evacuate", host: ids[1]!, placement: "pack", useEmptyHosts: true },
        { mode: "manual", vm: running?.name ?? "nope" },
        { mode: "manual", vm: running?.name ?? "nope", destination: ids[ids.length - 1]! },
      ];
      for (const req of requests) {
        // The schema parse rejects any code outside the enum, on decisions and moves alike.
        const p = Plan.parse(plan(s, pol, s.takenAt, req));
        for (const d of p.decisions) note(d.code);
        for (const m of p.moves) note(m.code);
      }
      for (const d of preflightEvacuation(s, pol, s.takenAt, ids[0]!).reasons) note(d.code);
      if (running) {
        const x = explainVm(s, pol, s.takenAt, running.name);
        for (const d of [...x.hosts, ...(x.vmDecision ? [x.vmDecision] : [])]) note(d.code);
      }
    }
    // Power management: cycle and evacuation plans, every host's explanation, operator requests.
    for (const c of powerCases(60, 20261207)) {
      const pol = policy(c.policy);
      const s = c.snapshot;
      for (const req of [{ mode: "cycle" }, { mode: "evacuate", host: c.evacuate, placement: "stripe", useEmptyHosts: false }] as PlanRequest[]) {
        const p = Plan.parse(plan(s, pol, s.takenAt, req));
        for (const d of p.decisions) note(d.code);
        for (const a of p.power) note(a.code);
      }
      for (const h of s.hosts) {
        const x = explainHost(s, pol, s.takenAt, h.id);
        if (x.verdict) note(x.verdict.code);
        for (const action of ["on", "off"] as const) {
          const r = powerRequest(s, pol, s.takenAt, h.id, action);
          note(r.action?.code ?? r.refusal!.code);
        }
      }
    }
    // Host failure: every host's verdict, every fence gate, the restart plan of the fenced hosts.
    for (const c of failureCases()) {
      const pol = policy(c.policy);
      const v = FailureVerdict.parse(judgeHosts(c.evidence, pol, NOW));
      for (const d of v.decisions) note(d.code);
      for (const f of c.fences) note(FenceVerdict.parse(fenceGate(f, pol)).code);
      const r = RestartPlan.parse(planRestarts(c.restart, pol, NOW));
      for (const d of r.decisions) note(d.code);
      for (const x of [...r.steps, ...r.waiting, ...r.skipped]) note(x.code);
    }
    expect([...seen].filter((c) => !DecisionCode.safeParse(c).success)).toEqual([]);
    // Every host-failure code is produced by some failure cluster.
    expect(DecisionCode.options.filter((c) => /^(FAILURE|FENCE|RESTART)_/.test(c) && !seen.has(c))).toEqual([]);
    // Every power code is produced by some power cluster.
    expect(DecisionCode.options.filter((c) => c.startsWith("POWER_") && !seen.has(c))).toEqual([]);
    // The clusters exercise most of the list (a sanity check that the loop above saw plans at all).
    expect(seen.size).toBeGreaterThan(DecisionCode.options.length / 2);
  });
});
