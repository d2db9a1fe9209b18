import type { Policy } from "../../shared/config/policy.js";
import type { DecisionCode } from "../../shared/schemas/decision-codes.js";
import type { Numbers } from "../../shared/schemas/numbers.js";
import type { Decision } from "../../shared/schemas/plan.js";
import type { FailureVerdict, HostFailureState, HostHealthEvidence, HostJudgement, PeerProbe } from "../../shared/schemas/recovery.js";
import { DORMANT_STATES } from "./cluster-model.js";
import { f1, r2 } from "./format.js";

// Is a silent host dead, or only quiet? Three independent witnesses must agree before a host is a
// candidate for fencing: its agent (silent for failure_detect_after), its libvirt as its peers see
// it over the migration network (failure_peer_probes probes failed, none answered), and its BMC
// where it has one (not reading "on"). Each one alone is wrong too often: an agent crashes with
// libvirt and the guests fine, a peer's own link breaks, a BMC reads "on" for a host whose kernel
// has panicked. A wrong "failed" fences a healthy host (an outage); a wrong "healthy" only delays a
// restart. So every doubt resolves towards "not a candidate", and recovery pauses outright when
// most hosts go silent at once: that is the orchestrator cut off, not a rack of dead hosts.

/** States the shell sets after the fence; the judge keeps them while the host stays silent. */
const AFTER_FENCE: ReadonlySet<HostFailureState> = new Set<HostFailureState>(["fenced", "recovering", "recovered"]);

interface Verdict {
  state: HostFailureState;
  code: DecisionCode;
  reason: string;
  numbers: Numbers;
}

/** The newest probe of each peer within the window and after the agent's last report, sorted by peer. */
function newestProbes(probes: readonly PeerProbe[], from: number, now: number): PeerProbe[] {
  const byPeer = new Map<string, PeerProbe>();
  for (const p of probes) {
    if (p.at < from || p.at > now) continue;
    const prev = byPeer.get(p.peer);
    // Ties: a failure does not hide an answer (ok wins), so a tie never makes a candidate.
    if (!prev || p.at > prev.at || (p.at === prev.at && p.result === "ok")) byPeer.set(p.peer, p);
  }
  return [...byPeer.values()].sort((a, b) => (a.peer < b.peer ? -1 : a.peer > b.peer ? 1 : 0));
}

const silentSeconds = (e: HostHealthEvidence, now: number): number => Math.max(0, (now - e.agentLastSeen) / 1000);

/** A host whose agent is past stale_after and that is expected to report (not off, not already fenced). */
function countsAsSilent(e: HostHealthEvidence, policy: Policy, now: number): boolean {
  return silentSeconds(e, now) > policy.stale_after;
}

function expected(e: HostHealthEvidence): boolean {
  return !(e.power !== null && DORMANT_STATES.has(e.power)) && !AFTER_FENCE.has(e.state);
}

/** The window over which a silent host is judged, seconds: failure_detect_after, never under stale_after. */
export function detectWindow(policy: Policy): number {
  return Math.max(policy.failure_detect_after, policy.stale_after);
}

function judgeOne(e: HostHealthEvidence, policy: Policy, now: number, isolated: boolean, silentShare: number): Verdict {
  const h = e.host;
  const silent = silentSeconds(e, now);
  const window = detectWindow(policy);
  const base = { silentSeconds: r2(silent), stale_after: policy.stale_after };
  if (silent <= policy.stale_after) {
    if (AFTER_FENCE.has(e.state))
      return {
        state: "healthy",
        code: "FAILURE_HOST_RETURNED",
        reason: `host ${h} was ${e.state} and its agent reports again (${f1(silent)} s ago): its old VMs may run elsewhere now and must not start there`,
        numbers: { ...base, previousState: e.state },
      };
    return { state: "healthy", code: "FAILURE_NONE", reason: `host ${h}'s agent reported ${f1(silent)} s ago`, numbers: base };
  }
  if (AFTER_FENCE.has(e.state))
    return {
      state: e.state,
      code: "FAILURE_STILL_FENCED",
      reason: `host ${h} is ${e.state} and its agent is still silent (${f1(silent)} s)`,
      numbers: { ...base, state: e.state },
    };
  if (e.power !== null && DORMANT_STATES.has(e.power))
    return {
      state: "healthy",
      code: "FAILURE_POWERED_DOWN",
      reason: `host ${h} is ${e.power} (power management): silent on purpose`,
      numbers: { ...base, powerState: e.power },
    };
  // Probes count from the start of the window, and only after the agent's last report: an older
  // failure says nothing about the host since.
  const from = Math.max(now - window * 1000, e.agentLastSeen);
  const probes = newestProbes(e.probes, from, now);
  const answered = probes.filter((p) => p.result === "ok");
  const failed = probes.filter((p) => p.result !== "ok");
  const probeNumbers = { probesFailed: failed.length, probesOk: answered.length, failure_peer_probes: policy.failure_peer_probes };
  // libvirt answers: the host runs, only its agent is gone. Never a restart, whatever else says.
  if (answered.length > 0)
    return {
      state: "agent_down",
      code: "FAILURE_AGENT_DOWN",
      reason: `host ${h}'s agent is silent for ${f1(silent)} s, but its libvirt answered ${answered.map((p) => p.peer).join(", ")}: only the agent is down; nothing is restarted`,
      numbers: { ...base, ...probeNumbers, answeredBy: answered.map((p) => p.peer).join(",") },
    };
  if (silent < window)
    return {
      state: "suspect",
      code: "FAILURE_SILENT_WAIT",
      reason: `host ${h}'s agent is silent for ${f1(silent)} s < failure_detect_after ${window} s`,
      numbers: { ...base, failure_detect_after: window },
    };
  if (isolated)
    return {
      state: "suspect",
      code: "FAILURE_ISOLATED",
      reason: `host ${h} is silent, but so are ${f1(silentShare * 100)} % of the hosts (> failure_isolation_share ${f1(policy.failure_isolation_share * 100)} %): recovery is paused`,
      numbers: { ...base, silentShare: r2(silentShare), failure_isolation_share: policy.failure_isolation_share },
    };
  if (failed.length < policy.failure_peer_probes)
    return {
      state: "suspect",
      code: "FAILURE_AWAIT_PROBES",
      reason: `host ${h}'s agent is silent for ${f1(silent)} s, but only ${failed.length} peer probe(s) of its libvirt failed within ${window} s (failure_peer_probes ${policy.failure_peer_probes})`,
      numbers: { ...base, ...probeNumbers },
    };
  const peers = failed.map((p) => `${p.peer} (${p.result})`).join(", ");
  if (e.powerDriver) {
    const b = e.bmc;
    // A reading from before the agent's last report may predate the failure: wait for a newer one.
    if (b === null || b.at < e.agentLastSeen || b.at > now)
      return {
        state: "suspect",
        code: "FAILURE_AWAIT_BMC",
        reason: `host ${h} is silent and its libvirt unreachable from ${peers}, but its BMC has not been read since its agent's last report`,
        numbers: { ...base, ...probeNumbers, ...(b ? { bmcReadAt: b.at } : {}) },
      };
    if (b.reading === "on")
      return {
        state: "suspect",
        code: "FAILURE_BMC_ON",
        reason: `host ${h} is silent and its libvirt unreachable from ${peers}, but its BMC reads it on (${f1((now - b.at) / 1000)} s ago): not a candidate`,
        numbers: { ...base, ...probeNumbers, bmc: b.reading, bmcReadAt: b.at },
      };
  }
  const bmc = e.powerDriver && e.bmc ? `, its BMC reads ${e.bmc.reading}` : ", it has no power driver";
  return {
    state: "failed",
    code: "FAILURE_CANDIDATE",
    reason: `host ${h}: agent silent for ${f1(silent)} s ≥ ${window} s, libvirt unreachable from ${peers}${bmc}: failed, to be fenced`,
    numbers: { ...base, ...probeNumbers, failure_detect_after: window, bmc: e.powerDriver && e.bmc ? e.bmc.reading : null },
  };
}

/**
 * The health of every host, from its evidence: healthy, agent_down, suspect or failed (a candidate
 * for fencing); fenced, recovering and recovered (set by the shell) are kept while the host stays
 * silent. Pure: `now` is passed in, and the evidence's order does not matter.
 */
export function judgeHosts(evidence: readonly HostHealthEvidence[], policy: Policy, now: number): FailureVerdict {
  const sorted = [...evidence].sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0));
  const judged = sorted.filter(expected);
  const silent = judged.filter((e) => countsAsSilent(e, policy, now)).length;
  const silentShare = judged.length > 0 ? silent / judged.length : 0;
  const isolated = silentShare > policy.failure_isolation_share;
  const decisions: Decision[] = [];
  if (isolated)
    decisions.push({
      kind: "cluster",
      subject: "cluster",
      code: "FAILURE_ISOLATED",
      message: `${silent} of ${judged.length} hosts are silent at once (${f1(silentShare * 100)} % > failure_isolation_share ${f1(policy.failure_isolation_share * 100)} %): the orchestrator is probably cut off; recovery is paused`,
      numbers: { silentHosts: silent, hosts: judged.length, silentShare: r2(silentShare), failure_isolation_share: policy.failure_isolation_share },
    });
  const hosts: HostJudgement[] = [];
  for (const e of sorted) {
    const v = judgeOne(e, policy, now, isolated, silentShare);
    const since = v.state === e.state && e.since !== null ? e.since : now;
    hosts.push({ host: e.host, state: v.state, since, code: v.code, reason: v.reason, numbers: v.numbers });
    decisions.push({ kind: "host", subject: e.host, code: v.code, message: v.reason, numbers: v.numbers });
  }
  return { hosts, paused: isolated, silentShare: r2(silentShare), decisions };
}
