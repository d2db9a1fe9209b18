import { z } from "zod";
import { MigrationRecord } from "./migration-record.js";

// What the orchestrator publishes on ballast.orch.events (`nats sub ballast.orch.events`), and
// hands to its own listeners (metrics, dashboard): one message per migration change and per cycle.

/** A migration was queued, started, made progress, or ended: its whole record as it is now. */
export const MigrationChanged = z.object({
  type: z.literal("migration"),
  record: MigrationRecord,
});

/** A periodic (or `run`) cycle was planned and acted on per the automation level. */
export const CycleCompleted = z.object({
  type: z.literal("cycle"),
  planId: z.string(),
  /** Moves the plan proposed. */
  moves: z.number().int().min(0),
  /** Decisions and non-decisions the plan recorded. */
  decisions: z.number().int().min(0),
  /** Moves queued for dispatch (0 unless automation is full and the orchestrator is not paused). */
  queued: z.number().int().min(0),
});

export const OrchestratorEvent = z.discriminatedUnion("type", [MigrationChanged, CycleCompleted]);
export type OrchestratorEvent = z.infer<typeof OrchestratorEvent>;

/** The message on the bus: the event with a format version and the orchestrator's time (ms). */
export const OrchestratorEventMessage = z.intersection(z.object({ v: z.literal(1), ts: z.number() }), OrchestratorEvent);
export type OrchestratorEventMessage = z.infer<typeof OrchestratorEventMessage>;
