import type { Policy } from "../../shared/config/policy.js";
import type { MigrationEvent } from "../../shared/schemas/agent-api.js";
import type { Heartbeat, HostMetrics } from "../../shared/schemas/host-metrics.js";
import type { AgentFacts } from "../../shared/schemas/facts.js";
import type { Clock } from "./clock.js";
import type { ClusterState } from "./cluster-state.js";
import type { EventHub } from "./event-hub.js";
import type { MigrationReconciler } from "./migration-reconciler.js";

// What the orchestrator does with each agent message once bus-intake.ts has checked it: metrics
// and heartbeats update the cluster state, migration events go to the reconciler. The metrics
// message that completes a host's over-threshold streak raises the early overload signal.
// Facts are kept per host, and a heartbeat whose facts digest differs from the kept one has them
// asked for (facts-refresher.ts).

/** The receiving end of the agents' messages (bus-intake.ts feeds it). */
export interface AgentMessages {
  onMetrics(m: HostMetrics): void;
  onHeartbeat(h: Heartbeat): void;
  onMigrationEvent(ev: MigrationEvent): void;
  /** An agent's facts (optional: receivers that do not use them). */
  onFacts?(f: AgentFacts): void;
  /** A message was dropped (invalid, or naming another host than its subject's); `kind`: the subject's last token. */
  onRejected?(kind: string): void;
}

/** Where facts and new inventories go besides the cluster state. */
export interface FactsIntake {
  /** Facts checked by bus-intake.ts (schema, publisher); returns whether they were kept (not older than those held). */
  ingest(f: AgentFacts, receivedAt: number): boolean;
  /** A heartbeat's facts digest (absent from older agents). */
  heartbeat(host: string, digest: string | undefined): void;
  /** A facts message was refused. */
  rejected(): void;
  /** Facts were kept. */
  kept(host: string): void;
  /** A host's inventory arrived (source disks wait for the destination's). */
  inventory(host: string): void;
}

export interface IntakeDeps {
  state: ClusterState;
  reconciler: MigrationReconciler;
  events: EventHub;
  clock: Clock;
  policy: () => Policy;
  /** The policy whose CPU trigger is in force (the last cycle may have adapted it). */
  trigger: () => Policy;
  facts?: FactsIntake;
}

export class AgentIntake implements AgentMessages {
  constructor(private readonly d: IntakeDeps) {}

  onMetrics(m: HostMetrics): void {
    const { state, clock } = this.d;
    const policy = this.d.policy();
    const hotspots = policy.strategies.includes("hotspot");
    // Judged on the trigger the planner uses now, so an adapted (higher) trigger plans on its own crossing.
    const trigger = this.d.trigger();
    const before = hotspots && state.overloaded(m.host, trigger);
    if (!state.ingestMetrics(m, clock.now(), policy)) return;
    this.d.facts?.inventory(m.host);
    // The sample that completes a host's max_over streak plans at once: waiting for the cycle
    // timer would add up to a whole interval to the reaction (DRS reacts on the metric, not a
    // clock). Only the crossing counts, so a host that stays hot does not plan on every sample.
    if (hotspots && !before && state.overloaded(m.host, trigger)) this.d.events.overloaded(m.host);
  }

  onHeartbeat(h: Heartbeat): void {
    this.d.state.ingestHeartbeat(h, this.d.clock.now());
    this.d.facts?.heartbeat(h.host, h.factsDigest);
  }

  onFacts(f: AgentFacts): void {
    const facts = this.d.facts;
    if (facts?.ingest(f, this.d.clock.now())) facts.kept(f.host);
  }

  onRejected(kind: string): void {
    if (kind === "facts") this.d.facts?.rejected();
  }

  onMigrationEvent(ev: MigrationEvent): void {
    this.d.reconciler.onEvent(ev, this.d.clock.now());
  }
}
