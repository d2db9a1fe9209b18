import { describe, expect, it, vi } from "vitest";
import type { Inventories } from "../../../orchestrator/shell/migration-reconciler.js";
import { MigrationTracker } from "../../../orchestrator/shell/migration-tracker.js";
import { MoveQueue } from "../../../orchestrator/shell/move-queue.js";
import { RequestId } from "../../../shared/schemas/ids.js";
import type { PlannedMove } from "../../../shared/schemas/plan.js";
import type { VmInfo } from "../../../shared/schemas/vm.js";

// A plan's moves become queued MigrationRecords: never twice for one VM, with the VM's memory and
// CPU as reported now, under request ids the agents accept.

type Located = { host: string; info: VmInfo };

const vmInfo = (name: string, over: Partial<VmInfo> = {}): VmInfo => ({
  name,
  state: "running",
  vcpus: 2,
  memMiB: 4096,
  maxMemMiB: 8192,
  cpuPercent: 37,
  migrating: false,
  ...over,
});

const move = (vm: string, over: Partial<PlannedMove> = {}): PlannedMove => ({
  seq: 0,
  vm,
  source: "a",
  destination: "b",
  strategy: "balance",
  code: "IMBALANCE",
  reason: "a is busier than b",
  numbers: { imbalance: 12.5 },
  costMiB: 1000,
  brokenShouldRules: [],
  ...over,
});

function setup(where: Record<string, Located[]> = {}) {
  const tracker = new MigrationTracker(100);
  const inventories: Pick<Inventories, "locate"> = { locate: (vm) => where[vm] ?? [] };
  return { tracker, queue: new MoveQueue(tracker, inventories) };
}

describe("MoveQueue.enqueue", () => {
  it("queues each move as a PENDING record carrying the move and the plan", () => {
    const { tracker, queue } = setup({ v1: [{ host: "a", info: vmInfo("v1") }] });
    expect(queue.enqueue([move("v1")], "plan-7", 5000)).toBe(1);
    const [r] = tracker.queued();
    expect(r).toMatchObject({
      vm: "v1",
      source: "a",
      destination: "b",
      strategy: "balance",
      code: "IMBALANCE",
      reason: "a is busier than b",
      numbers: { imbalance: 12.5 },
      planId: "plan-7",
      state: "PENDING",
      queuedAt: 5000,
    });
    expect(r?.startedAt).toBeUndefined();
  });

  it("does not queue a VM that is already queued or migrating", () => {
    const { tracker, queue } = setup();
    expect(queue.enqueue([move("v1"), move("v1", { destination: "c" }), move("v2")], "p1", 1)).toBe(2);
    expect(tracker.queued().map((r) => [r.vm, r.destination])).toEqual([
      ["v1", "b"],
      ["v2", "b"],
    ]);
    // v2 starts migrating; neither VM is queued again by a later plan.
    tracker.start(tracker.queued()[1]!, 2);
    expect(queue.enqueue([move("v1"), move("v2"), move("v3")], "p2", 3)).toBe(1);
    expect(tracker.queued().map((r) => r.vm)).toEqual(["v1", "v3"]);
    expect(tracker.ongoing().map((r) => r.vm)).toEqual(["v2"]);
  });

  it("uses the given requestId for a single move only", () => {
    const { tracker, queue } = setup();
    queue.enqueue([move("v1")], "p1", 1, "op-42");
    expect(tracker.queued().map((r) => r.requestId)).toEqual(["op-42"]);

    queue.enqueue([move("v2"), move("v3")], "p2", 1, "op-43");
    const ids = tracker
      .queued()
      .slice(1)
      .map((r) => r.requestId);
    expect(ids).toHaveLength(2);
    expect(ids).not.toContain("op-43");
    expect(new Set(ids).size).toBe(2);
  });

  it("without a requestId, a single move gets a generated one", () => {
    const { tracker, queue } = setup();
    queue.enqueue([move("v1")], "p1", 1);
    expect(tracker.queued()[0]?.requestId).toMatch(/^m-/);
  });

  it("takes memory and CPU from the running copy's report", () => {
    const { tracker, queue } = setup({
      v1: [
        { host: "b", info: vmInfo("v1", { state: "shutoff", memMiB: 1, cpuPercent: 0 }) },
        { host: "a", info: vmInfo("v1", { memMiB: 3072, cpuPercent: 55.5 }) },
      ],
    });
    queue.enqueue([move("v1")], "p", 1);
    expect(tracker.queued()[0]).toMatchObject({ memMiB: 3072, cpuPercent: 55.5 });
  });

  it("takes the first listed copy when none runs", () => {
    const { tracker, queue } = setup({
      v1: [
        { host: "a", info: vmInfo("v1", { state: "paused", memMiB: 1536, cpuPercent: 2 }) },
        { host: "b", info: vmInfo("v1", { state: "shutoff", memMiB: 1, cpuPercent: 0 }) },
      ],
    });
    queue.enqueue([move("v1")], "p", 1);
    expect(tracker.queued()[0]).toMatchObject({ memMiB: 1536, cpuPercent: 2 });
  });

  it("counts CPU 0 when the report has no CPU sample yet", () => {
    const { tracker, queue } = setup({ v1: [{ host: "a", info: vmInfo("v1", { memMiB: 2048, cpuPercent: null }) }] });
    queue.enqueue([move("v1")], "p", 1);
    expect(tracker.queued()[0]).toMatchObject({ memMiB: 2048, cpuPercent: 0 });
  });

  it("falls back to the move's costMiB and CPU 0 when no report lists the VM", () => {
    const { tracker, queue } = setup();
    queue.enqueue([move("v1", { costMiB: 777 })], "p", 1);
    expect(tracker.queued()[0]).toMatchObject({ memMiB: 777, cpuPercent: 0 });
  });

  it("generates valid, distinct RequestIds", () => {
    const { tracker, queue } = setup();
    const moves = Array.from({ length: 500 }, (_, i) => move(`v${i}`));
    // Same instant for all, and a far-future clock: ids stay distinct and within the 64 characters.
    expect(queue.enqueue(moves.slice(0, 250), "p", 1_700_000_000_000)).toBe(250);
    expect(queue.enqueue(moves.slice(250), "p", Number.MAX_SAFE_INTEGER)).toBe(250);
    const ids = tracker.queued().map((r) => r.requestId);
    for (const id of ids) expect(RequestId.safeParse(id).success, id).toBe(true);
    expect(new Set(ids).size).toBe(500);
  });

  it("ids of one instant stay distinct without relying on their random part", () => {
    const random = vi.spyOn(Math, "random").mockReturnValue(0.5);
    try {
      const { tracker, queue } = setup();
      queue.enqueue(
        Array.from({ length: 20 }, (_, i) => move(`v${i}`)),
        "p",
        1000,
      );
      expect(new Set(tracker.queued().map((r) => r.requestId)).size).toBe(20);
    } finally {
      random.mockRestore();
    }
  });

  it("generated ids are unguessable: m-<time>-<16 characters from the cryptographic random source> (issue 14 item 1)", () => {
    // Math.random (predictable, and what the ids used before) must play no part.
    const random = vi.spyOn(Math, "random").mockReturnValue(0.5);
    try {
      const { tracker, queue } = setup();
      queue.enqueue(
        Array.from({ length: 200 }, (_, i) => move(`v${i}`)),
        "p",
        1_700_000_000_000,
      );
      const ids = tracker.queued().map((r) => r.requestId);
      for (const id of ids) expect(id).toMatch(/^m-[0-9a-z]+-[0-9a-v]{16}$/);
      expect(ids[0]!.split("-")[1]).toBe((1_700_000_000_000).toString(36));
      const randomParts = ids.map((id) => id.split("-")[2]!);
      expect(new Set(randomParts).size).toBe(200);
      // Every base32 character turns up: 200 x 16 draws from 32 symbols.
      expect(new Set(randomParts.join("")).size).toBe(32);
    } finally {
      random.mockRestore();
    }
  });
});
