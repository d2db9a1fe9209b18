import type { NatsConnection } from "@nats-io/transport-node";
import { z } from "zod";
import { replyOf, type Reply } from "../schemas/envelope.js";
import { BallastError } from "../errors.js";

export const encodeJson = (v: unknown): string => JSON.stringify(v);

/** Decodes and validates a published message; returns undefined (caller logs) when invalid. */
export function decodeJson<S extends z.ZodTypeAny>(schema: S, data: Uint8Array): { ok: true; value: z.infer<S> } | { ok: false; error: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder().decode(data));
  } catch (e) {
    return { ok: false, error: `not JSON: ${(e as Error).message}` };
  }
  const r = schema.safeParse(raw);
  if (!r.success) return { ok: false, error: r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ") };
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
