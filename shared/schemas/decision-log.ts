import { z } from "zod";
import { DecisionCode } from "./decision-codes.js";
import { PlanMode } from "./plan.js";

// The decision log replicated between HA orchestrators: the leader publishes each recorded plan's
// decisions to the JetStream stream `<bucket>-decisions`; every other instance (and a restarted
// one) reads them back, so the instance that takes over can still explain earlier cycles.

export const LoggedDecision = z
  .object({
    cycle: z
      .number()
      .int()
      .min(1)
      .describe(
        "Number of the recorded plan in the decision log: it counts periodic cycles and the plans of operator migrate and evacuate alike (status.cycle is the newest); with HA it follows the leader's numbering.",
      ),
    ts: z.number().describe("When the plan was recorded, ms since the epoch (orchestrator clock)."),
    planId: z.string().describe("Id of the plan the line comes from."),
    mode: PlanMode.describe("Mode of that plan."),
    kind: z.enum(["move", "vm", "host", "cluster"]).describe("move: a planned move; vm, host, cluster: a decision of that kind (see Decision.kind)."),
    subject: z.string().describe('What it is about: the VM name (move, vm), the host id (host), or "cluster".'),
    vm: z
      .string()
      .optional()
      .describe("The VM concerned: the moved VM, the VM of a vm decision, or the VM being placed when a host was rejected; absent otherwise."),
    host: z.string().optional().describe("The host concerned: a move's source, or the host of a host decision; absent otherwise."),
    code: DecisionCode.describe("Decision code; for a move, the reason of the move (HOST_OVERLOADED, IMBALANCE, CONSOLIDATE, EVACUATE or MANUAL)."),
    message: z.string().describe("One sentence a person can read: the move's reason or the decision's message."),
    numbers: z.record(z.string(), z.unknown()).describe("The figures behind it, by name; for a move, its numbers plus `destination`."),
  })
  .describe("One line of the decision log: a planned move or a decision, with the recorded plan it came from.");
export type LoggedDecision = z.infer<typeof LoggedDecision>;

/** One stream message: part (or all) of the decisions of one recorded plan. */
export const DecisionLogMessage = z
  .object({
    v: z.literal(1).describe("Format version of the message."),
    instance: z.string().max(64).describe("Instance name of the publishing orchestrator (information only; a restarted instance keeps its name)."),
    // Random per process start: an instance skips its own messages, not a predecessor's of the same name.
    session: z.string().min(1).max(64).describe("Random id of the publishing process, new at every start: an instance skips the messages of its own session."),
    cycle: z.number().int().min(1).describe("Number of the recorded plan (LoggedDecision.cycle); the readers' counters follow it."),
    entries: z
      .array(LoggedDecision)
      .describe("The plan's lines, or a part of them (a plan's lines are split to keep messages under 512 KiB); empty for a plan without any."),
  })
  .strict();
export type DecisionLogMessage = z.infer<typeof DecisionLogMessage>;
