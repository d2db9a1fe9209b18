import { z } from "zod";
import { HostId } from "./ids.js";
import { Numbers } from "./numbers.js";

// Host power: what the planner knows of each host's power state, and the power actions it plans.
// The orchestrator's power manager (orchestrator/shell/power/) owns the state and carries the
// actions out through each host's power driver (IPMI, Redfish, Wake-on-LAN + SSH, a command).

/**
 * on: powered and managed as usual. booting: switched on by Ballast, its agent has not reported
 * since. shutting_down: a power-off was sent and the driver does not yet read "off". off: read back
 * off. unknown: no driver answer yet (or the last one failed). Neither booting nor off counts as a
 * failed or stale host.
 */
export const PowerState = z.enum(["on", "booting", "shutting_down", "off", "unknown"]);
export type PowerState = z.infer<typeof PowerState>;

export const HostPower = z
  .object({
    state: PowerState.describe("The host's power state as the orchestrator's power manager knows it."),
    since: z.number().describe("When the host entered this state, ms since the epoch (orchestrator clock)."),
    switchable: z.boolean().describe("The host has a power driver, so Ballast may switch it on and off."),
    emptySince: z
      .number()
      .nullable()
      .default(null)
      .describe("Since when the host has held no VM, running or defined, ms since the epoch; null: it holds one (or it is not known)."),
    cyclesToday: z
      .number()
      .int()
      .min(0)
      .default(0)
      .describe("Power-ons Ballast made of this host within the last 24 hours (the cap is max_power_cycles_per_day)."),
    bootDeadline: z
      .number()
      .nullable()
      .default(null)
      .describe("booting: when the host must have reported, ms since the epoch (power_on_deadline after the power-on); null otherwise."),
    failed: z
      .string()
      .max(1000)
      .nullable()
      .default(null)
      .describe(
        "Why the last power operation of this host failed (a driver error, a boot past its deadline); null when it did not. A failed host is not switched on again by the automation until an operator clears it (ballast power on).",
      ),
  })
  .strict()
  .describe("A host's power state for the planner (absent: the host is on and Ballast does not manage its power).");
export type HostPower = z.infer<typeof HostPower>;
export type HostPowerInput = z.input<typeof HostPower>;

/** Why a power action is planned. */
export const PowerCode = z.enum([
  "POWER_OFF_IDLE",
  "POWER_OFF_EMPTIED",
  "POWER_ON_HOTSPOT",
  "POWER_ON_DEMAND",
  "POWER_ON_RESERVE",
  "POWER_ON_EVACUATE",
  "POWER_MANUAL",
]);
export type PowerCode = z.infer<typeof PowerCode>;

export const PowerAction = z
  .object({
    seq: z.number().int().min(0).describe("Position among the plan's power actions, from 0."),
    host: HostId.describe("The host to switch."),
    action: z.enum(["on", "off"]).describe("Switch the host on or off."),
    code: PowerCode.describe("Why: POWER_OFF_IDLE, POWER_OFF_EMPTIED, POWER_ON_HOTSPOT, POWER_ON_DEMAND, POWER_ON_RESERVE, POWER_ON_EVACUATE or POWER_MANUAL."),
    reason: z.string().describe("One sentence a person can read, with the numbers in it."),
    numbers: Numbers.describe("The figures behind the reason, by name."),
    forVms: z
      .array(z.string())
      .default([])
      .describe(
        "on: the VMs that wait for this host (the hot spot's or the evacuation's VMs that fit nowhere powered). Their moves are planned once the host's agent reports; empty for demand and reserve power-ons.",
      ),
    afterMoves: z
      .array(z.number().int().min(0))
      .default([])
      .describe(
        "off (POWER_OFF_EMPTIED): the seqs of this plan's moves that empty the host. The host is switched off only once no migration from it is queued or running and its agent, reporting after that, lists no VM; otherwise the power-off is dropped. Empty for every other action.",
      ),
  })
  .strict()
  .describe("A host to switch on or off, planned with its reason.");
export type PowerAction = z.infer<typeof PowerAction>;
