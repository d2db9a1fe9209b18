import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { judgeHosts } from "../../../orchestrator/core/host-failure.js";
import { FailureVerdict, type HostHealthEvidence } from "../../../shared/schemas/recovery.js";
import { NOW, policy } from "./builders.js";
import { dead, evidence, probe, SEC } from "./failure-builders.js";

const pol = policy();
/** Two healthy peers beside the host under test, so one silent host is a third of the cluster. */
const peers = [evidence("p1", 1), evidence("p2", 2)];
const judge = (e: HostHealthEvidence, others = peers) => {
  const v = FailureVerdict.parse(judgeHosts([e, ...others], pol, NOW));
  return v.hosts.find((h) => h.host === e.host)!;
};

describe("judgeHosts", () => {
  it.each<[string, HostHealthEvidence, string, string]>([
    ["agent reporting", evidence("h", 5), "healthy", "FAILURE_NONE"],
    ["silent under failure_detect_after", dead("h", { agentLastSeen: NOW - 50 * SEC }), "suspect", "FAILURE_SILENT_WAIT"],
    ["libvirt answers a peer", dead("h", { probes: [probe("p1", 10), probe("p2", 30, "ok")] }), "agent_down", "FAILURE_AGENT_DOWN"],
    ["one failed probe of two needed", dead("h", { probes: [probe("p1", 10)] }), "suspect", "FAILURE_AWAIT_PROBES"],
    ["probes older than the window", dead("h", { probes: [probe("p1", 70), probe("p2", 80)] }), "suspect", "FAILURE_AWAIT_PROBES"],
    ["BMC reads on", dead("h", { bmc: { reading: "on", at: NOW - 5 * SEC } }), "suspect", "FAILURE_BMC_ON"],
    ["no BMC reading", dead("h", { bmc: null }), "suspect", "FAILURE_AWAIT_BMC"],
    ["BMC read before the agent's last report", dead("h", { bmc: { reading: "off", at: NOW - 200 * SEC } }), "suspect", "FAILURE_AWAIT_BMC"],
    ["every witness agrees, BMC off", dead("h"), "failed", "FAILURE_CANDIDATE"],
    ["BMC not answering", dead("h", { bmc: { reading: "failed", at: NOW - 5 * SEC } }), "failed", "FAILURE_CANDIDATE"],
    ["no power driver", dead("h", { powerDriver: false, bmc: null }), "failed", "FAILURE_CANDIDATE"],
    ["switched off by power management", dead("h", { power: "off" }), "healthy", "FAILURE_POWERED_DOWN"],
    ["fenced and still silent", dead("h", { state: "fenced", since: NOW - 60 * SEC }), "fenced", "FAILURE_STILL_FENCED"],
    ["recovering and still silent", dead("h", { state: "recovering" }), "recovering", "FAILURE_STILL_FENCED"],
    ["fenced and back", evidence("h", 3, { state: "recovered" }), "healthy", "FAILURE_HOST_RETURNED"],
  ])("%s", (_name, e, state, code) => {
    const j = judge(e);
    expect([j.state, j.code]).toEqual([state, code]);
    expect(j.reason).toContain("h");
  });

  it("a probe that failed before the agent's last report does not count", () => {
    // Silent 61 s; p1's probe is 61.5 s old (inside the window but before its last heartbeat).
    const j = judge(dead("h", { agentLastSeen: NOW - 61 * SEC, probes: [probe("p1", 61.5), probe("p2", 30)], bmc: { reading: "off", at: NOW - SEC } }));
    expect(j.code).toBe("FAILURE_AWAIT_PROBES");
    expect(j.numbers["probesFailed"]).toBe(1);
  });

  it("a peer's newest probe is its word: an answer after a failure makes the agent the only thing down", () => {
    const j = judge(dead("h", { probes: [probe("p1", 40), probe("p1", 10, "ok"), probe("p2", 20)] }));
    expect(j.state).toBe("agent_down");
  });

  it("keeps since while the state holds, and moves it when the state changes", () => {
    expect(judge(dead("h", { state: "failed", since: NOW - 30 * SEC })).since).toBe(NOW - 30 * SEC);
    expect(judge(dead("h", { state: "suspect", since: NOW - 30 * SEC })).since).toBe(NOW);
  });

  it("pauses when most hosts go silent at once, and says so once for the cluster", () => {
    const v = judgeHosts([dead("a"), dead("b"), evidence("c", 1)], pol, NOW);
    expect(v.paused).toBe(true);
    expect(v.hosts.map((h) => h.code)).toEqual(["FAILURE_ISOLATED", "FAILURE_ISOLATED", "FAILURE_NONE"]);
    expect(v.decisions.filter((d) => d.kind === "cluster").map((d) => d.code)).toEqual(["FAILURE_ISOLATED"]);
    // Hosts already fenced or switched off do not count: one new failure among three live hosts is not isolation.
    const w = judgeHosts([dead("a"), dead("b", { state: "fenced" }), dead("z", { power: "off" }), evidence("c", 1), evidence("d", 1)], pol, NOW);
    expect(w.paused).toBe(false);
    expect(w.hosts.find((h) => h.host === "a")!.state).toBe("failed");
  });

  it("does not depend on the evidence's order", () => {
    const es = [dead("a"), evidence("b", 1), evidence("c", 50), dead("d", { probes: [probe("p1", 3, "ok")] })];
    expect(judgeHosts([...es].reverse(), pol, NOW)).toEqual(judgeHosts(es, pol, NOW));
  });
});

// Arbitrary evidence for one host under test, among healthy peers.
const arbEvidence = fc.record({
  silentFor: fc.integer({ min: 0, max: 400 }),
  probes: fc.array(
    fc.record({ peer: fc.constantFrom("p1", "p2", "p3"), ago: fc.integer({ min: 0, max: 400 }), result: fc.constantFrom("ok", "failed", "timeout") }),
    { maxLength: 6 },
  ),
  driver: fc.boolean(),
  bmc: fc.option(fc.record({ reading: fc.constantFrom("on", "off", "unknown", "failed"), ago: fc.integer({ min: 0, max: 400 }) })),
  state: fc.constantFrom("healthy", "suspect", "failed", "agent_down"),
});

type Arb = typeof arbEvidence extends fc.Arbitrary<infer T> ? T : never;

function build(host: string, a: Arb): HostHealthEvidence {
  return evidence(host, a.silentFor, {
    probes: a.probes.map((p) => probe(p.peer, p.ago, p.result)),
    powerDriver: a.driver,
    bmc: a.bmc ? { reading: a.bmc.reading, at: NOW - a.bmc.ago * SEC } : null,
    state: a.state,
  });
}

describe("judgeHosts properties", () => {
  it("never makes a candidate of a host whose BMC reads on after its agent fell silent", () => {
    fc.assert(
      fc.property(arbEvidence, fc.integer({ min: 0, max: 400 }), (a, bmcAgo) => {
        const e = { ...build("h", a), powerDriver: true, bmc: { reading: "on" as const, at: NOW - Math.min(bmcAgo, a.silentFor) * SEC } };
        const v = judgeHosts([e, ...peers], pol, NOW);
        expect(v.hosts.find((h) => h.host === "h")!.state).not.toBe("failed");
      }),
      { numRuns: 300 },
    );
  });

  it("never makes a candidate while more than failure_isolation_share of the hosts are silent", () => {
    fc.assert(
      fc.property(
        fc.array(arbEvidence, { minLength: 1, maxLength: 8 }),
        fc.integer({ min: 0, max: 8 }),
        fc.double({ min: 0, max: 0.99, noNaN: true }),
        (as, healthy, share) => {
          const p = policy({ failure_isolation_share: share });
          const es = [...as.map((a, i) => build(`s${i}`, a)), ...Array.from({ length: healthy }, (_, i) => evidence(`ok${i}`, 1))];
          const silent = es.filter((e) => NOW - e.agentLastSeen > p.stale_after * SEC).length;
          const v = judgeHosts(es, p, NOW);
          if (silent / es.length > share) {
            expect(v.paused).toBe(true);
            expect(v.hosts.filter((h) => h.state === "failed")).toEqual([]);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("a host whose libvirt answered a peer's newest probe after its agent fell silent is never a candidate", () => {
    fc.assert(
      fc.property(arbEvidence, (a) => {
        const e = build("h", a);
        const j = judgeHosts([e, ...peers], pol, NOW).hosts.find((h) => h.host === "h")!;
        const from = Math.max(e.agentLastSeen, NOW - pol.failure_detect_after * SEC);
        const inWindow = e.probes.filter((p) => p.at >= from);
        // A peer's newest probe is its word: an answer followed by a failure from the same peer is a host that died since.
        const answeredSince = inWindow.some((p) => p.result === "ok" && !inWindow.some((q) => q.peer === p.peer && q.at > p.at));
        if (j.state === "failed") expect(answeredSince).toBe(false);
      }),
      { numRuns: 300 },
    );
  });
});
