import type { HostFailureState } from "../../../shared/schemas/recovery.js";
import type { RestartStatus, VmClaimReply, VmClaimRequest } from "../../../shared/schemas/orchestrator-api.js";
import type { VmState } from "../../../shared/schemas/vm.js";

// ballast.orch.vm-claim: an agent that comes up (a host that booted, perhaps after it was fenced)
// asks before it starts a domain it found defined. The answer is yes only when every sign says this
// host's copy is the one: the record names it, nobody else lists the VM running or paused (a silent
// host's last inventory counts: it may still run it), no restart of it from this host is under way
// or done, and this host's own recovery is not in progress. Anything else, and no answer at all,
// means the agent leaves the domain off and the operator decides.

export interface VmClaimDeps {
  /** The host the VM's record names; undefined: no record. */
  recordHost(vm: string): string | undefined;
  /** Every host whose newest inventory lists the VM, and in which state. */
  locate(vm: string): readonly { host: string; state: VmState }[];
  /** Every restart recorded by host-failure recovery, with its outcome. */
  restarts(): readonly RestartStatus[];
  /** The host's failure state as the judge left it; undefined: not judged. */
  stateOf(host: string): HostFailureState | undefined;
}

/** Recovery of the host is under way: its VMs may be started elsewhere any moment. */
const RECOVERING: ReadonlySet<HostFailureState> = new Set(["failed", "fenced", "recovering"]);

export function answerVmClaim(req: VmClaimRequest, d: VmClaimDeps): VmClaimReply {
  const { vm, host } = req;
  const recordHost = d.recordHost(vm) ?? null;
  const elsewhere = d
    .locate(vm)
    .filter((l) => l.host !== host && (l.state === "running" || l.state === "paused"))
    .map((l) => l.host)
    .sort();
  const no = (reason: string): VmClaimReply => ({ vm, host, mayStart: false, recordHost, elsewhere, reason });
  if (recordHost === null) return no(`no record of ${vm}: the orchestrator cannot tell which copy is the right one; start it by hand if it is`);
  if (recordHost !== host) return no(`the record of ${vm} names ${recordHost}, not ${host}: this copy is an old one`);
  if (elsewhere.length > 0) return no(`${vm} is listed running or paused on ${elsewhere.join(", ")}`);
  const restart = d.restarts().find((r) => r.restart.vm === vm && r.restart.host === host && (r.outcome === "sent" || r.outcome === "started"));
  if (restart) return no(`${vm} was restarted from ${host} on ${restart.restart.destination} (${restart.outcome}): this copy is an old one`);
  const state = d.stateOf(host);
  if (state !== undefined && RECOVERING.has(state)) return no(`${host} is ${state}: its VMs may be restarted elsewhere; wait until it reports again`);
  return { vm, host, mayStart: true, recordHost, elsewhere, reason: `the record of ${vm} names ${host} and no other host lists it running or paused` };
}
