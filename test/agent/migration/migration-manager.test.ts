import { describe, expect, it } from "vitest";
import { MigrationManager, type MigrationManagerOptions } from "../../../agent/migration/migration-manager.js";
import { MemoryMigrationJournal } from "../../../agent/migration/migration-journal.js";
import { MigrationUnobservedError, type Hypervisor, type OutgoingMigrationState } from "../../../agent/ports/hypervisor.js";
import { ManualClock } from "../../../agent/sim/manual-clock.js";
import { SimFabric } from "../../../agent/sim/sim-fabric.js";
import { SimHypervisor } from "../../../agent/sim/sim-hypervisor.js";
import { silentLogger } from "../../../shared/logger.js";
import type { MigrateRequest, MigrationEvent } from "../../../shared/schemas/agent-api.js";
import { MigrationEvent as MigrationEventSchema } from "../../../shared/schemas/agent-api.js";
import { unusedHypervisorMethods } from "../support/unused-hypervisor.js";

function setup(o: { maxConcurrent?: number; timeoutMs?: number; journal?: MemoryMigrationJournal; migrationMibs?: number } = {}) {
  const clock = new ManualClock();
  const fabric = new SimFabric();
  const vms = [
    { name: "vm1", mem_mib: 1000 },
    { name: "vm2", mem_mib: 1000 },
    { name: "vm3", mem_mib: 1000 },
    { name: "off1", state: "shutoff" as const },
  ];
  const src = new SimHypervisor({ host: "a", clock, fabric, config: { start_delay_s: 0, migration_mibs: o.migrationMibs ?? 100, vms } });
  const dst = new SimHypervisor({ host: "b", clock, fabric });
  src.start();
  dst.start();
  /** A manager of host a's migrations, its events pushed to `into`. */
  const manager = (into: MigrationEvent[], extra: Partial<MigrationManagerOptions> = {}) =>
    new MigrationManager({
      host: "a",
      hypervisor: src,
      clock,
      logger: silentLogger(),
      maxConcurrent: o.maxConcurrent ?? 2,
      timeoutMs: o.timeoutMs ?? 600_000,
      onEvent: (e) => into.push(MigrationEventSchema.parse(e)),
      settlePollMs: 500,
      ...(o.journal ? { journal: o.journal } : {}),
      ...extra,
    });
  const events: MigrationEvent[] = [];
  const mgr = manager(events, { answersCapacity: 3 });
  /** A second manager on the same hypervisor and journal: the agent started again. */
  const restart = (extra: Partial<MigrationManagerOptions> = {}) => {
    const again: MigrationEvent[] = [];
    const m = manager(again, extra);
    return { mgr: m, events: again };
  };
  return { clock, fabric, src, dst, mgr, events, restart };
}

const unused = unusedHypervisorMethods;

const req = (over: Partial<MigrateRequest> = {}): MigrateRequest => ({ requestId: "r1", vm: "vm1", destination: "b", destinationAddress: "b", ...over });

describe("MigrationManager", () => {
  it("accepts at once, then runs in the background: started, progress, succeeded with stats", async () => {
    const { clock, fabric, mgr, events } = setup();
    const r = await mgr.request(req());
    expect(r).toEqual({ ok: true, data: { requestId: "r1", vm: "vm1", source: "a", destination: "b", accepted: true, timeoutS: 600 } });
    expect(mgr.isMigrating("vm1")).toBe(true);
    await clock.advance(11_000);
    expect(fabric.whereIs("vm1")).toEqual(["b"]);
    expect(events.map((e) => e.type)).toEqual(["migration.started", ...Array(events.length - 2).fill("migration.progress"), "migration.succeeded"]);
    const done = events.at(-1)!;
    expect(done.stats).toMatchObject({ downtimeMs: 10, dataTotalBytes: 1000 * 1024 * 1024 });
    expect(done.stats!.durationMs).toBeGreaterThanOrEqual(10_000);
    expect(mgr.migrations()).toMatchObject([{ requestId: "r1", phase: "succeeded", stats: { downtimeMs: 10 } }]);
    expect(mgr.runningCount).toBe(0);
  });

  it("refuses with clear codes and changes nothing", async () => {
    const { mgr, fabric, events } = setup();
    const codes = async (r: MigrateRequest) => {
      const a = await mgr.request(r);
      return a.ok ? "ok" : a.error.code;
    };
    expect(await codes(req({ requestId: "x1", vm: "ghost" }))).toBe("UNKNOWN_VM");
    expect(await codes(req({ requestId: "x2", destination: "a" }))).toBe("SAME_HOST");
    expect(await codes(req({ requestId: "x3", vm: "off1" }))).toBe("VM_NOT_RUNNING");
    expect(events).toEqual([]);
    expect(fabric.whereIs("vm1")).toEqual(["a"]);
    expect(mgr.migrations()).toEqual([]);
  });

  it("caps concurrent migrations (BUSY) and one job per VM (ALREADY_MIGRATING); transient refusals can be retried", async () => {
    const { clock, mgr } = setup({ maxConcurrent: 2 });
    expect((await mgr.request(req({ requestId: "r1", vm: "vm1" }))).ok).toBe(true);
    expect(await mgr.request(req({ requestId: "r2", vm: "vm1" }))).toMatchObject({ ok: false, error: { code: "ALREADY_MIGRATING" } });
    expect((await mgr.request(req({ requestId: "r3", vm: "vm2" }))).ok).toBe(true);
    expect(await mgr.request(req({ requestId: "r4", vm: "vm3" }))).toMatchObject({ ok: false, error: { code: "BUSY" } });
    await clock.advance(11_000);
    expect((await mgr.request(req({ requestId: "r4", vm: "vm3" }))).ok).toBe(true);
  });

  it("answers a repeated requestId with the first answer and runs the migration once", async () => {
    const { clock, mgr, events } = setup();
    const [first, concurrent] = await Promise.all([mgr.request(req()), mgr.request(req())]);
    expect(concurrent).toEqual(first);
    await clock.advance(11_000);
    // Again after it finished (the VM is no longer here): still the first answer, nothing runs.
    expect(await mgr.request(req())).toEqual(first);
    await clock.advance(11_000);
    expect(events.filter((e) => e.type === "migration.started")).toHaveLength(1);
    // Refusals are remembered too: the same request again gets the same refusal.
    const refused = await mgr.request(req({ requestId: "q", vm: "ghost" }));
    expect(refused).toMatchObject({ ok: false, error: { code: "UNKNOWN_VM" } });
    expect(await mgr.request(req({ requestId: "q", vm: "ghost" }))).toEqual(refused);
  });

  // Issue 14, item 2. Before: the earlier answer, ok: true, for a request about another VM.
  it("refuses a request id used again for a different request (IDEMPOTENCY_CONFLICT), naming the id and what differs", async () => {
    const { clock, mgr, events } = setup();
    const first = await mgr.request(req({ requestId: "r1", vm: "vm1" }));
    expect(first.ok).toBe(true);
    const other = await mgr.request(req({ requestId: "r1", vm: "vm2" }));
    expect(other).toEqual({
      ok: false,
      error: {
        code: "IDEMPOTENCY_CONFLICT",
        message: expect.stringMatching(/request id r1 .*vm was "vm1", now "vm2"/),
        details: { requestId: "r1", differences: { vm: { was: "vm1", now: "vm2" } } },
      },
    });
    // Every field of the command counts, each named; timeoutS too (absent is a value of its own).
    const many = await mgr.request(req({ requestId: "r1", destination: "c", destinationAddress: "10.0.0.3", timeoutS: 30 }));
    expect(many.ok ? undefined : many.error.details).toEqual({
      requestId: "r1",
      differences: {
        destination: { was: "b", now: "c" },
        destinationAddress: { was: "b", now: "10.0.0.3" },
        timeoutS: { was: null, now: 30 },
      },
    });
    expect(many.ok ? "" : many.error.message).toMatch(/timeoutS was absent, now 30/);
    // The same body again, with another epoch (a new leader sending it again), is the same request.
    expect(await mgr.request(req({ requestId: "r1", epoch: 7 }))).toEqual(first);
    // Also while the first is still being decided.
    const [a, b] = await Promise.all([mgr.request(req({ requestId: "r2", vm: "vm2" })), mgr.request(req({ requestId: "r2", vm: "vm3" }))]);
    expect(a.ok).toBe(true);
    expect(b).toMatchObject({ ok: false, error: { code: "IDEMPOTENCY_CONFLICT" } });
    await clock.advance(30_000);
    // A refused request's id is taken as well.
    expect(await mgr.request(req({ requestId: "q", vm: "ghost" }))).toMatchObject({ ok: false, error: { code: "UNKNOWN_VM" } });
    expect(await mgr.request(req({ requestId: "q", vm: "vm3" }))).toMatchObject({ ok: false, error: { code: "IDEMPOTENCY_CONFLICT" } });
    await clock.advance(30_000);
    // Nothing ran for the conflicting requests: vm1 and vm2 moved once each, vm3 stayed.
    expect(events.filter((e) => e.type === "migration.started").map((e) => [e.requestId, e.vm])).toEqual([
      ["r1", "vm1"],
      ["r2", "vm2"],
    ]);
  });

  it("remembers a bounded number of answers", async () => {
    const { mgr } = setup();
    for (const id of ["a1", "a2", "a3", "a4"]) await mgr.request(req({ requestId: id, vm: "ghost" }));
    // a1 was dropped (capacity 3): the same id is decided again, now for an existing VM.
    expect((await mgr.request(req({ requestId: "a1", vm: "vm1" }))).ok).toBe(true);
  });

  it("rejects epochs older than the newest carried out; no epoch is accepted", async () => {
    const { mgr } = setup();
    // A refused request does not advance the epoch, however large its epoch (no lock-out by junk).
    expect(await mgr.request(req({ requestId: "e1", vm: "ghost", epoch: 9_007_199_254_740_991 }))).toMatchObject({ error: { code: "UNKNOWN_VM" } });
    expect((await mgr.request(req({ requestId: "e2", epoch: 5 }))).ok).toBe(true);
    expect(await mgr.request(req({ requestId: "e3", vm: "vm2", epoch: 4 }))).toMatchObject({ ok: false, error: { code: "STALE_EPOCH" } });
    expect((await mgr.request(req({ requestId: "e4", vm: "vm2" }))).ok).toBe(true);
    await expect(mgr.abort({ vm: "vm1", epoch: 1 })).rejects.toMatchObject({ code: "STALE_EPOCH" });
  });

  it("aborts on request: migration.aborted, the VM stays", async () => {
    const { clock, mgr, events, fabric } = setup();
    await mgr.request(req());
    await clock.advance(2000);
    expect(await mgr.abort({ requestId: "r1" })).toEqual({ requestId: "r1", vm: "vm1", aborted: true });
    await clock.advance(10);
    expect(events.at(-1)).toMatchObject({ type: "migration.aborted", error: expect.stringMatching(/canceled by client/) });
    expect(fabric.whereIs("vm1")).toEqual(["a"]);
    expect(await mgr.abort({ requestId: "r1" })).toEqual({ requestId: "r1", vm: "vm1", aborted: false });
    await expect(mgr.abort({ vm: "vm2" })).rejects.toMatchObject({ code: "UNKNOWN_VM" });
  });

  it("fails and aborts a migration that exceeds its timeout", async () => {
    const { clock, mgr, events, fabric } = setup();
    await mgr.request(req({ timeoutS: 3 }));
    await clock.advance(3500);
    expect(events.at(-1)).toMatchObject({ type: "migration.failed", error: expect.stringMatching(/did not finish within 3 s/) });
    expect(fabric.whereIs("vm1")).toEqual(["a"]);
    expect(mgr.isMigrating("vm1")).toBe(false);
  });

  it("reports libvirt's error when the destination is down", async () => {
    const { clock, mgr, events, dst } = setup();
    dst.stop();
    expect((await mgr.request(req())).ok).toBe(true);
    await clock.advance(10);
    expect(events.map((e) => e.type)).toEqual(["migration.started", "migration.failed"]);
    expect(events[1]?.error).toBe("unable to connect to server at 'b:16509': Connection refused");
    expect(mgr.migrations()[0]).toMatchObject({ phase: "failed", error: expect.stringMatching(/Connection refused/) });
  });

  // Issue 14, item 12. Before: stop() waited up to a grace time and then aborted every running
  // migration (domjobabort), and nothing of it survived a restart.
  describe("stop and restart (issue 14, item 12)", () => {
    it("stop lets go of a running migration without aborting or reporting it; the next start follows it and reports the outcome once", async () => {
      const journal = new MemoryMigrationJournal();
      const { clock, fabric, src, mgr, events, restart } = setup({ journal });
      expect((await mgr.request(req({ timeoutS: 60 }))).ok).toBe(true);
      await clock.advance(2000);
      expect(await mgr.detachAll()).toBe(1);
      // Nothing reported, nothing aborted: the job goes on in the hypervisor.
      expect(events.map((e) => e.type).filter((t) => t !== "migration.progress")).toEqual(["migration.started"]);
      expect(await src.inspectMigration("vm1")).toEqual({ present: true, state: "running", jobActive: true });
      expect(journal.load()).toMatchObject([{ requestId: "r1", vm: "vm1", destination: "b", timeoutS: 60 }]);
      // A stopped agent takes nothing new.
      expect(await mgr.request(req({ requestId: "r9", vm: "vm2" }))).toMatchObject({
        ok: false,
        error: { code: "BUSY", message: expect.stringMatching(/stopping/) },
      });

      const next = restart();
      expect(next.mgr.recover()).toBe(1);
      expect(next.mgr.isMigrating("vm1")).toBe(true);
      expect(next.mgr.migrations()).toMatchObject([{ requestId: "r1", phase: "running" }]);
      // The same command again gets the first answer; another one for the VM is refused.
      expect(await next.mgr.request(req({ timeoutS: 60 }))).toEqual({
        ok: true,
        data: { requestId: "r1", vm: "vm1", source: "a", destination: "b", accepted: true, timeoutS: 60 },
      });
      expect(await next.mgr.request(req({ requestId: "r2" }))).toMatchObject({ ok: false, error: { code: "ALREADY_MIGRATING" } });
      await clock.advance(10_000);
      expect(fabric.whereIs("vm1")).toEqual(["b"]);
      expect(next.events).toMatchObject([{ type: "migration.succeeded", requestId: "r1", vm: "vm1", source: "a", destination: "b" }]);
      expect(next.mgr.isMigrating("vm1")).toBe(false);
      // Kept with its outcome until the NATS side confirms it was published.
      expect(journal.load()).toMatchObject([{ requestId: "r1", outcome: { type: "migration.succeeded" } }]);
      next.mgr.outcomeDelivered("r1");
      expect(journal.load()).toEqual([]);
    });

    it("a migration that failed while no agent watched is reported failed, naming where the VM is", async () => {
      const journal = new MemoryMigrationJournal();
      const { clock, fabric, dst, mgr, restart } = setup({ journal });
      await mgr.request(req());
      await clock.advance(2000);
      await mgr.detachAll();
      dst.stop(); // the destination goes away: the job fails on its own
      await clock.advance(2000);
      const next = restart();
      next.mgr.recover();
      await clock.advance(2000);
      expect(fabric.whereIs("vm1")).toEqual(["a"]);
      expect(next.events).toEqual([
        expect.objectContaining({
          type: "migration.failed",
          requestId: "r1",
          error: "the agent restarted during the migration; libvirt's job has ended and vm1 is still on a (running)",
        }),
      ]);
    });

    it("the deadline still holds across a restart: a job past it is aborted and reported failed", async () => {
      const journal = new MemoryMigrationJournal();
      // 1000 MiB at 10 MiB/s: 100 s, far past the 5 s limit.
      const { clock, fabric, mgr, restart, src } = setup({ journal, migrationMibs: 10 });
      await mgr.request(req({ timeoutS: 5 }));
      await clock.advance(1000);
      await mgr.detachAll();
      const next = restart();
      next.mgr.recover();
      await clock.advance(4000);
      expect(await src.inspectMigration("vm1")).toMatchObject({ present: true, jobActive: true });
      expect(next.events).toEqual([]);
      await clock.advance(3000);
      expect(fabric.whereIs("vm1")).toEqual(["a"]);
      expect(next.events).toMatchObject([
        { type: "migration.failed", error: expect.stringMatching(/did not finish within 5 s and was aborted; vm1 is still on a/) },
      ]);
    });

    it("an outcome that never reached NATS is published again by the next start", async () => {
      const journal = new MemoryMigrationJournal();
      const { clock, mgr, events, restart } = setup({ journal });
      await mgr.request(req());
      await clock.advance(11_000);
      const outcome = events.at(-1)!;
      expect(outcome.type).toBe("migration.succeeded");
      // No outcomeDelivered: the publish was not confirmed.
      const next = restart();
      expect(next.mgr.recover()).toBe(1);
      expect(next.events).toEqual([outcome]);
      expect(next.mgr.isMigrating("vm1")).toBe(false);
      expect(next.mgr.migrations()).toMatchObject([{ requestId: "r1", phase: "succeeded" }]);
      expect(await next.mgr.request(req())).toMatchObject({ ok: true });
      expect(await next.mgr.request(req({ vm: "vm2" }))).toMatchObject({ ok: false, error: { code: "IDEMPOTENCY_CONFLICT" } });
    });

    it("a stop while following a migration leaves it for the start after", async () => {
      const journal = new MemoryMigrationJournal();
      const { clock, mgr, restart } = setup({ journal, migrationMibs: 10 });
      await mgr.request(req());
      await clock.advance(1000);
      await mgr.detachAll();
      const second = restart();
      second.mgr.recover();
      await clock.advance(1000);
      expect(await second.mgr.detachAll()).toBe(1);
      expect(second.events).toEqual([]);
      const third = restart();
      third.mgr.recover();
      await clock.advance(120_000);
      expect(third.events).toMatchObject([{ type: "migration.succeeded", requestId: "r1" }]);
    });

    it("virsh killed by a signal it was not sent: the outcome comes from the hypervisor, not from virsh's death", async () => {
      const clock = new ManualClock();
      const looks: OutgoingMigrationState[] = [
        { present: true, state: "running", jobActive: true },
        { present: true, state: "paused", reason: "migration", jobActive: true },
        { present: true, state: "shutoff", reason: "migrated", jobActive: false },
      ];
      const hv: Hypervisor = {
        name: "fake",
        listDomains: async () => [{ name: "vm1", state: "running", vcpus: 1, memMiB: 128, maxMemMiB: 128, cpuTimeNs: 0 }],
        migrate: async () => {
          await clock.sleep(1000);
          throw new MigrationUnobservedError("virsh migrate was killed by SIGTERM; libvirt may go on with the migration of vm1");
        },
        abortMigration: async () => {
          throw new Error("must not abort");
        },
        inspectMigration: async () => looks.shift() ?? { present: false },
        ...unused,
      };
      const events: MigrationEvent[] = [];
      const mgr = new MigrationManager({
        host: "a",
        hypervisor: hv,
        clock,
        logger: silentLogger(),
        maxConcurrent: 2,
        timeoutMs: 600_000,
        onEvent: (e) => events.push(e),
        settlePollMs: 500,
      });
      await mgr.request(req());
      await clock.advance(5000);
      expect(events.map((e) => e.type)).toEqual(["migration.started", "migration.succeeded"]);
      expect(looks).toEqual([]);
    });
  });
});
