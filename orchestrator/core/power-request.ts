import type { Policy } from "../../shared/config/policy.js";
import type { Decision, Numbers } from "../../shared/schemas/plan.js";
import type { PowerAction } from "../../shared/schemas/power.js";
import type { ClusterSnapshot } from "../../shared/schemas/snapshot.js";
import { createContext } from "./context.js";
import { f1, r2 } from "./format.js";
import { poweredMember, reserveVerdict } from "./standby.js";
import { powerInfo } from "./strategies/power.js";

// An operator's `ballast power on|off HOST`, judged on a snapshot: the POWER_MANUAL action, or why
// not. The operator's word overrides the automation's hysteresis and reserve (min_on_time,
// min_off_time, max_power_cycles_per_day, standby_capacity, a failed mark: switching a host on
// clears it), but never switches off a host that runs VMs or has migrations on their way to or
// from it: that would be a power loss for its guests. VMs that are only defined (shut off) do not
// keep it on. Whether the action runs or waits for approval is the automation level's (the shell's).

export interface PowerRequestVerdict {
  action: PowerAction | null;
  /** Why not, when action is null. */
  refusal: Decision | null;
}

export function powerRequest(snapshot: ClusterSnapshot, policy: Policy, now: number, host: string, action: "on" | "off"): PowerRequestVerdict {
  const ctx = createContext(snapshot, policy, now, "manual", {});
  const h = ctx.model.hostById.get(host);
  const no = (code: Decision["code"], message: string, numbers: Decision["numbers"] = {}): PowerRequestVerdict => ({
    action: null,
    refusal: { kind: "host", subject: host, code, message, numbers },
  });
  if (!h) return no("HOST_UNKNOWN", `host ${host} is not in the snapshot`);
  const p = powerInfo(h);
  if (!p.switchable) return no("POWER_NO_DRIVER", `host ${host} has no power driver: Ballast cannot switch it`);
  const since: Numbers = p.since !== null ? { sinceSeconds: r2((now - p.since) / 1000) } : {};
  if (action === "on") {
    if (p.state === "on" || p.state === "booting")
      return no("POWER_NOT_NEEDED", `host ${host} is already ${p.state === "on" ? "on" : "being switched on"}`, { state: p.state, ...since });
    return {
      action: {
        seq: 0,
        host,
        action: "on",
        code: "POWER_MANUAL",
        reason: `operator request: switch ${host} on (it is ${p.state.replace("_", " ")}${p.failed !== null ? `; clears its failure: ${p.failed}` : ""})`,
        numbers: { state: p.state, cyclesToday: p.cyclesToday, clearsFailure: p.failed !== null, ...since },
        forVms: [],
        afterMoves: [],
      },
      refusal: null,
    };
  }
  if (p.state === "off" || p.state === "shutting_down")
    return no("POWER_NOT_NEEDED", `host ${host} is already ${p.state === "off" ? "off" : "shutting down"}`, { state: p.state, ...since });
  const live = h.vms.length + h.copies;
  const moving = h.inFlightIn + h.inFlightOut;
  if (live > 0 || moving > 0)
    return no(
      "POWER_HOLDS_VMS",
      `host ${host} runs ${live} VM(s) and has ${moving} migration(s) in flight: it is not switched off (evacuate it first: ballast evacuate ${host})`,
      { liveVms: live, inFlight: moving },
    );
  // The operator may go below the reserve; the action says so, with the numbers.
  const others = ctx.model.hosts.filter((x) => x.id !== host && x.fresh && !x.excluded && !x.maintenance && x.collectError === undefined);
  const v = reserveVerdict(
    policy,
    others.map((x) => poweredMember(ctx, x)),
  );
  return {
    action: {
      seq: 0,
      host,
      action: "off",
      code: "POWER_MANUAL",
      reason:
        `operator request: switch ${host} off${v.holds ? "" : `, although without it ${v.text}`}` +
        (p.since !== null ? ` (on for ${f1((now - p.since) / 1000)} s)` : ""),
      numbers: { state: p.state, reserveHolds: v.holds, ...v.numbers, ...since },
      forVms: [],
      afterMoves: [],
    },
    refusal: null,
  };
}
