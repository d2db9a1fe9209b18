import { z } from "zod";
import { BallastError } from "../../../shared/errors.js";
import { MigrationRecord } from "../../../shared/schemas/migration-record.js";
import { HostId, VmName } from "../../../shared/schemas/ids.js";
import { Plan } from "../../../shared/schemas/plan.js";
import { BALLAST_VERSION } from "../../../shared/version.js";
import { MAX_INCOMPATIBLE_PAIRS, StoredPair } from "../incompatible-pairs.js";
import { StoredPower } from "../power/power-record.js";
import { StoredRecoveryHost, StoredRestart } from "../recovery/recovery-record.js";

// What HA orchestrators keep in their JetStream KV bucket, one schema per kind of record. Every
// value carries the format it was written in (`v`) and the Ballast version that wrote it
// (`writer`). A new leader reads nothing on trust: a record of another format, or one that does not
// parse, stops the takeover with an error that names the key, both formats and both versions,
// instead of continuing from state it may misread (a migration record misread is a migration sent
// twice). Change HA_FORMAT whenever a record's meaning changes.

/** The format of the records this version writes and reads. */
export const HA_FORMAT = 1;

const Stamp = { v: z.literal(HA_FORMAT), writer: z.string().max(64) };

/** `mig.<requestId>`: one migration, queued, ongoing or finished. */
export const MigrationEntry = z.object({ ...Stamp, record: MigrationRecord });
/**
 * `plan.<planId>`: a plan waiting for approve. The optional fields (dry runs: who asked, the
 * evacuation asked for; ids of identical plans it replaced) came in 0.2 within format 1: a
 * record without them is a cycle's proposal, as every plan was before.
 */
export const PendingPlanEntry = z.object({
  ...Stamp,
  plan: Plan,
  expiresAt: z.number(),
  dryRun: z.object({ by: z.string().max(128), mayApprove: z.boolean() }).optional(),
  sameAs: z.array(z.string().max(128)).max(64).optional(),
  evacuation: z.object({ host: HostId, placement: z.enum(["stripe", "pack"]), useEmptyHosts: z.boolean() }).optional(),
});
/** `state.maintenance`: hosts closed to new VMs. */
export const MaintenanceEntry = z.object({ ...Stamp, hosts: z.array(HostId) });
/** `state.frozen`: VMs frozen after ping-pong. */
export const FrozenEntry = z.object({ ...Stamp, vms: z.array(VmName) });
/** `state.paused`: why the orchestrator is paused, or null. */
export const PausedEntry = z.object({ ...Stamp, reason: z.string().nullable() });
/**
 * `state.incompatible`: (VM, destination) pairs libvirt refused, with the facts digests they hold
 * under. Came in 0.3 within format 1: an older leader ignores the key (and logs it), and a bucket
 * without it has no pairs.
 */
export const IncompatibleEntry = z.object({ ...Stamp, pairs: z.array(StoredPair).max(MAX_INCOMPATIBLE_PAIRS) });
/**
 * `power.<host>`: a switchable host's power record (state, deadlines, power-ons of the last 24
 * hours, last capacity). Came with power management within format 1: an older leader ignores the
 * keys (and logs them).
 */
export const PowerEntry = z.object({ ...Stamp, record: StoredPower });
/**
 * `recovery.<host>`: a host's failure incident (state, when it failed, fence attempts), and
 * `restart.<vm>.<at>`: one restart of a fenced host's VM with how its start went. Came with host
 * failure recovery within format 1: an older leader ignores the keys (and logs them). A restart's
 * `upAt` came later within format 1: a leader from before it refuses such a record and stops its
 * takeover (no leader, nothing started twice) until every orchestrator runs the same version.
 */
export const RecoveryHostEntry = z.object({ ...Stamp, record: StoredRecoveryHost });
export const RestartEntry = z.object({ ...Stamp, record: StoredRestart });
/** `leader`: the lease (see leader-lease.ts). */
export const LeaseEntry = z.object({
  ...Stamp,
  instance: z.string().min(1).max(64),
  /** Grows by one on every takeover; agents refuse commands with an older one. */
  epoch: z.number().int().min(0),
  /** Wall-clock ms when the holder renewed, and until when it claims the lease (information only). */
  renewedAt: z.number(),
  expiresAt: z.number(),
  /** Set by a leader that stopped cleanly: standbys take over at once. */
  released: z.boolean().optional(),
});
export type LeaseEntry = z.infer<typeof LeaseEntry>;

/** A record this version cannot read: another format, or not valid. */
export class HaRecordError extends BallastError {
  override readonly name: string = "HaRecordError";
  constructor(
    readonly key: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super("INTERNAL", message, options);
  }
}

/** The JSON of a record of this format: the stamp first, then the fields. */
export function encodeRecord<T extends object>(fields: T): string {
  return JSON.stringify({ v: HA_FORMAT, writer: BALLAST_VERSION, ...fields });
}

/** Parses one record; throws HaRecordError naming the key, the formats and the versions. */
export function decodeRecord<S extends z.ZodType>(schema: S, key: string, text: string): z.output<S> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new HaRecordError(key, `HA record ${key} is not JSON (${(e as Error).message}); ${REMEDY}`, { cause: e });
  }
  const stamp = z.object({ v: z.unknown(), writer: z.unknown() }).partial().safeParse(raw);
  const v = stamp.success ? stamp.data.v : undefined;
  const writer = stamp.success && typeof stamp.data.writer === "string" ? stamp.data.writer : undefined;
  if (v !== HA_FORMAT) {
    const theirs =
      v === undefined
        ? "no format version (written by Ballast 0.1, before records carried one)"
        : `format ${JSON.stringify(v)} (written by Ballast ${writer ?? "of an unknown version"})`;
    throw new HaRecordError(
      key,
      `HA record ${key} has ${theirs}; this orchestrator, Ballast ${BALLAST_VERSION}, reads format ${HA_FORMAT}. Run one Ballast version on every orchestrator of the bucket; ${REMEDY}`,
    );
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new HaRecordError(
      key,
      `HA record ${key} (format ${HA_FORMAT}, written by Ballast ${writer ?? "?"}) is not valid: ${issue ? `${issue.path.join(".") || "(record)"}: ${issue.message}` : "invalid"}; ${REMEDY}`,
    );
  }
  return parsed.data;
}

const REMEDY =
  "see it with `nats kv get <bucket> <key>`; to start over, stop every orchestrator and delete the bucket (`nats kv rm <bucket>`: pending plans, migration history and maintenance marks are lost)";
