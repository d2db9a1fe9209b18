import { z } from "zod";
import { HostId } from "../../../shared/schemas/ids.js";
import { PowerState } from "../../../shared/schemas/power.js";

// What the power manager keeps of each switchable host, as the HA bucket stores it (`power.<host>`),
// so a new leader knows which hosts are off or booting, their deadlines and their cycle counts.

export const DAY_MS = 24 * 3600 * 1000;

export const StoredPower = z
  .object({
    host: HostId,
    state: PowerState,
    since: z.number(),
    emptySince: z.number().nullable(),
    /** Power-ons Ballast made within the last 24 hours (ms since the epoch), oldest first. */
    onTimes: z.array(z.number()).max(10_000),
    bootDeadline: z.number().nullable(),
    /** shutting_down: when the interface must read off. */
    offDeadline: z.number().nullable(),
    failed: z.string().max(1000).nullable(),
    /** The host's last reported capacity: an off host stays in the snapshot with it. */
    cpus: z.number().int().min(0).nullable(),
    memTotalMiB: z.number().min(0).nullable(),
  })
  .strict();
export type StoredPower = z.infer<typeof StoredPower>;

/** One call of a power driver and its answer, for the power log (`ballast power status`). */
export interface PowerCall {
  at: number;
  host: string;
  operation: "status" | "on" | "off";
  ok: boolean;
  /** The interface's answer, or the failure. */
  detail: string;
  /** Who asked: "cycle", "operator", "plan <id>", "status poll". */
  by: string;
}

/** What became of one power action. */
export interface PowerOutcome {
  host: string;
  action: "on" | "off";
  result: "done" | "refused" | "failed" | "skipped" | "pending";
  detail: string;
}

export function freshRecord(host: string, now: number): StoredPower {
  return {
    host,
    state: "unknown",
    since: now,
    emptySince: null,
    onTimes: [],
    bootDeadline: null,
    offDeadline: null,
    failed: null,
    cpus: null,
    memTotalMiB: null,
  };
}
