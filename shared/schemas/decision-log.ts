import { z } from "zod";
import { DecisionCode } from "./decision-codes.js";
import { PlanMode } from "./plan.js";

// The decision log replicated between HA orchestrators: the leader publishes each recorded plan's
// decisions to the JetStream stream `<bucket>-decisions`; every other instance (and a restarted
// one) reads them back, so the instance that takes over can still explain earlier cycles.

/** One line of the decision log: a planned move or a non-decision, with the cycle it came from. */
export const LoggedDecision = z.object({
  cycle: z.number().int().min(1),
  ts: z.number(),
  planId: z.string(),
  mode: PlanMode,
  kind: z.enum(["move", "vm", "host", "cluster"]),
  subject: z.string(),
  vm: z.string().optional(),
  host: z.string().optional(),
  code: DecisionCode,
  message: z.string(),
  numbers: z.record(z.string(), z.unknown()),
});
export type LoggedDecision = z.infer<typeof LoggedDecision>;

/** One stream message: part (or all) of the decisions of one recorded plan. */
export const DecisionLogMessage = z
  .object({
    v: z.literal(1),
    /** Instance name of the publisher (information; a restarted instance keeps its name). */
    instance: z.string().max(64),
    /** Random per process start: an instance skips its own messages, not a predecessor's of the same name. */
    session: z.string().min(1).max(64),
    cycle: z.number().int().min(1),
    entries: z.array(LoggedDecision),
  })
  .strict();
export type DecisionLogMessage = z.infer<typeof DecisionLogMessage>;
