import type { Policy } from "../../shared/config/policy.js";
import type { Decision } from "../../shared/schemas/plan.js";
import type { HostPower, PowerAction, PowerState } from "../../shared/schemas/power.js";
import type { ClusterSnapshot } from "../../shared/schemas/snapshot.js";
import { planWithPower } from "./planner.js";

// One host: its power state and why it is or is not switched (`ballast explain HOST`). A plan logs
// power decisions only for the hosts that matter this cycle; this gives any host's verdict, taken
// from the same cycle plan made at the same instant, so it never disagrees with what a plan does.

export interface HostExplanation {
  host: string;
  /** The host is in the snapshot. */
  known: boolean;
  /** policy.power_management. */
  managed: boolean;
  /** Its power fields in the snapshot; null when Ballast does not manage its power. */
  power: HostPower | null;
  /** Its power state ("on" when its power is not managed). */
  state: PowerState;
  /** What this cycle would do to it, or null. */
  action: PowerAction | null;
  /** Why it is or is not switched (the action's decision, or the reason it is not); null when power management is off. */
  verdict: Decision | null;
  /** Every decision the cycle plan makes about the host, and the plan's cluster-wide power verdicts. */
  decisions: Decision[];
  /** One sentence. */
  summary: string;
}

/** Why `host` is, or is not, switched on or off now (same decisions as a cycle plan at `now`). */
export function explainHost(snapshot: ClusterSnapshot, policy: Policy, now: number, host: string): HostExplanation {
  const h = snapshot.hosts.find((x) => x.id === host);
  if (!h) {
    const unknown: Decision = { kind: "host", subject: host, code: "HOST_UNKNOWN", message: `host ${host} is not in the snapshot`, numbers: {} };
    return {
      host,
      known: false,
      managed: policy.power_management,
      power: null,
      state: "unknown",
      action: null,
      verdict: unknown,
      decisions: [unknown],
      summary: unknown.message,
    };
  }
  const { plan, power } = planWithPower(snapshot, policy, now, { mode: "cycle" });
  const state = h.power?.state ?? "on";
  const decisions = plan.decisions.filter((d) => d.subject === host || (d.kind === "cluster" && d.code.startsWith("POWER_")));
  const action = plan.power.find((a) => a.host === host) ?? null;
  const verdict = power?.verdicts.get(host) ?? null;
  const where = `host ${host} is ${state.replace("_", " ")}${h.power ? (h.power.switchable ? "" : " (no power driver)") : " (power not managed)"}`;
  const summary = !policy.power_management
    ? `${where}; power management is off (power_management: false)`
    : action
      ? `${where}; this cycle switches it ${action.action} (${action.code}): ${action.reason}`
      : verdict
        ? `${where}; ${verdict.code}: ${verdict.message}`
        : where;
  return { host, known: true, managed: policy.power_management, power: h.power ?? null, state, action, verdict, decisions, summary };
}
