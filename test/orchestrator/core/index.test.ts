import { describe, expect, it } from "vitest";
import * as core from "../../../orchestrator/core/index.js";

// The core's public surface: what callers outside it (the shell, the CLI, the simulator) import.

describe("orchestrator/core/index.ts", () => {
  it.each([
    "plan",
    "preflightEvacuation",
    "explainVm",
    "r2",
    "f1",
    "isFresh",
    "longEnough",
    "overStreak",
    "exceedsPhysicalMemory",
    "checkDestination",
    "checkSource",
    "checkMoveCap",
    "cooldownOf",
    "strategiesFor",
    "runStrategies",
    "judgeHosts",
    "fenceGate",
    "planRestarts",
    "domainSize",
  ] as const)("exports %s", (name) => {
    expect(typeof core[name]).toBe("function");
  });

  it("exports the schemas a plan is made of, the decision codes among them", () => {
    expect(core.DecisionCode.options).toContain("CPU_HEADROOM_ADAPTED");
    expect(Object.keys(core.DECISION_CODE_HELP)).toEqual(core.DecisionCode.options);
    expect(core.Plan.shape.adaptation).toBeDefined();
    expect(Object.keys(core.STRATEGIES).sort()).toEqual([...core.StrategyName.options].sort());
  });
});
