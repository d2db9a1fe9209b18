import { describe, expect, it } from "vitest";
import { MigrationReconciler, type Inventories } from "../../../orchestrator/shell/migration-reconciler.js";
import { MigrationTracker } from "../../../orchestrator/shell/migration-tracker.js";
import { silentLogger } from "../../../shared/logger.js";
import type { MigrationEvent } from "../../../shared/schemas/agent-api.js";
import type { MigrationRecord } from "../../../shared/schemas/migration-record.js";
import type { VmInfo } from "../../../shared/schemas/vm.js";

// Agent migration events applied to a real MigrationTracker, outcomes of untracked migrations kept
// for adopt, and reconcile(now) settling migrations from what a small fake of the inventories says.

const TIMEOUT_S = 60;
const T0 = 1_000_000; // when the migrations below started

class FakeInventories implements Inventories {
  readonly where = new Map<string, { host: string; info: VmInfo }[]>();
  readonly started = new Map<string, number>();

  /** Lists `vm` on `host` (replacing what was listed there). */
  place(vm: string, host: string, state: VmInfo["state"] = "running", migrating = false): this {
    const info: VmInfo = { name: vm, state, vcpus: 2, memMiB: 2048, maxMemMiB: 2048, cpuPercent: 10, migrating };
    this.where.set(vm, [...(this.where.get(vm) ?? []).filter((l) => l.host !== host), { host, info }]);
    return this;
  }

  locate(vm: string): { host: string; info: VmInfo }[] {
    return this.where.get(vm) ?? [];
  }

  agentStartedAt(host: string): number | undefined {
    return this.started.get(host);
  }
}

const rec = (id: string, vm: string, over: Partial<MigrationRecord> = {}): MigrationRecord => ({
  requestId: id,
  vm,
  source: "a",
  destination: "b",
  strategy: "hotspot",
  code: "HOST_OVERLOADED",
  reason: "a is hot",
  state: "PENDING",
  queuedAt: T0 - 500,
  memMiB: 2048,
  cpuPercent: 10,
  ...over,
});

const ev = (type: MigrationEvent["type"], requestId: string, vm: string, extra: Partial<MigrationEvent> = {}): MigrationEvent => ({
  v: 1,
  type,
  ts: 1,
  requestId,
  vm,
  source: "a",
  destination: "b",
  ...extra,
});

function setup() {
  const tracker = new MigrationTracker(100);
  const inventories = new FakeInventories();
  const finished: MigrationRecord[] = [];
  const reconciler = new MigrationReconciler({
    tracker,
    inventories,
    migrationTimeoutS: TIMEOUT_S,
    log: silentLogger(),
    onFinished: (r) => void finished.push(r),
  });
  /** A migration this instance queued and started at T0. */
  const running = (id: string, vm: string): MigrationRecord => {
    const r = rec(id, vm);
    tracker.enqueue(r);
    tracker.start(r, T0);
    return r;
  };
  return { tracker, inventories, reconciler, finished, running };
}

/** The state the tracker gives the migration now (queued, ongoing or from history). */
function stateOf(t: MigrationTracker, id: string): MigrationRecord | undefined {
  return t.get(id) ?? t.history({ limit: 1000 }).find((r) => r.requestId === id);
}

describe("MigrationReconciler.onEvent", () => {
  it("applies a tracked migration's events; onFinished once when it ends", () => {
    const { tracker, reconciler, finished, running } = setup();
    running("r1", "vm1");
    reconciler.onEvent(ev("migration.started", "r1", "vm1"), T0 + 10);
    reconciler.onEvent(ev("migration.progress", "r1", "vm1", { progress: 40 }), T0 + 20);
    expect(stateOf(tracker, "r1")).toMatchObject({ state: "ONGOING", progress: 40 });
    expect(finished).toEqual([]);

    reconciler.onEvent(ev("migration.succeeded", "r1", "vm1", { stats: { durationMs: 900, downtimeMs: 12, dataTotalBytes: 1e8 } }), T0 + 30);
    expect(stateOf(tracker, "r1")).toMatchObject({ state: "SUCCEEDED", finishedAt: T0 + 30, stats: { downtimeMs: 12 } });
    expect(finished.map((r) => [r.requestId, r.state])).toEqual([["r1", "SUCCEEDED"]]);

    // A repeated outcome (an agent publishing twice) does not finish it again.
    reconciler.onEvent(ev("migration.succeeded", "r1", "vm1"), T0 + 40);
    expect(finished).toHaveLength(1);
  });

  it.each([
    ["migration.failed", "FAILED", "libvirt: connection refused"],
    ["migration.aborted", "CANCELLED", "aborted by operator"],
  ] as const)("%s ends the migration as %s with the agent's error text", (type, state, error) => {
    const { tracker, reconciler, finished, running } = setup();
    running("r1", "vm1");
    reconciler.onEvent(ev(type, "r1", "vm1", { error }), T0 + 5);
    expect(stateOf(tracker, "r1")).toMatchObject({ state, error });
    expect(finished.map((r) => r.requestId)).toEqual(["r1"]);
  });

  it("onFinished is called once per finished record, for each of several migrations", () => {
    const { reconciler, finished, running } = setup();
    running("r1", "vm1");
    running("r2", "vm2");
    reconciler.onEvent(ev("migration.failed", "r2", "vm2"), T0 + 1);
    reconciler.onEvent(ev("migration.succeeded", "r1", "vm1"), T0 + 2);
    reconciler.onEvent(ev("migration.failed", "r2", "vm2"), T0 + 3);
    expect(finished.map((r) => [r.requestId, r.state])).toEqual([
      ["r2", "FAILED"],
      ["r1", "SUCCEEDED"],
    ]);
  });

  it("an outcome for an untracked migration changes nothing and finishes nothing", () => {
    const { tracker, reconciler, finished } = setup();
    reconciler.onEvent(ev("migration.succeeded", "elsewhere", "vm1"), T0);
    expect(tracker.ongoing()).toEqual([]);
    expect(tracker.history({ limit: 10 })).toEqual([]);
    expect(finished).toEqual([]);
  });
});

describe("MigrationReconciler.adopt", () => {
  it("applies an outcome seen while the migration was not tracked", () => {
    const { tracker, reconciler } = setup();
    reconciler.onEvent(ev("migration.succeeded", "r1", "vm1", { stats: { durationMs: 1, downtimeMs: 7, dataTotalBytes: 1 } }), T0 + 100);
    reconciler.adopt([rec("r1", "vm1", { state: "ONGOING", startedAt: T0 })], T0 + 200);
    expect(tracker.ongoing()).toEqual([]);
    expect(stateOf(tracker, "r1")).toMatchObject({ state: "SUCCEEDED", finishedAt: T0 + 200, stats: { downtimeMs: 7 } });
  });

  it("applies a kept failure with its error", () => {
    const { tracker, reconciler } = setup();
    reconciler.onEvent(ev("migration.failed", "r1", "vm1", { error: "disk full" }), T0);
    reconciler.adopt([rec("r1", "vm1", { state: "ONGOING", startedAt: T0 })], T0 + 1);
    expect(stateOf(tracker, "r1")).toMatchObject({ state: "FAILED", error: "disk full" });
  });

  it("does not keep started or progress events (a later one never replaces a kept outcome)", () => {
    const { tracker, reconciler } = setup();
    reconciler.onEvent(ev("migration.progress", "r1", "vm1", { progress: 55 }), T0);
    reconciler.onEvent(ev("migration.succeeded", "r2", "vm2"), T0);
    reconciler.onEvent(ev("migration.progress", "r2", "vm2", { progress: 99 }), T0);
    reconciler.onEvent(ev("migration.started", "r2", "vm2"), T0);
    reconciler.adopt([rec("r1", "vm1", { state: "ONGOING", startedAt: T0 }), rec("r2", "vm2", { state: "ONGOING", startedAt: T0 })], T0 + 1);
    const r1 = stateOf(tracker, "r1");
    expect(r1?.state).toBe("ONGOING");
    expect(r1?.progress).toBeUndefined();
    expect(stateOf(tracker, "r2")?.state).toBe("SUCCEEDED");
  });

  it("replaces what the tracker held, and forgets kept outcomes once adopted", () => {
    const { tracker, reconciler, running } = setup();
    running("mine", "vm0");
    reconciler.onEvent(ev("migration.succeeded", "r1", "vm1"), T0);
    reconciler.adopt([], T0 + 1);
    expect(tracker.ongoing()).toEqual([]);
    reconciler.adopt([rec("r1", "vm1", { state: "ONGOING", startedAt: T0 })], T0 + 2);
    expect(stateOf(tracker, "r1")?.state).toBe("ONGOING");
  });
});

describe("MigrationReconciler.reconcile: adopted migrations", () => {
  const adopted = () => {
    const s = setup();
    s.reconciler.adopt([rec("r1", "vm1", { state: "ONGOING", startedAt: T0 })], T0 + 1000);
    return s;
  };
  const now = T0 + 2000; // neither timed out nor restarted

  it("settles as SUCCEEDED when the VM runs on the destination only, not migrating", () => {
    const { tracker, inventories, reconciler } = adopted();
    inventories.place("vm1", "b");
    reconciler.reconcile(now);
    expect(stateOf(tracker, "r1")).toMatchObject({
      state: "SUCCEEDED",
      finishedAt: now,
      error: "outcome taken from inventories: the migration finished while leadership changed",
    });
  });

  it.each([
    ["the VM is still on the source", (i: FakeInventories) => i.place("vm1", "a")],
    ["the VM runs on both hosts", (i: FakeInventories) => i.place("vm1", "a").place("vm1", "b")],
    ["the running copy on the destination is still migrating", (i: FakeInventories) => i.place("vm1", "b", "running", true)],
    [
      "the source copy runs and an incoming copy waits on the destination",
      (i: FakeInventories) => i.place("vm1", "a", "running", true).place("vm1", "b", "paused"),
    ],
    ["the VM is listed nowhere", (_i: FakeInventories) => undefined],
  ])("leaves it ONGOING when %s", (_what, arrange) => {
    const { tracker, inventories, reconciler } = adopted();
    arrange(inventories);
    reconciler.reconcile(now);
    expect(stateOf(tracker, "r1")?.state).toBe("ONGOING");
  });

  it("settles a success found later, once", () => {
    const { tracker, inventories, reconciler } = adopted();
    inventories.place("vm1", "a", "running", true);
    reconciler.reconcile(now);
    expect(stateOf(tracker, "r1")?.state).toBe("ONGOING");
    inventories.where.clear();
    inventories.place("vm1", "b");
    reconciler.reconcile(now + 1000);
    expect(stateOf(tracker, "r1")).toMatchObject({ state: "SUCCEEDED", finishedAt: now + 1000 });
    reconciler.reconcile(now + 2000);
    expect(tracker.history({ limit: 10 }).filter((r) => r.requestId === "r1")).toHaveLength(1);
  });

  it("an adopted migration whose event arrives is no longer settled from the inventories", () => {
    const { tracker, inventories, reconciler } = adopted();
    reconciler.onEvent(ev("migration.failed", "r1", "vm1", { error: "boom" }), now);
    inventories.place("vm1", "b");
    reconciler.reconcile(now + 1);
    expect(stateOf(tracker, "r1")).toMatchObject({ state: "FAILED", error: "boom" });
  });
});

describe("MigrationReconciler.reconcile: restarted source agent", () => {
  const now = T0 + 5000; // well inside the time-out

  it("leaves alone a migration whose agents did not restart and that is not timed out", () => {
    const { tracker, inventories, reconciler, running } = setup();
    running("r1", "vm1");
    inventories.place("vm1", "b");
    inventories.started.set("a", T0); // started exactly when the migration did: not after
    reconciler.reconcile(now);
    expect(stateOf(tracker, "r1")?.state).toBe("ONGOING");
  });

  it("SUCCEEDED when the VM now runs on the destination", () => {
    const { tracker, inventories, reconciler, running } = setup();
    running("r1", "vm1");
    inventories.started.set("a", T0 + 1);
    inventories.place("vm1", "b");
    reconciler.reconcile(now);
    expect(stateOf(tracker, "r1")).toMatchObject({
      state: "SUCCEEDED",
      finishedAt: now,
      error: "outcome taken from inventories: source agent restarted during the migration",
    });
  });

  it("FAILED when the VM stayed on the source and nothing migrates", () => {
    const { tracker, inventories, reconciler, running } = setup();
    running("r1", "vm1");
    inventories.started.set("a", T0 + 1);
    inventories.place("vm1", "a");
    reconciler.reconcile(now);
    expect(stateOf(tracker, "r1")).toMatchObject({ state: "FAILED", finishedAt: now, error: "source agent a restarted during the migration; vm1 stayed on a" });
  });

  it("left alone while libvirtd goes on with it (an incoming copy on the destination)", () => {
    const { tracker, inventories, reconciler, running } = setup();
    running("r1", "vm1");
    inventories.started.set("a", T0 + 1);
    inventories.place("vm1", "a").place("vm1", "b", "paused");
    reconciler.reconcile(now);
    expect(stateOf(tracker, "r1")?.state).toBe("ONGOING");
  });

  it("only the source agent's restart counts", () => {
    const { tracker, inventories, reconciler, running } = setup();
    running("r1", "vm1");
    inventories.started.set("b", T0 + 1);
    inventories.place("vm1", "a");
    reconciler.reconcile(now);
    expect(stateOf(tracker, "r1")?.state).toBe("ONGOING");
  });
});

describe("MigrationReconciler.reconcile: timed out", () => {
  const late = T0 + TIMEOUT_S * 1000 + 1;

  it("is not timed out at exactly migration_timeout", () => {
    const { tracker, reconciler, running } = setup();
    running("r1", "vm1");
    reconciler.reconcile(T0 + TIMEOUT_S * 1000);
    expect(stateOf(tracker, "r1")?.state).toBe("ONGOING");
  });

  it("FAILED when the VM is running nowhere reported", () => {
    const { tracker, reconciler, running } = setup();
    running("r1", "vm1");
    reconciler.reconcile(late);
    expect(stateOf(tracker, "r1")).toMatchObject({
      state: "FAILED",
      finishedAt: late,
      error: `no outcome within ${TIMEOUT_S}s and vm1 is not running anywhere reported`,
    });
    expect(tracker.ongoing()).toEqual([]);
  });

  it("FAILED as running nowhere when the VM is listed but runs nowhere (shut off on the source)", () => {
    const { tracker, inventories, reconciler, running } = setup();
    running("r1", "vm1");
    inventories.place("vm1", "a", "shutoff");
    reconciler.reconcile(late);
    expect(stateOf(tracker, "r1")).toMatchObject({ state: "FAILED", error: `no outcome within ${TIMEOUT_S}s and vm1 is not running anywhere reported` });
  });

  it("a queued migration is never timed out (only ongoing ones are reconciled)", () => {
    const { tracker, reconciler } = setup();
    tracker.enqueue(rec("q1", "vm9"));
    reconciler.reconcile(late);
    expect(stateOf(tracker, "q1")?.state).toBe("PENDING");
  });

  it("FAILED when the VM is still on the source, naming it", () => {
    const { tracker, inventories, reconciler, running } = setup();
    running("r1", "vm1");
    inventories.place("vm1", "a");
    reconciler.reconcile(late);
    expect(stateOf(tracker, "r1")).toMatchObject({ state: "FAILED", error: `no outcome within ${TIMEOUT_S}s; vm1 is still on a` });
  });

  it("SUCCEEDED (without an error) when the VM runs on the destination", () => {
    const { tracker, inventories, reconciler, running } = setup();
    running("r1", "vm1");
    inventories.place("vm1", "b");
    reconciler.reconcile(late);
    const r = stateOf(tracker, "r1");
    expect(r?.state).toBe("SUCCEEDED");
    expect(r?.error).toBeUndefined();
  });

  it.each([
    ["still migrating on the source", (i: FakeInventories) => i.place("vm1", "a", "running", true)],
    ["an incoming copy waits on the destination", (i: FakeInventories) => i.place("vm1", "a").place("vm1", "b", "paused")],
    ["running on both hosts", (i: FakeInventories) => i.place("vm1", "a").place("vm1", "b")],
  ])("left alone when %s", (_what, arrange) => {
    const { tracker, inventories, reconciler, running } = setup();
    running("r1", "vm1");
    arrange(inventories);
    reconciler.reconcile(late);
    expect(stateOf(tracker, "r1")?.state).toBe("ONGOING");
  });

  it("counts from queuedAt when the record has no startedAt", () => {
    const { tracker, reconciler } = setup();
    reconciler.adopt([rec("r1", "vm1", { state: "ONGOING", queuedAt: T0 })], T0);
    reconciler.reconcile(late);
    expect(stateOf(tracker, "r1")).toMatchObject({ state: "FAILED", error: expect.stringContaining("not running anywhere reported") });
  });
});

describe("MigrationReconciler: only the migration's source agent reports its outcome (issue 14 item 1)", () => {
  it("an outcome published by another agent changes nothing and is counted", () => {
    const { tracker, reconciler, finished, running } = setup();
    running("r1", "vm1"); // a -> b
    // hv-c (bus-intake checked it published on its own subject: source is the publisher).
    reconciler.onEvent(ev("migration.failed", "r1", "vm1", { source: "c", error: "forged by c" }), T0 + 1);
    reconciler.onEvent(ev("migration.succeeded", "r1", "vm1", { source: "c" }), T0 + 2);
    reconciler.onEvent(ev("migration.progress", "r1", "vm1", { source: "c", progress: 99 }), T0 + 3);
    expect(stateOf(tracker, "r1")).toMatchObject({ state: "ONGOING" });
    expect(stateOf(tracker, "r1")?.progress).toBeUndefined();
    expect(finished).toEqual([]);
    expect(reconciler.rejectedOutcomes).toBe(3);
    // The real source's outcome still counts.
    reconciler.onEvent(ev("migration.succeeded", "r1", "vm1"), T0 + 4);
    expect(stateOf(tracker, "r1")).toMatchObject({ state: "SUCCEEDED" });
    expect(stateOf(tracker, "r1")?.error).toBeUndefined();
    expect(reconciler.rejectedOutcomes).toBe(3);
  });

  it.each([
    ["another VM", { vm: "vm2" }],
    ["another destination", { destination: "c" }],
  ])("an outcome from the source naming %s is refused", (_what, over) => {
    const { tracker, reconciler, running } = setup();
    running("r1", "vm1");
    reconciler.onEvent(ev("migration.failed", "r1", "vm1", over), T0 + 1);
    expect(stateOf(tracker, "r1")?.state).toBe("ONGOING");
    expect(reconciler.rejectedOutcomes).toBe(1);
  });

  it("an outcome kept for later counts on adopt only when the migration's source published it", () => {
    const { tracker, reconciler } = setup();
    // A standby hears a forged failure from c, then the real success from a.
    reconciler.onEvent(ev("migration.failed", "r1", "vm1", { source: "c", error: "forged by c" }), T0 + 1);
    reconciler.onEvent(ev("migration.succeeded", "r1", "vm1", { stats: { durationMs: 1, downtimeMs: 3, dataTotalBytes: 1 } }), T0 + 2);
    // ...and, for another migration, only a forgery.
    reconciler.onEvent(ev("migration.succeeded", "r2", "vm2", { source: "c" }), T0 + 3);
    reconciler.adopt([rec("r1", "vm1", { state: "ONGOING", startedAt: T0 }), rec("r2", "vm2", { state: "ONGOING", startedAt: T0 })], T0 + 10);
    expect(stateOf(tracker, "r1")).toMatchObject({ state: "SUCCEEDED", stats: { downtimeMs: 3 } });
    expect(stateOf(tracker, "r1")?.error).toBeUndefined();
    expect(stateOf(tracker, "r2")?.state).toBe("ONGOING");
    expect(reconciler.rejectedOutcomes).toBe(2);
  });

  it("an agent flooding made-up outcomes does not push out another agent's kept outcome", () => {
    const { tracker, reconciler } = setup();
    reconciler.onEvent(ev("migration.succeeded", "r1", "vm1"), T0);
    for (let i = 0; i < 20_000; i++) reconciler.onEvent(ev("migration.failed", `junk-${i}`, "vm1", { source: "c" }), T0 + 1);
    reconciler.adopt([rec("r1", "vm1", { state: "ONGOING", startedAt: T0 })], T0 + 2);
    expect(stateOf(tracker, "r1")?.state).toBe("SUCCEEDED");
  });
});
