import type { NatsConnection } from "@nats-io/transport-node";

// Ending a NATS connection whatever the server does. nats.js v3 (measured with 3.4): drain() on
// a connection that is reconnecting rejects ("connection disconnected") once the next dial
// fails and leaves the connection reconnecting forever, and its reconnect timers keep the Node
// process alive; against a server that accepts TCP and never answers it waits for the dial's
// own time-out (20 s). close() always ends it at once, also while reconnecting.

/** Waits for `p` at most `ms`; never rejects (a stop goes on whatever one step does). */
export async function within(p: Promise<unknown>, ms: number): Promise<"done" | "late"> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p.then(
        () => "done" as const,
        () => "done" as const,
      ),
      new Promise<"late">((resolve) => {
        timer = setTimeout(() => resolve("late"), Math.max(0, ms));
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Drains `nc` (pending publishes flushed, subscriptions ended) if that finishes within `ms`, then
 * closes it in any case. "drained": everything published before reached the server.
 */
export async function drainThenClose(nc: NatsConnection, ms: number): Promise<"drained" | "closed"> {
  let drained = false;
  if (!nc.isClosed() && !nc.isDraining()) {
    drained = (await within(nc.drain(), ms)) === "done" && nc.isClosed();
  }
  await nc.close().catch(() => undefined);
  return drained ? "drained" : "closed";
}
