import { z } from "zod";

/**
 * Machine-readable error codes of every reply, and what each means (docs/api.md is generated from
 * ERROR_CODE_HELP). A client decides on the code; the message is for people.
 */
export const ERROR_CODE_HELP = {
  BAD_JSON: "The request body is not JSON.",
  BAD_REQUEST:
    "The request does not match the endpoint's schema (the message names the field), or its body is larger than 64 KiB (details: bytes, limitBytes). Nothing was done.",
  UNKNOWN_VM: "No agent reports a VM of that name (or, for abort, no migration of it runs).",
  UNKNOWN_HOST: "No agent has reported that host.",
  UNKNOWN_PLAN:
    "No pending plan has that id; the message and details.fate say what became of it when that is remembered: expired (plan_ttl), approved, cancelled (with why), dropped to make room, replaced by an identical newer plan, or unknown (never proposed here).",
  VM_NOT_RUNNING: "The VM exists but is not running, so it cannot be live-migrated.",
  NOT_MIGRATABLE:
    "The VM's facts rule out every live migration (host devices, vhost-user, a local read-only image, ...); details.reasons lists each with its code. Nothing was done.",
  LOCAL_DISKS:
    "The VM has local disks (details.disks) and the request did not allow copying them (copyStorage); nothing was done. Send copyStorage: true to move them with the VM.",
  VM_STILL_DEFINED: "remove-disks: the VM is still defined (or listed) on this host, so its disk files are in use or may be; nothing was removed.",
  SAME_HOST: "The destination is the host the VM already runs on.",
  ALREADY_MIGRATING: "The VM is already queued or migrating.",
  IDEMPOTENCY_CONFLICT: "The request id was used before for a different request: a request id names one request; send a new id for a new one.",
  BUSY: "The agent already runs as many outgoing migrations as it may (migration.max_concurrent); retry later.",
  NO_DESTINATION: "No host may take the VM now, or the host cannot be drained; details list each refusal with its code.",
  PAUSED: "The orchestrator is paused; resume it first.",
  NOT_LEADER: "This orchestrator is a standby; details.leader names the leader to send commands to.",
  NO_LEADER: "No orchestrator leads right now (an election is under way), or the leader did not answer a forwarded request; retry after a lease period.",
  STALE_EPOCH: "The command carries a leadership epoch older than the newest the agent has seen: it comes from a deposed leader.",
  PLAN_EXPIRED:
    "The plan was cancelled when approved: the cluster drifted since it was made (a VM it moves is no longer where the plan found it), or an evacuation plan no longer drains its host (details.missing: VMs it has no move for).",
  TIMEOUT: "No answer within the request timeout (raised by the requesting side).",
  HYPERVISOR_ERROR: "libvirt (virsh) failed; the message carries libvirt's own words.",
  POWER_ERROR: "A host's power interface (IPMI, Redfish, Wake-on-LAN/SSH, command) failed or refused; the message says which host, which call and why.",
  INTERNAL: "A bug or an unexpected failure; the message says where.",
  NO_RESPONDERS:
    "Nobody serves the request's subject (NATS answered at once): the service is not running or not connected to this NATS server (raised by the requesting side).",
} as const;

export const ErrorCode = z.enum(Object.keys(ERROR_CODE_HELP) as [keyof typeof ERROR_CODE_HELP, ...(keyof typeof ERROR_CODE_HELP)[]]);
export type ErrorCode = z.infer<typeof ErrorCode>;

export const ErrorBody = z.object({
  code: ErrorCode,
  message: z.string(),
  details: z.unknown().optional(),
});
export type ErrorBody = z.infer<typeof ErrorBody>;

export type Ok<T> = { ok: true; data: T };
export type Err = { ok: false; error: ErrorBody };
export type Reply<T> = Ok<T> | Err;

export const ok = <T>(data: T): Ok<T> => ({ ok: true, data });
export const err = (code: ErrorCode, message: string, details?: unknown): Err => ({
  ok: false,
  error: details === undefined ? { code, message } : { code, message, details },
});

/** Schema of a reply envelope around a given data schema (used by clients to validate answers). */
export const replyOf = <T extends z.ZodTypeAny>(data: T) =>
  z.discriminatedUnion("ok", [z.object({ ok: z.literal(true), data }), z.object({ ok: z.literal(false), error: ErrorBody })]);
