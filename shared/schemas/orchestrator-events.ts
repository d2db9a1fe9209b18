import { z } from "zod";
import { MigrationRecord } from "./migration-record.js";

// What the orchestrator publishes on ballast.orch.events (`nats sub ballast.orch.events`), and
// hands to its own listeners (metrics, dashboard): one message per migration change and per cycle.

// No .describe() on the two event objects themselves: zod folds the message's intersection into
// plain objects only when its members carry nothing but fields (the reference shows the folded form).

/** A migration changed: its whole record as it is now. */
export const MigrationChanged = z.object({
  type: z.literal("migration").describe("A migration was queued, started, made progress, was put back in the queue, or ended."),
  record: MigrationRecord.describe("The migration's whole record as it is now."),
});

/** A cycle was planned and acted on. */
export const CycleCompleted = z.object({
  type: z
    .literal("cycle")
    .describe("A cycle (periodic, started early by an overloaded host, or asked for with `run`) was planned and acted on per the automation level."),
  planId: z.string().describe("Id of the cycle's plan."),
  moves: z.number().int().min(0).describe("Moves the plan proposed."),
  decisions: z.number().int().min(0).describe("Decisions and non-decisions the plan recorded."),
  queued: z
    .number()
    .int()
    .min(0)
    .describe(
      "Moves queued for dispatch: 0 unless automation is full and the orchestrator is not paused (otherwise the plan waits for approve); VMs already queued or migrating are not queued again.",
    ),
});

export const OrchestratorEvent = z.discriminatedUnion("type", [MigrationChanged, CycleCompleted]);
export type OrchestratorEvent = z.infer<typeof OrchestratorEvent>;

/** The message on the bus: the event with a format version and the orchestrator's time. */
export const OrchestratorEventMessage = z.intersection(
  z.object({
    v: z.literal(1).describe("Format version of the message."),
    ts: z.number().describe("When it was published, ms since the epoch (orchestrator clock)."),
  }),
  OrchestratorEvent,
);
export type OrchestratorEventMessage = z.infer<typeof OrchestratorEventMessage>;
