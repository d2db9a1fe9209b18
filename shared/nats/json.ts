import type { NatsConnection } from "@nats-io/transport-node";
import { z } from "zod";
import { replyOf, type Reply } from "../schemas/envelope.js";
import { BallastError } from "../errors.js";

export const encodeJson = (v: unknown): string => JSON.stringify(v);

/** Published messages larger than this are dropped unparsed (a metrics message of 2,000 VMs is ~400 KiB). */
export const MAX_MESSAGE_BYTES = 1024 * 1024;

/** At most this many validation issues are spelled out: junk can produce millions. */
const MAX_ISSUES = 5;

// One decoder for every message (decode() without stream is stateless); not one per message.
const utf8 = new TextDecoder();

/** Decodes and validates a published message; the error (caller logs it) is short and bounded. */
export function decodeJson<S extends z.ZodTypeAny>(schema: S, data: Uint8Array, maxBytes = MAX_MESSAGE_BYTES): { ok: true; value: z.infer<S> } | { ok: false; error: string } {
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

/** Sends a JSON request and validates the envelope (and data, when a schema is given). */
export async function requestJson<T>(
  nc: NatsConnection,
  subject: string,
  body: unknown,
  opts: { timeoutMs: number; data?: z.ZodType<T> },
): Promise<Reply<T>> {
  let m;
  try {
    m = await nc.request(subject, JSON.stringify(body ?? {}), { timeout: opts.timeoutMs });
  } catch (e) {
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
