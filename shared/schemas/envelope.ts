import { z } from "zod";

/** Machine-readable error codes of every reply. */
export const ErrorCode = z.enum([
  "BAD_JSON",
  "BAD_REQUEST",
  "UNKNOWN_VM",
  "UNKNOWN_HOST",
  "UNKNOWN_PLAN",
  "VM_NOT_RUNNING",
  "SAME_HOST",
  "ALREADY_MIGRATING",
  "BUSY",
  "NO_DESTINATION",
  "NOT_ALLOWED",
  "PAUSED",
  "NOT_LEADER",
  "NO_LEADER",
  "STALE_EPOCH",
  "PLAN_EXPIRED",
  "TIMEOUT",
  "MIGRATION_FAILED",
  "HYPERVISOR_ERROR",
  "INTERNAL",
  // Nobody serves the subject of a request (NATS answered "no responders" at once): the service
  // is not running or not connected to this NATS server. Raised on the requesting side.
  "NO_RESPONDERS",
]);
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
  z.discriminatedUnion("ok", [
    z.object({ ok: z.literal(true), data }),
    z.object({ ok: z.literal(false), error: ErrorBody }),
  ]);
