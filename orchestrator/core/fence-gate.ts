import type { Policy } from "../../shared/config/policy.js";
import type { FenceAttempt, FenceVerdict, HostFailureState } from "../../shared/schemas/recovery.js";
import { f1 } from "./format.js";

// May recovery start for a host? Only once it is known to be off: a hard power-off through its
// power driver that was read back "off" after the failure began, or an operator's word
// (`ballast recover HOST --confirm-fenced`). Starting a VM while its old copy may still run writes
// one disk from two guests, which no later step can repair; waiting for an operator only costs
// time. So anything short of a confirmation is a "no", and the reason is the alert's text.

export interface FenceInput {
  host: string;
  /** The host's state (judgeHosts). */
  state: HostFailureState;
  /** When its failure began (the judgement's `since` when it became failed); null: not failed. */
  failedAt: number | null;
  /** Its agent's newest heartbeat or metrics: a confirmation older than it predates the host's last sign of life. */
  agentLastSeen: number;
  powerDriver: boolean;
  /** Every fence attempt and operator confirmation for this host, any order. */
  attempts: readonly FenceAttempt[];
}

/** A driver's power-off counts only when its read-back, after the power-off, said off. */
function confirmsOff(a: FenceAttempt): boolean {
  if (a.by === "operator") return a.result === "off";
  return a.result === "off" && a.readBackAt !== null && a.readBackAt >= a.at;
}

const byTime = (a: FenceAttempt, b: FenceAttempt): number => a.at - b.at || (a.by === b.by ? 0 : a.by === "driver" ? -1 : 1);

export function fenceGate(input: FenceInput, policy: Policy): FenceVerdict {
  const { host, state } = input;
  const no = { mayRecover: false, fencedAt: null, fencedBy: null } as const;
  // Only what happened after the host's last sign of life speaks for it now; a driver's power-off
  // counts only after the failure began (an earlier one was power management or an operator).
  const valid = input.attempts
    .filter((a) => a.at >= input.agentLastSeen && (a.by === "operator" || input.failedAt === null || a.at >= input.failedAt))
    .sort(byTime);
  if (state === "healthy" || state === "agent_down")
    return {
      host,
      ...no,
      next: "none",
      code: "FENCE_NOT_FAILED",
      reason: `host ${host} is ${state}: it is not fenced and its VMs are not restarted${valid.some((a) => a.by === "operator") ? " (the operator's confirmation is ignored: the host shows signs of life)" : ""}`,
      numbers: { state },
    };
  const confirmed = valid.find(confirmsOff);
  if (confirmed) {
    const at = confirmed.by === "driver" ? confirmed.readBackAt! : confirmed.at;
    if (confirmed.by === "operator")
      return {
        host,
        mayRecover: true,
        next: "recover",
        code: "FENCE_OPERATOR",
        reason: `host ${host} confirmed off by ${confirmed.operator ?? "an operator"} (--confirm-fenced): its VMs may be restarted elsewhere`,
        numbers: { confirmedAt: at, state },
        fencedAt: at,
        fencedBy: "operator",
      };
    return {
      host,
      mayRecover: true,
      next: "recover",
      code: "FENCE_CONFIRMED",
      reason: `host ${host} powered off through its driver and read back off ${f1((at - confirmed.at) / 1000)} s later: its VMs may be restarted elsewhere`,
      numbers: { poweredOffAt: confirmed.at, readBackAt: at, state },
      fencedAt: at,
      fencedBy: "driver",
    };
  }
  if (state === "suspect")
    return {
      host,
      ...no,
      next: "none",
      code: "FENCE_NOT_FAILED",
      reason: `host ${host} is suspect, not failed: it is not fenced yet (an operator may confirm it off with --confirm-fenced)`,
      numbers: { state },
    };
  if (!input.powerDriver)
    return {
      host,
      ...no,
      next: "alert",
      code: "FENCE_NO_DRIVER",
      reason: `host ${host} failed and has no power driver: Ballast cannot make sure it is off, so nothing is restarted; check it is off, then run ballast recover ${host} --confirm-fenced`,
      numbers: { state },
    };
  const tries = valid.filter((a) => a.by === "driver");
  const max = policy.failure_fence_attempts;
  if (tries.length === 0)
    return {
      host,
      ...no,
      next: "fence",
      code: "FENCE_NEEDED",
      reason: `host ${host} failed: power it off through its driver and read the state back before any restart`,
      numbers: { attempts: 0, failure_fence_attempts: max },
    };
  const last = tries[tries.length - 1]!;
  const why =
    last.result === "failed" ? `the driver failed${last.error ? `: ${last.error}` : ""}` : `it did not read back off${last.error ? ` (${last.error})` : ""}`;
  if (tries.length < max)
    return {
      host,
      ...no,
      next: "fence",
      code: "FENCE_RETRY",
      reason: `host ${host}: power-off ${tries.length} of ${max} not confirmed (${why}); trying again`,
      numbers: { attempts: tries.length, failure_fence_attempts: max, lastResult: last.result },
    };
  return {
    host,
    ...no,
    next: "alert",
    code: "FENCE_FAILED",
    reason: `host ${host}: ${tries.length} power-off(s) not confirmed (${why}): nothing is restarted; make sure it is off, then run ballast recover ${host} --confirm-fenced`,
    numbers: { attempts: tries.length, failure_fence_attempts: max, lastResult: last.result },
  };
}
