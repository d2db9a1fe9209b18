import { describe, expect, it } from "vitest";
import { MigrationManager } from "../../../agent/migration/migration-manager.js";
import { ManualClock } from "../../../agent/sim/manual-clock.js";
import { SimFabric } from "../../../agent/sim/sim-fabric.js";
import { SimHypervisor } from "../../../agent/sim/sim-hypervisor.js";
import { silentLogger } from "../../../shared/logger.js";
import type { MigrateRequest, MigrationEvent } from "../../../shared/schemas/agent-api.js";
import { MigrationEvent as MigrationEventSchema } from "../../../shared/schemas/agent-api.js";

function setup(o: { maxConcurrent?: number; timeoutMs?: number } = {}) {
  const clock = new ManualClock();
  const fabric = new SimFabric();
  const vms = [
    { name: "vm1", mem_mib: 1000 },
    { name: "vm2", mem_mib: 1000 },
    { name: "vm3", mem_mib: 1000 },
    { name: "off1", state: "shutoff" as const },
  ];
  const src = new SimHypervisor({ host: "a", clock, fabric, config: { start_delay_s: 0, migration_mibs: 100, vms } });
  const dst = new SimHypervisor({ host: "b", clock, fabric });
  src.start();
  dst.start();
  const events: MigrationEvent[] = [];
  const mgr = new MigrationManager({
    host: "a",
    hypervisor: src,
    clock,
    logger: silentLogger(),
    maxConcurrent: o.maxConcurrent ?? 2,
    timeoutMs: o.timeoutMs ?? 600_000,
    onEvent: (e) => events.push(MigrationEventSchema.parse(e)),
    answersCapacity: 3,
  });
  return { clock, fabric, src, dst, mgr, events };
}

const req = (over: Partial<MigrateRequest> = {}): MigrateRequest => ({ requestId: "r1", vm: "vm1", destination: "b", destinationAddress: "b", ...over });

describe("MigrationManager", () => {
  it("accepts at once, then runs in the background: started, progress, succeeded with stats", async () => {
    const { clock, fabric, mgr, events } = setup();
    const r = await mgr.request(req());
    expect(r).toEqual({ ok: true, data: { requestId: "r1", vm: "vm1", source: "a", destination: "b", accepted: true } });
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
    // Refusals are remembered too: the same id for a now-valid request still gets the refusal.
    const refused = await mgr.request(req({ requestId: "q", vm: "ghost" }));
    expect(await mgr.request(req({ requestId: "q", vm: "vm2" }))).toEqual(refused);
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
});
