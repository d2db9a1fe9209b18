import { describe, expect, it } from "vitest";
import { DecisionLog, type RecordedDecisions } from "../../../orchestrator/shell/decision-log.js";
import { DecisionLogMessage } from "../../../shared/schemas/decision-log.js";
import type { Plan } from "../../../shared/schemas/plan.js";

const plan = (id: string, vm: string): Plan =>
  ({
    id,
    mode: "cycle",
    moves: [{ vm, source: "a", destination: "b", strategy: "balance", code: "IMBALANCE", reason: "a is hot", numbers: { load: 90 }, costMiB: 1024 }],
    decisions: [{ kind: "host", subject: "c", code: "DEST_CPU", message: "c is too busy" }],
  }) as unknown as Plan;

describe("DecisionLog replication", () => {
  it("hands each recorded plan to listeners, in the shape of the replicated message", () => {
    const log = new DecisionLog(100);
    const seen: RecordedDecisions[] = [];
    log.onRecord((r) => seen.push(r));
    log.record(plan("p-1", "web-1"), 1000);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.cycle).toBe(1);
    expect(seen[0]!.entries.map((e) => [e.kind, e.subject, e.vm, e.host])).toEqual([
      ["move", "web-1", "web-1", "a"],
      ["host", "c", undefined, "c"],
    ]);
    expect(DecisionLogMessage.safeParse({ v: 1, instance: "x", session: "s", cycle: 1, entries: JSON.parse(JSON.stringify(seen[0]!.entries)) }).success).toBe(
      true,
    );
  });

  it("replayed decisions are queryable, and cycles continue after the replayed ones", () => {
    const leader = new DecisionLog(100);
    const standby = new DecisionLog(100);
    const heard: RecordedDecisions[] = [];
    standby.onRecord((r) => heard.push(r));
    leader.onRecord((r) => standby.replay(r));
    leader.record(plan("p-1", "web-1"), 1000);
    leader.record(plan("p-2", "web-2"), 2000);
    expect(heard).toEqual([]); // a replay is not a new record: it is not published again
    expect(standby.cycle).toBe(2);
    expect(standby.query({ vm: "web-2", limit: 10 }).map((e) => e.planId)).toEqual(["p-2"]);
    expect(standby.record(plan("p-3", "web-1"), 3000)).toBe(3);
    expect(standby.query({ vm: "web-1", limit: 10, sinceCycle: 1 }).map((e) => [e.planId, e.cycle])).toEqual([
      ["p-3", 3],
      ["p-1", 1],
    ]);
  });
});
