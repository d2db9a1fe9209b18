import { describe, expect, it } from "vitest";
import { answerVmClaim, type VmClaimDeps } from "../../../../orchestrator/shell/recovery/vm-claim.js";
import type { RestartStatus } from "../../../../shared/schemas/orchestrator-api.js";
import type { HostFailureState } from "../../../../shared/schemas/recovery.js";
import type { VmState } from "../../../../shared/schemas/vm.js";

// The orchestrator's answer to a returning agent's "may I start this VM?": yes only when every sign
// says this host's copy is the one.

function deps(o: { record?: string; at?: [string, VmState][]; restarts?: RestartStatus[]; state?: HostFailureState } = {}): VmClaimDeps {
  return {
    recordHost: () => o.record,
    locate: () => (o.at ?? []).map(([host, state]) => ({ host, state })),
    restarts: () => o.restarts ?? [],
    stateOf: () => o.state,
  };
}
const restart = (outcome: RestartStatus["outcome"], host = "b"): RestartStatus => ({
  restart: { vm: "web1", host, destination: "a", at: 1, epoch: 0 },
  requestId: "r-1-x",
  outcome,
  detail: null,
  tries: 1,
  upAt: null,
});
const ask = (d: VmClaimDeps) => answerVmClaim({ vm: "web1", host: "b" }, d);

describe("answerVmClaim", () => {
  it("allows the start when the record names the host and nobody else runs the VM", () => {
    const r = ask(
      deps({
        record: "b",
        at: [
          ["b", "running"],
          ["c", "shutoff"],
        ],
        state: "recovered",
      }),
    );
    expect(r).toMatchObject({ mayStart: true, recordHost: "b", elsewhere: [] });
  });

  it.each([
    ["no record", deps({}), /no record/],
    ["the record names another host", deps({ record: "a" }), /names a, not b/],
    ["another host runs it", deps({ record: "b", at: [["a", "running"]] }), /listed running or paused on a/],
    ["another host has it paused", deps({ record: "b", at: [["c", "paused"]] }), /on c/],
    ["a restart from this host was sent", deps({ record: "b", restarts: [restart("sent")] }), /restarted from b on a \(sent\)/],
    ["a restart from this host started", deps({ record: "b", restarts: [restart("started")] }), /\(started\)/],
    ["the host is being recovered", deps({ record: "b", state: "recovering" }), /b is recovering/],
    ["the host is fenced", deps({ record: "b", state: "fenced" }), /b is fenced/],
  ])("refuses when %s", (_what, d, reason) => {
    const r = ask(d);
    expect(r.mayStart).toBe(false);
    expect(r.reason).toMatch(reason);
  });

  it("a failed or refused restart, or one from another host, does not block", () => {
    expect(ask(deps({ record: "b", restarts: [restart("failed"), restart("refused"), restart("started", "c")] })).mayStart).toBe(true);
  });
});
