import { errors, type NatsConnection } from "@nats-io/transport-node";
import { z } from "zod";
import { replyOf, type Reply } from "../schemas/envelope.js";
import { BallastError, NoRespondersError, TimeoutError } from "../errors.js";
import { hostFromAgentSubject, ORCH_INSTANCE_PREFIX, SUBJECT_PREFIX } from "../subjects.js";

/** Published messages larger than this are dropped unparsed (a metrics message of 2,000 VMs is ~400 KiB). */
export const MAX_MESSAGE_BYTES = 1024 * 1024;

/** At most this many validation issues are spelled out: junk can produce millions. */
const MAX_ISSUES = 5;

// One decoder for every message (decode() without stream is stateless); not one per message.
const utf8 = new TextDecoder();

/** Decodes and validates a published message; the error (caller logs it) is short and bounded. */
export function decodeJson<S extends z.ZodTypeAny>(
  schema: S,
  data: Uint8Array,
  maxBytes = MAX_MESSAGE_BYTES,
): { ok: true; value: z.infer<S> } | { ok: false; error: string } {
  if (data.length > maxBytes) return { ok: false, error: `message of ${data.length} bytes exceeds the limit of ${maxBytes}` };
  let raw: unknown;
  try {
    raw = JSON.parse(utf8.decode(data));
  } catch (e) {
    return { ok: false, error: `not JSON: ${(e as Error).message}` };
  }
  const r = schema.safeParse(raw);
  if (!r.success) return { ok: false, error: describeIssues(r.error.issues) };
  return { ok: true, value: r.data };
}

/**
 * Sends a JSON request and validates the envelope (and data, when a schema is given).
 * Throws NoRespondersError (NO_RESPONDERS) at once when nobody serves the subject, TimeoutError
 * (TIMEOUT) when nobody answered within `timeoutMs`, BAD_REQUEST when the body is over the
 * server's max_payload (never sent), and a BallastError TIMEOUT naming the cause on any other
 * failure of the request (connection closed or draining).
 */
export async function requestJson<T>(
  nc: NatsConnection,
  subject: string,
  body: unknown,
  opts: {
    timeoutMs: number;
    data?: z.ZodType<T>;
    /** Who should serve the subject, for the no-responders message; default derived from the subject. */
    service?: string;
  },
): Promise<Reply<T>> {
  let m;
  try {
    m = await nc.request(subject, JSON.stringify(body ?? {}), { timeout: opts.timeoutMs });
  } catch (e) {
    if (isNoResponders(e)) {
      const service = opts.service ?? serviceOf(subject);
      throw new NoRespondersError(subject, `nobody serves ${subject} (no responders): is the ${service} running and connected to this NATS server?`, {
        cause: e,
      });
    }
    if (e instanceof errors.TimeoutError) throw new TimeoutError(`no answer on ${subject} within ${opts.timeoutMs} ms`, { cause: e });
    // The client refuses, before sending, a body over the server's max_payload: nothing was sent.
    if (e instanceof errors.InvalidArgumentError && /max_payload/.test(e.message))
      throw new BallastError("BAD_REQUEST", `request on ${subject} not sent: its body exceeds the NATS server's max_payload (${e.message})`, { cause: e });
    throw new BallastError("TIMEOUT", `no answer on ${subject} within ${opts.timeoutMs} ms: ${(e as Error).message}`, { cause: e });
  }
  const decoded = decodeJson(replyOf((opts.data ?? z.unknown()) as z.ZodTypeAny), m.data);
  if (!decoded.ok) throw new BallastError("INTERNAL", `malformed reply on ${subject}: ${decoded.error}`);
  return decoded.value as Reply<T>;
}

/** "path: message; ..." for the first few issues, and how many more there were. */
export function describeIssues(issues: readonly { path: PropertyKey[]; message: string }[]): string {
  const shown = issues.slice(0, MAX_ISSUES).map((i) => `${i.path.length ? i.path.map(String).join(".") : "(body)"}: ${i.message}`);
  return issues.length > MAX_ISSUES ? `${shown.join("; ")}; and ${issues.length - MAX_ISSUES} more issue(s)` : shown.join("; ");
}

/**
 * Whether a failed request found nobody serving its subject. nats.js v3 (@nats-io/nats-core 3.x)
 * turns the server's immediate 503 status reply into a RequestError whose `cause` is a
 * NoRespondersError (`RequestError.isNoResponders()`); a request that simply got no answer in time
 * fails with a TimeoutError instead. The cause chain is also checked by name, in case a second
 * copy of nats-core made the error classes differ.
 */
export function isNoResponders(e: unknown): boolean {
  if (e instanceof errors.RequestError && e.isNoResponders()) return true;
  for (let c: unknown = e, depth = 0; c instanceof Error && depth < 4; c = c.cause, depth++) {
    if (c instanceof errors.NoRespondersError || c.name === "NoResponders") return true;
  }
  return false;
}

/** The Ballast service expected to serve a subject, for error messages. */
function serviceOf(subject: string): string {
  const host = hostFromAgentSubject(subject);
  if (host !== undefined) return `Ballast agent of ${host}`;
  if (subject.startsWith(`${ORCH_INSTANCE_PREFIX}.`)) return `Ballast orchestrator ${subject.slice(ORCH_INSTANCE_PREFIX.length + 1).split(".")[0]}`;
  if (subject.startsWith(`${SUBJECT_PREFIX}.orch.`)) return "Ballast orchestrator";
  return "service";
}
