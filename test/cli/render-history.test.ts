import { describe, expect, it } from "vitest";
import { mergeHistory, renderTimeline } from "../../cli/render-history.js";
import type { MigrationRecord } from "../../shared/schemas/migration-record.js";
import type { RecoveryHistoryEntry } from "../../shared/schemas/orchestrator-api.js";

const T = 1_700_000_000_000;

const migration = (vm: string, finishedAt: number): MigrationRecord => ({
  requestId: `m-${vm}`,
  vm,
  source: "hv-a",
  destination: "hv-c",
  strategy: "balance",
  code: "IMBALANCE",
  reason: "imbalance 12.0 > 10",
  memMiB: 2048,
  cpuPercent: 10,
  state: "SUCCEEDED",
  queuedAt: finishedAt - 5000,
  startedAt: finishedAt - 4000,
  finishedAt,
  stats: { durationMs: 3200, downtimeMs: 21, dataTotalBytes: 2 ** 30 },
});

// Newest first, as the orchestrator answers.
const recovery: RecoveryHistoryEntry[] = [
  { kind: "failure", at: T + 9000, host: "hv-b", state: "recovered", failedAt: T + 1000 },
  {
    kind: "restart",
    at: T + 6000,
    host: "hv-b",
    vm: "db-1",
    restart: {
      restart: { vm: "db-1", host: "hv-b", destination: "hv-a", at: T + 6000, epoch: 3 },
      requestId: "r-1",
      outcome: "started",
      detail: "started",
      tries: 1,
      upAt: null,
    },
  },
  { kind: "failure", at: T + 5000, host: "hv-b", state: "fenced", failedAt: T + 1000 },
  { kind: "fence", at: T + 4000, host: "hv-b", attempt: { by: "driver", at: T + 4000, result: "off", readBackAt: T + 4500 } },
  { kind: "fence", at: T + 2000, host: "hv-b", attempt: { by: "driver", at: T + 2000, result: "failed", readBackAt: null, error: "BMC timed out" } },
  { kind: "alert", at: T + 1500, host: "hv-b", vm: null, alert: "fence_failed", code: "FENCE_FAILED", message: "run ballast recover hv-b --confirm-fenced" },
  { kind: "failure", at: T + 1000, host: "hv-b", state: "failed", failedAt: T + 1000 },
];

describe("ballast history", () => {
  it("interleaves migrations and recovery entries newest first, and cuts to the limit", () => {
    const items = mergeHistory([migration("web-2", T + 7000), migration("web-1", T)], recovery, 50);
    expect(items.map((i) => `${i.kind} ${i.at - T}`)).toEqual([
      "failure 9000",
      "migration 7000",
      "restart 6000",
      "failure 5000",
      "fence 4000",
      "fence 2000",
      "alert 1500",
      "failure 1000",
      "migration 0",
    ]);
    expect(mergeHistory([migration("web-2", T + 7000)], recovery, 3).map((i) => i.kind)).toEqual(["failure", "migration", "restart"]);
    // A migration that never finished counts from when it started.
    const ongoing: MigrationRecord = { ...migration("x", T), state: "ONGOING" };
    delete ongoing.finishedAt;
    expect(mergeHistory([ongoing], [], 5)[0]!.at).toBe(T - 4000);
  });

  it("renders one row per entry with what happened, the fence's read-back, the restart's outcome and epoch", () => {
    const text = renderTimeline(mergeHistory([migration("web-2", T + 7000)], recovery, 50));
    const rows = text.split("\n");
    expect(rows[0]).toMatch(/^WHEN\s+KIND\s+VM\s+HOST\s+WHAT$/);
    expect(rows).toHaveLength(2 + 8);
    expect(rows[2]).toMatch(/^2023-11-14 22:13:29Z\s+failure\s+-\s+hv-b\s+RECOVERED: every VM that could be restarted was$/);
    expect(rows[3]).toMatch(/migration\s+web-2\s+hv-a -> hv-c\s+SUCCEEDED in 3\.2s, downtime 21ms: imbalance 12\.0 > 10$/);
    expect(rows[4]).toMatch(/restart\s+db-1\s+hv-b -> hv-a\s+restart started \(epoch 3, 1 try\): started$/);
    expect(rows[5]).toMatch(/failure\s+-\s+hv-b\s+FENCED: known to be off/);
    expect(rows[6]).toMatch(/fence\s+-\s+hv-b\s+hard power-off: off \(read back 2023-11-14 22:13:24Z\)$/);
    expect(rows[7]).toMatch(/fence\s+-\s+hv-b\s+hard power-off: failed: BMC timed out$/);
    expect(rows[8]).toMatch(/alert\s+-\s+hv-b\s+ALERT fence_failed: run ballast recover hv-b --confirm-fenced$/);
    expect(rows[9]).toMatch(/failure\s+-\s+hv-b\s+FAILED: its agent is silent/);
  });

  it("names the operator who confirmed a host off, and says when there is nothing", () => {
    const op: RecoveryHistoryEntry = {
      kind: "fence",
      at: T,
      host: "hv-b",
      attempt: { by: "operator", at: T, result: "off", readBackAt: null, operator: "_INBOX_op-alice" },
    };
    expect(renderTimeline([op])).toContain("confirmed off by _INBOX_op-alice");
    expect(renderTimeline([])).toBe("no history yet");
  });
});
