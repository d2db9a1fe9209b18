import type { FenceInput } from "../../../orchestrator/core/fence-gate.js";
import type { RestartInput } from "../../../orchestrator/core/restart-plan.js";
import type { PolicyInput } from "../../../shared/config/policy.js";
import type { HostHealthEvidence } from "../../../shared/schemas/recovery.js";
import { host, NOW, snapshot, vm } from "./builders.js";
import { attempt, dead, domainXml, evidence, localDisk, probe, record, SEC, sharedDisk } from "./failure-builders.js";

// Hand-made host-failure clusters: each host's evidence, fence attempts and a fenced host's VMs in
// every condition the failure logic names. decision-codes.test.ts runs judgeHosts, fenceGate and
// planRestarts over them and requires every FAILURE_, FENCE_ and RESTART_ code to come out.

export interface FailureCase {
  name: string;
  policy: PolicyInput;
  evidence: HostHealthEvidence[];
  fences: FenceInput[];
  restart: RestartInput;
}

const failedAt = NOW - 60 * SEC;
const fence = (o: Partial<FenceInput>): FenceInput => ({
  host: "hv-b",
  state: "failed",
  failedAt,
  agentLastSeen: NOW - 120 * SEC,
  powerDriver: true,
  attempts: [],
  ...o,
});

export function failureCases(): FailureCase[] {
  const mixed: HostHealthEvidence[] = [
    evidence("ok1", 1),
    evidence("ok2", 2),
    evidence("ok3", 3),
    evidence("ok4", 4),
    evidence("ok5", 5),
    evidence("ok6", 6),
    evidence("back", 2, { state: "recovered" }),
    dead("wait", { agentLastSeen: NOW - 45 * SEC }),
    dead("agent", { probes: [probe("ok1", 5, "ok")] }),
    dead("off", { power: "off" }),
    dead("probes", { probes: [probe("ok1", 5)] }),
    dead("nobmc", { bmc: null }),
    dead("bmcon", { bmc: { reading: "on", at: NOW - 3 * SEC } }),
    dead("dead"),
    dead("fenced", { state: "fenced", since: NOW - 30 * SEC }),
  ];
  const isolated: HostHealthEvidence[] = [dead("a"), dead("b"), dead("c"), evidence("d", 1)];
  const fences: FenceInput[] = [
    fence({ state: "healthy", failedAt: null }),
    fence({ powerDriver: false }),
    fence({}),
    fence({ attempts: [attempt("driver", 30, "failed", null)] }),
    fence({ attempts: [attempt("driver", 50, "failed", null), attempt("driver", 40, "not_off"), attempt("driver", 30, "failed", null)] }),
    fence({ attempts: [attempt("driver", 20)] }),
    fence({ powerDriver: false, attempts: [attempt("operator", 10)] }),
  ];
  const restart: RestartInput = {
    snapshot: snapshot(
      [host("hv-a"), host("hv-b", { lastSeenAgo: 200 }), host("hv-c")],
      [
        vm("web-1", "hv-b"),
        vm("web-2", "hv-b"),
        vm("db-1", "hv-b", { mem: 400_000 }),
        vm("batch", "hv-b", { state: "shutoff" }),
        vm("moved", "hv-b"),
        vm("moved", "hv-c"),
        vm("stray", "hv-b"),
        vm("scratch", "hv-b"),
        vm("local", "hv-b"),
        vm("again", "hv-b"),
      ],
    ),
    records: [
      record("web-1", "hv-b", { priority: "high" }),
      record("web-2", "hv-b", { priority: "low" }),
      record("web-3", "hv-b", { definition: domainXml("web-3") }),
      record("db-1", "hv-b", { priority: "high" }),
      record("batch", "hv-b"),
      record("moved", "hv-b"),
      record("scratch", "hv-b", { priority: "never" }),
      record("local", "hv-b", { disks: [sharedDisk, localDisk] }),
      record("again", "hv-b"),
      record("blank", "hv-b", { definition: "<domain><name>blank</name></domain>" }),
    ],
    fenced: [{ host: "hv-b", failedAt }],
    recorded: [{ vm: "again", host: "hv-b", destination: "hv-a", at: NOW - 30 * SEC, epoch: 3 }],
  };
  return [
    { name: "mixed", policy: { max_concurrent_restarts: 2 }, evidence: mixed, fences, restart },
    // Every priority at once: the cap, not the waves, holds the rest back.
    { name: "mixed-no-waves", policy: { max_concurrent_restarts: 2, restart_wait_for: "none" }, evidence: mixed, fences, restart },
    { name: "isolated", policy: {}, evidence: isolated, fences: [], restart: { ...restart, fenced: [] } },
  ];
}
