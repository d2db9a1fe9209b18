import { createHash } from "node:crypto";
import { z } from "zod";
import { HostId } from "../../../shared/schemas/ids.js";
import { RestartStatus } from "../../../shared/schemas/orchestrator-api.js";
import { FenceAttempt, HostFailureState, type RecordedRestart } from "../../../shared/schemas/recovery.js";

// What the leader keeps of host failures, and a new leader continues from (HA: `recovery.<host>`
// and `restart.<vm>.<at>` in the HA bucket; without HA in memory): each host's state and the
// fence attempts of its incident, and every restart with how its start went.

/** Fence attempts kept per host: failure_fence_attempts is at most a few, plus operators' words. */
export const MAX_ATTEMPTS = 100;

export const StoredRecoveryHost = z
  .object({
    host: HostId,
    state: HostFailureState,
    since: z.number(),
    /** When the incident's failure began (kept fixed while the incident lasts); null: no incident. */
    failedAt: z.number().nullable(),
    attempts: z.array(FenceAttempt).max(MAX_ATTEMPTS),
  })
  .strict();
export type StoredRecoveryHost = z.infer<typeof StoredRecoveryHost>;

/** One restart with how its start went: what `ballast recovery status` lists. */
export const StoredRestart = RestartStatus;
export type StoredRestart = RestartStatus;

/** The request id of a restart: from the VM and when it was recorded, so every leader sends the same one. */
export function restartRequestId(r: Pick<RecordedRestart, "vm" | "at">): string {
  return `r-${Math.round(r.at)}-${createHash("sha256").update(r.vm).digest("hex").slice(0, 24)}`;
}

/** Where the leader keeps them (HA: the state bucket); each write is done when it resolves. */
export interface RecoverySink {
  host(r: StoredRecoveryHost): void;
  /** Awaited before the start is sent: a restart not known to be recorded is never sent. */
  restart(r: StoredRestart): Promise<void>;
  /** A restart of an incident long over is dropped (the policy's restart_retention). */
  forget?(r: StoredRestart): void;
}
