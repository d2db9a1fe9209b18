import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { allAgents, hostFromAgentSubject } from "../../shared/subjects.js";
import { HostMetrics, Heartbeat } from "../../shared/schemas/host-metrics.js";
import { MigrationEvent } from "../../shared/schemas/agent-api.js";
import { decodeJson } from "../../shared/nats/json.js";
import type { Orchestrator } from "./orchestrator.js";

// Subscribes to every agent. A message that fails its schema, or whose host differs from the
// subject's host token, is dropped and logged: one agent cannot speak for another.

export function subscribeAgents(nc: NatsConnection, orch: Orchestrator, log: Logger): Subscription[] {
  const dropped = new Map<string, number>();
  const drop = (subject: string, why: string) => {
    const n = (dropped.get(subject) ?? 0) + 1;
    dropped.set(subject, n);
    // Rate-limit the log: a broken agent should not flood the journal.
    if (n === 1 || n % 100 === 0) log.warn({ subject, why, count: n }, "dropped invalid agent message");
  };
  const sub = <T>(subject: string, schema: { safeParse: (v: unknown) => unknown }, on: (v: T) => void): Subscription =>
    nc.subscribe(subject, {
      callback: (_e, msg) => {
        const d = decodeJson(schema as never, msg.data);
        if (!d.ok) return drop(msg.subject, d.error);
        const v = d.value as T & { host?: string; source?: string };
        const owner = hostFromAgentSubject(msg.subject);
        const claimed = v.host ?? v.source;
        if (owner === undefined || claimed !== owner) return drop(msg.subject, `message names host ${String(claimed)} but was published on ${msg.subject}`);
        try {
          on(v);
        } catch (e) {
          log.error({ subject: msg.subject, err: e }, "agent message handler failed");
        }
      },
    });
  return [
    sub<HostMetrics>(allAgents.metrics, HostMetrics, (m) => orch.onMetrics(m)),
    sub<Heartbeat>(allAgents.heartbeat, Heartbeat, (h) => orch.onHeartbeat(h)),
    sub<MigrationEvent>(allAgents.events, MigrationEvent, (e) => orch.onMigrationEvent(e)),
  ];
}
