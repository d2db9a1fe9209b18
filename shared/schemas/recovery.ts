import { z } from "zod";
import { DecisionCode } from "./decision-codes.js";
import { HostId, VmName } from "./ids.js";
import { Numbers } from "./numbers.js";
import { Decision } from "./plan.js";
import { PowerState } from "./power.js";
import { RestartPriority } from "./vm-record.js";

// Host failure and recovery (issue 18, docs/host-failure.md): what the orchestrator knows of a
// silent host (HostHealthEvidence), what the core makes of it (HostFailureState, judgeHosts), the
// fencing that must precede any restart (FenceAttempt, fence-gate.ts) and the restarts it plans
// (RestartPlan, restart-plan.ts). Times are ms since the epoch, orchestrator clock.

/**
 * healthy: its agent reports (or it is switched off by power management). agent_down: its agent is
 * silent but its libvirt answers a peer's probe: reported, never restarted. suspect: silent, but not
 * (yet) a candidate. failed: a candidate, awaiting its fence. fenced: confirmed off (a power-off read
 * back off, or an operator's confirm-fenced). recovering: its VMs are being restarted elsewhere.
 * recovered: every VM that could be restarted was.
 */
export const HostFailureState = z.enum(["healthy", "agent_down", "suspect", "failed", "fenced", "recovering", "recovered"]);
export type HostFailureState = z.infer<typeof HostFailureState>;

export const PeerProbe = z
  .object({
    peer: HostId.describe("The host whose agent asked this host's libvirt over the migration network."),
    at: z.number().describe("When the probe ended, ms since the epoch (orchestrator clock: when the orchestrator received the answer)."),
    result: z.enum(["ok", "failed", "timeout"]).describe("ok: libvirt answered; failed: the connection was refused or broke; timeout: no answer in time."),
    error: z.string().max(1000).optional().describe("The probe's error, for failed and timeout."),
  })
  .strict()
  .describe("One peer agent's probe of a host's libvirt.");
export type PeerProbe = z.infer<typeof PeerProbe>;

export const BmcReading = z
  .object({
    reading: z
      .enum(["on", "off", "unknown", "failed"])
      .describe("on: the BMC reports the host running normally; off: powered off; unknown: it answered without a state; failed: it did not answer."),
    at: z.number().describe("When the reading was taken, ms since the epoch."),
    error: z.string().max(1000).optional().describe("The driver's error, for failed."),
  })
  .strict()
  .describe("The newest power-state reading of a host through its power driver.");
export type BmcReading = z.infer<typeof BmcReading>;

export const HostHealthEvidence = z
  .object({
    host: HostId.describe("The host."),
    agentLastSeen: z
      .number()
      .describe(
        "The newest heartbeat or metrics of its agent, ms since the epoch; for a host not heard since the orchestrator started, when it started listening.",
      ),
    probes: z.array(PeerProbe).max(1000).default([]).describe("Recent probes of its libvirt by peer agents, any order."),
    powerDriver: z.boolean().describe("The host has a power driver (power inventory): its BMC is read, and it can be fenced."),
    bmc: BmcReading.nullable().default(null).describe("The newest BMC reading; null: none (or no driver)."),
    power: PowerState.nullable()
      .default(null)
      .describe("Its power state as power management knows it; off, booting and shutting_down are silent on purpose. null: not managed."),
    state: HostFailureState.default("healthy").describe("The previous verdict on this host (healthy for a host not judged before)."),
    since: z.number().nullable().default(null).describe("When the host entered that state; null: not known."),
  })
  .strict()
  .describe("What the orchestrator knows of one host's health: its agent, its peers' probes of its libvirt, its BMC.");
export type HostHealthEvidence = z.infer<typeof HostHealthEvidence>;
export type HostHealthEvidenceInput = z.input<typeof HostHealthEvidence>;

export const HostJudgement = z
  .object({
    host: HostId.describe("The host."),
    state: HostFailureState.describe("Its state now."),
    since: z.number().describe("When it entered this state (the previous `since` when the state did not change)."),
    code: DecisionCode.describe("Why (FAILURE_* codes)."),
    reason: z.string().describe("One sentence a person can read, with the numbers in it."),
    numbers: Numbers.describe("The figures behind the reason, by name."),
  })
  .strict()
  .describe("The verdict on one host's health.");
export type HostJudgement = z.infer<typeof HostJudgement>;

export const FailureVerdict = z
  .object({
    hosts: z.array(HostJudgement).describe("Every host judged, sorted by id."),
    paused: z.boolean().describe("Recovery is paused: too many hosts went silent at once (the orchestrator is probably cut off), so no host is a candidate."),
    silentShare: z.number().describe("Share of the judged hosts that are silent now (0-1; those already fenced or switched off not counted)."),
    decisions: z.array(Decision).describe("Every verdict as a decision, and the cluster's FAILURE_ISOLATED when paused."),
  })
  .strict()
  .describe("judgeHosts' answer.");
export type FailureVerdict = z.infer<typeof FailureVerdict>;

export const FenceAttempt = z
  .object({
    by: z.enum(["driver", "operator"]).describe("driver: a hard power-off through the host's power driver; operator: `ballast recover HOST --confirm-fenced`."),
    at: z.number().describe("When it was made, ms since the epoch."),
    result: z
      .enum(["off", "not_off", "failed"])
      .describe(
        "off: read back off after the power-off (always, for an operator's confirmation); not_off: the read-back did not say off; failed: the driver failed.",
      ),
    readBackAt: z.number().nullable().default(null).describe("When the power state was read back (driver only); null: not read."),
    operator: z.string().max(200).optional().describe("Who confirmed (operator only)."),
    error: z.string().max(1000).optional().describe("The driver's error, or what it read back."),
  })
  .strict()
  .describe("One attempt to fence a host, or an operator's confirmation that it is off.");
export type FenceAttempt = z.infer<typeof FenceAttempt>;
export type FenceAttemptInput = z.input<typeof FenceAttempt>;

export const FenceVerdict = z
  .object({
    host: HostId.describe("The host."),
    mayRecover: z.boolean().describe("Its VMs may be restarted elsewhere: it is fenced."),
    next: z
      .enum(["recover", "fence", "alert", "none"])
      .describe("What the shell does next: restart its VMs, (re)try the power-off, alert the operator, or nothing (not failed)."),
    code: DecisionCode.describe("Why (FENCE_* codes)."),
    reason: z.string().describe("One sentence a person can read; the alert's text when next is alert."),
    numbers: Numbers.describe("The figures behind the reason, by name."),
    fencedAt: z.number().nullable().describe("When the fence was confirmed (read back off, or the operator's confirmation); null: not fenced."),
    fencedBy: z.enum(["driver", "operator"]).nullable().describe("Who confirmed it; null: not fenced."),
  })
  .strict()
  .describe("May recovery start for a host?");
export type FenceVerdict = z.infer<typeof FenceVerdict>;

export const FencedHost = z
  .object({
    host: HostId.describe("A host the fence gate let through."),
    failedAt: z
      .number()
      .describe("When its failure began (its HostJudgement.since when it became failed): restarts recorded before it belong to an earlier incident."),
  })
  .strict()
  .describe("A fenced host whose VMs are to be restarted.");
export type FencedHost = z.infer<typeof FencedHost>;

export const RecordedRestart = z
  .object({
    vm: VmName.describe("The VM."),
    host: HostId.describe("The fenced host it was restarted from."),
    destination: HostId.describe("Where it was defined and started."),
    at: z.number().describe("When the restart was recorded, ms since the epoch (before the start command was sent)."),
    epoch: z.number().int().min(0).describe("Leadership epoch of the orchestrator that recorded it (0 without HA)."),
  })
  .strict()
  .describe("A restart recorded once, under the leader's epoch: never planned again within its incident.");
export type RecordedRestart = z.infer<typeof RecordedRestart>;

export const RestartAwaiting = z
  .object({
    vm: VmName.describe("The VM."),
    priority: RestartPriority.describe("Its restart priority."),
    destination: HostId.describe("Where it is being started."),
    since: z.number().describe("When its restart was recorded, ms since the epoch: restart_wait_timeout counts from here."),
  })
  .strict()
  .describe("A recorded restart whose guest is not up yet (restart_wait_for): lower priorities wait for it.");
export type RestartAwaiting = z.infer<typeof RestartAwaiting>;

export const RestartStep = z
  .object({
    order: z.number().int().min(0).describe("Position in the plan, from 0: highest priority first."),
    vm: VmName.describe("The VM to define and start."),
    priority: RestartPriority.describe("Its restart priority."),
    from: HostId.describe("The fenced host it ran on."),
    destination: HostId.describe("Where to define and start it."),
    code: DecisionCode.describe("RESTART_PLANNED."),
    reason: z.string().describe("One sentence a person can read, with the numbers in it."),
    numbers: Numbers.describe("The figures behind the reason, by name."),
  })
  .strict()
  .describe("One VM to restart on another host.");
export type RestartStep = z.infer<typeof RestartStep>;

export const RestartHeld = z
  .object({
    vm: VmName.describe("The VM."),
    priority: RestartPriority.nullable().describe("Its restart priority; null: it has no record."),
    host: HostId.describe("The fenced host it ran on."),
    code: DecisionCode.describe("Why it is not restarted by this plan."),
    reason: z.string().describe("One sentence a person can read."),
    numbers: Numbers.describe("The figures behind the reason, by name."),
  })
  .strict()
  .describe("A VM of a fenced host that this plan does not restart.");
export type RestartHeld = z.infer<typeof RestartHeld>;

export const RestartPlan = z
  .object({
    createdAt: z.number().describe("The `now` it was planned for, ms since the epoch."),
    hosts: z.array(HostId).describe("The fenced hosts whose VMs it covers, sorted."),
    steps: z.array(RestartStep).describe("The restarts, in order (at most max_concurrent_restarts)."),
    waiting: z
      .array(RestartHeld)
      .describe(
        "VMs still to be restarted by a later plan (no destination now, over max_concurrent_restarts, size unknown) or waiting for their host (local writable disks).",
      ),
    skipped: z
      .array(RestartHeld)
      .describe("VMs never restarted by this incident: priority never, restart already recorded, listed by another host, not running, no record."),
    decisions: z.array(Decision).describe("Every decision, placement rejections included."),
  })
  .strict()
  .describe("The restarts planned for the VMs of fenced hosts.");
export type RestartPlan = z.infer<typeof RestartPlan>;
