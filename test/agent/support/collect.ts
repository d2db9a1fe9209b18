import type { NatsConnection, Subscription } from "@nats-io/transport-node";

/** Collects the messages of a subject, each validated by a schema. */
export function collect<T>(nc: NatsConnection, subject: string, schema: { parse(v: unknown): T }): { got: T[]; sub: Subscription } {
  const got: T[] = [];
  const sub = nc.subscribe(subject, { callback: (_e, m) => void got.push(schema.parse(m.json())) });
  return { got, sub };
}

/** Resolves once `cond` holds, polling every 20 ms; rejects after `ms`. */
export async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}
