import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fenceGate, type FenceInput } from "../../../orchestrator/core/fence-gate.js";
import { FenceVerdict, type FenceAttempt } from "../../../shared/schemas/recovery.js";
import { NOW, policy } from "./builders.js";
import { attempt, SEC } from "./failure-builders.js";

const pol = policy();
/** A host that failed 60 s ago, silent for 120 s, with a power driver and no attempt yet. */
const failed = (o: Partial<FenceInput> = {}): FenceInput => ({
  host: "hv-b",
  state: "failed",
  failedAt: NOW - 60 * SEC,
  agentLastSeen: NOW - 120 * SEC,
  powerDriver: true,
  attempts: [],
  ...o,
});
const gate = (i: FenceInput): FenceVerdict => FenceVerdict.parse(fenceGate(i, pol));

describe("fenceGate", () => {
  it.each<[string, FenceInput, boolean, string, string]>([
    ["healthy host", failed({ state: "healthy", failedAt: null }), false, "none", "FENCE_NOT_FAILED"],
    ["agent down, even with an operator's word", failed({ state: "agent_down", attempts: [attempt("operator", 5)] }), false, "none", "FENCE_NOT_FAILED"],
    ["suspect without a confirmation", failed({ state: "suspect", failedAt: null }), false, "none", "FENCE_NOT_FAILED"],
    ["failed, no driver", failed({ powerDriver: false }), false, "alert", "FENCE_NO_DRIVER"],
    ["failed, driver, no attempt", failed(), false, "fence", "FENCE_NEEDED"],
    ["one power-off failed", failed({ attempts: [attempt("driver", 30, "failed", null)] }), false, "fence", "FENCE_RETRY"],
    ["read back not off", failed({ attempts: [attempt("driver", 30, "not_off")] }), false, "fence", "FENCE_RETRY"],
    ["off but never read back", failed({ attempts: [attempt("driver", 30, "off", null)] }), false, "fence", "FENCE_RETRY"],
    [
      "every attempt failed",
      failed({ attempts: [attempt("driver", 50, "failed", null), attempt("driver", 40, "not_off"), attempt("driver", 30, "failed", null)] }),
      false,
      "alert",
      "FENCE_FAILED",
    ],
    ["power-off read back off", failed({ attempts: [attempt("driver", 30, "failed", null), attempt("driver", 20)] }), true, "recover", "FENCE_CONFIRMED"],
    ["operator confirmed, no driver", failed({ powerDriver: false, attempts: [attempt("operator", 10)] }), true, "recover", "FENCE_OPERATOR"],
    ["operator confirmed a suspect host", failed({ state: "suspect", failedAt: null, attempts: [attempt("operator", 10)] }), true, "recover", "FENCE_OPERATOR"],
    ["fenced stays let through", failed({ state: "recovering", attempts: [attempt("driver", 20)] }), true, "recover", "FENCE_CONFIRMED"],
    // A power-off before the failure began was power management's or an operator's, not a fence.
    ["power-off before the failure", failed({ attempts: [attempt("driver", 90)] }), false, "fence", "FENCE_NEEDED"],
    // A confirmation older than the host's last heartbeat is void: the host lived after it.
    ["confirmation before the last heartbeat", failed({ powerDriver: false, attempts: [attempt("operator", 130)] }), false, "alert", "FENCE_NO_DRIVER"],
  ])("%s", (_name, input, may, next, code) => {
    const v = gate(input);
    expect([v.mayRecover, v.next, v.code]).toEqual([may, next, code]);
    expect(v.fencedAt !== null).toBe(may);
  });

  it("says when and by whom the host was fenced", () => {
    const v = gate(failed({ attempts: [attempt("driver", 20, "off", 3)] }));
    expect([v.fencedBy, v.fencedAt]).toEqual(["driver", NOW - 17 * SEC]);
  });

  it("the alert tells the operator what to run", () => {
    expect(gate(failed({ powerDriver: false })).reason).toContain("ballast recover hv-b --confirm-fenced");
  });
});

const arbAttempt = fc.record({
  by: fc.constantFrom("driver", "operator"),
  ago: fc.integer({ min: 0, max: 300 }),
  result: fc.constantFrom("off", "not_off", "failed"),
  readBack: fc.option(fc.integer({ min: -5, max: 10 })),
});

describe("fenceGate properties", () => {
  it("lets recovery start only with a confirmation of off made after the host's last sign of life", () => {
    fc.assert(
      fc.property(
        fc.array(arbAttempt, { maxLength: 6 }),
        fc.constantFrom("healthy", "agent_down", "suspect", "failed", "fenced", "recovering", "recovered"),
        fc.boolean(),
        (as, state, driver) => {
          const attempts: FenceAttempt[] = as.map((a) => {
            const at = NOW - a.ago * SEC;
            return { by: a.by, at, result: a.result, readBackAt: a.by === "driver" && a.readBack !== null ? at + a.readBack * SEC : null };
          });
          const input = failed({ state, powerDriver: driver, attempts });
          const v = fenceGate(input, pol);
          const confirmation = attempts.some(
            (a) =>
              a.at >= input.agentLastSeen &&
              a.result === "off" &&
              (a.by === "operator" || (a.at >= input.failedAt! && a.readBackAt !== null && a.readBackAt >= a.at)),
          );
          if (v.mayRecover) {
            expect(confirmation).toBe(true);
            expect(["healthy", "agent_down"]).not.toContain(state);
          }
          if (!v.mayRecover) expect(v.next === "recover").toBe(false);
        },
      ),
      { numRuns: 500 },
    );
  });
});
