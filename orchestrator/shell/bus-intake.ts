import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { allAgents, hostFromAgentSubject } from "../../shared/subjects.js";
import type { HostMetrics } from "../../shared/schemas/host-metrics.js";
import { Heartbeat } from "../../shared/schemas/host-metrics.js";
import { HostMetricsFast } from "../../shared/schemas/host-metrics-fast.js";
import { MigrationEvent } from "../../shared/schemas/agent-api.js";
import { AgentFacts } from "../../shared/schemas/facts.js";
import { decodeJson } from "../../shared/nats/json.js";
import type { AgentMessages } from "./agent-intake.js";

// Subscribes to every agent. A message that fails its schema, or whose host differs from the
// subject's host token, is dropped and logged: one agent cannot speak for another.
// HostMetrics, the hot message, is checked by its proven-equivalent fast path (zod decides
// whatever the fast path does not accept; shared/schemas/host-metrics-fast.ts).

export function subscribeAgents(nc: NatsConnection, orch: AgentMessages, log: Logger): Subscription[] {
  // Counted per subject kind, not per subject: junk sent to random host tokens must neither grow
  // this map nor get around the log's rate limit.
  const dropped = new Map<string, number>();
  const drop = (subject: string, why: string) => {
    const kind = subject.split(".").at(-1) ?? "?";
    const n = (dropped.get(kind) ?? 0) + 1;
    dropped.set(kind, n);
    if (n <= 10 || n % 1000 === 0) log.warn({ subject, why: why.slice(0, 500), count: n }, "dropped invalid agent message");
    orch.onRejected?.(kind);
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
    sub<HostMetrics>(allAgents.metrics, HostMetricsFast, (m) => orch.onMetrics(m)),
    sub<Heartbeat>(allAgents.heartbeat, Heartbeat, (h) => orch.onHeartbeat(h)),
    sub<MigrationEvent>(allAgents.events, MigrationEvent, (e) => orch.onMigrationEvent(e)),
    ...(orch.onFacts ? [sub<AgentFacts>(allAgents.facts, AgentFacts, (f) => orch.onFacts!(f))] : []),
  ];
}
