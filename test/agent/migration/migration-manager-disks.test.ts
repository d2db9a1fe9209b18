import { describe, expect, it } from "vitest";
import { MigrationManager, scaledTimeoutS, type MigrationLimits } from "../../../agent/migration/migration-manager.js";
import { MemoryMigrationJournal } from "../../../agent/migration/migration-journal.js";
import { ManualClock } from "../../../agent/sim/manual-clock.js";
import { SimFabric } from "../../../agent/sim/sim-fabric.js";
import { SimHypervisor } from "../../../agent/sim/sim-hypervisor.js";
import type { SimVmInput } from "../../../shared/config/agent-config.js";
import { silentLogger } from "../../../shared/logger.js";
import { MigrationEvent as MigrationEventSchema, type MigrateRequest, type MigrationEvent } from "../../../shared/schemas/agent-api.js";

// The source's side of facts-aware migrations: a VM with local disks moves only with copyStorage
// (and then only those disks), a VM found not migratable never starts, the time limit scales with
// memory and disk bytes, and on_timeout: postcopy switches instead of aborting.

const DISK = "/var/lib/libvirt/images/db1-vda.qcow2";
const GiB = 1024 * 1024 * 1024;

function setup(o: { limits?: Partial<MigrationLimits>; journal?: MemoryMigrationJournal } = {}) {
  const clock = new ManualClock();
  const fabric = new SimFabric();
  const vms: SimVmInput[] = [
    { name: "web1", mem_mib: 1000 },
    { name: "db1", mem_mib: 1000, facts: { disks: [{ target: "vda", path: DISK, size_gib: 1 }] } },
    { name: "gpu1", mem_mib: 1000, facts: { hostdevs: ["pci 0000:3b:00.0"] } },
    { name: "shared1", mem_mib: 1000, facts: { disks: [{ target: "vda", path: "/var/lib/libvirt/shared/s.qcow2", size_gib: 50 }] } },
  ];
  const src = new SimHypervisor({ host: "a", clock, fabric, config: { start_delay_s: 0, migration_mibs: 100, vms } });
  const dst = new SimHypervisor({ host: "b", clock, fabric });
  src.start();
  dst.start();
  const events: MigrationEvent[] = [];
  const limits: MigrationLimits = { bandwidthMibs: 100, timeoutFactor: 4, onTimeout: "abort", ...o.limits };
  const manager = () =>
    new MigrationManager({
      host: "a",
      hypervisor: src,
      clock,
      logger: silentLogger(),
      maxConcurrent: 2,
      timeoutMs: 120_000,
      limits,
      vmFacts: async (vm) => (await src.vmFacts([vm]))[0],
      onEvent: (e) => events.push(MigrationEventSchema.parse(e)),
      settlePollMs: 500,
      ...(o.journal ? { journal: o.journal } : {}),
    });
  return { clock, fabric, src, dst, mgr: manager(), manager, events };
}

const req = (over: Partial<MigrateRequest> = {}): MigrateRequest => ({ requestId: "r1", vm: "db1", destination: "b", destinationAddress: "b", ...over });

describe("MigrationManager with facts: local disks, verdicts, time limits", () => {
  it("refuses a VM with local disks unless copyStorage allows it (LOCAL_DISKS), and nothing moves", async () => {
    const { mgr, fabric, events } = setup();
    for (const copyStorage of [undefined, false]) {
      const r = await mgr.request(req({ requestId: `no-${String(copyStorage)}`, ...(copyStorage !== undefined ? { copyStorage } : {}) }));
      expect(r).toMatchObject({
        ok: false,
        error: { code: "LOCAL_DISKS", message: expect.stringContaining(DISK), details: { disks: [{ target: "vda", source: DISK }] } },
      });
    }
    expect(events).toEqual([]);
    expect(fabric.whereIs("db1")).toEqual(["a"]);
  });

  it("refuses a VM its facts find not migratable (NOT_MIGRATABLE), with the reasons", async () => {
    const { mgr } = setup();
    const r = await mgr.request(req({ vm: "gpu1", copyStorage: true }));
    expect(r).toMatchObject({
      ok: false,
      error: { code: "NOT_MIGRATABLE", message: expect.stringContaining("HOSTDEV pci 0000:3b:00.0"), details: { reasons: [{ code: "HOSTDEV" }] } },
    });
  });

  it("copies only the local disks with copyStorage; the limit counts memory and disk bytes; the source copy stays", async () => {
    const { mgr, clock, src, dst, fabric, events } = setup();
    const r = await mgr.request(req({ copyStorage: true }));
    // 120 s + 4 × (1000 MiB + 1024 MiB) / 100 MiB/s = 200.96 s, rounded up.
    expect(scaledTimeoutS(120, { bandwidthMibs: 100, timeoutFactor: 4 }, 1000, GiB)).toBe(201);
    expect(r).toEqual({
      ok: true,
      data: { requestId: "r1", vm: "db1", source: "a", destination: "b", accepted: true, timeoutS: 201, copyDisks: ["vda"], copyPaths: [DISK], diskBytes: GiB },
    });
    // Memory and the disk at 100 MiB/s: about 20 s.
    await clock.advance(15_000);
    expect(fabric.whereIs("db1")).toEqual(["a"]);
    await clock.advance(10_000);
    expect(fabric.whereIs("db1")).toEqual(["b"]);
    expect(events.at(-1)).toMatchObject({ type: "migration.succeeded" });
    expect(events.at(-1)!.stats!.postcopy).toBeUndefined();
    expect(dst.hasFile(DISK)).toBe(true);
    expect(src.hasFile(DISK)).toBe(true);
    // A VM whose disks are all shared copies nothing, whatever copyStorage says.
    const shared = await mgr.request(req({ requestId: "r2", vm: "shared1", copyStorage: true }));
    // 120 s + 4 × 1000 MiB / 100 MiB/s: memory only.
    expect(shared.ok && shared.data).toMatchObject({ timeoutS: 160 });
    expect(shared.ok && shared.data.copyDisks).toBeUndefined();
  });

  it("copyStorage is part of the request's identity (false and absent are the same)", async () => {
    const { mgr } = setup();
    const first = await mgr.request(req({ requestId: "w", vm: "web1" }));
    expect(first.ok).toBe(true);
    expect(await mgr.request(req({ requestId: "w", vm: "web1", copyStorage: false }))).toEqual(first);
    expect(await mgr.request(req({ requestId: "w", vm: "web1", copyStorage: true }))).toMatchObject({
      ok: false,
      error: { code: "IDEMPOTENCY_CONFLICT", details: { differences: { copyStorage: { was: null, now: true } } } },
    });
  });

  it("a request's timeoutS replaces the scaled limit", async () => {
    const { mgr } = setup();
    expect(await mgr.request(req({ vm: "web1", timeoutS: 30 }))).toMatchObject({ ok: true, data: { timeoutS: 30 } });
  });

  it("on_timeout postcopy: starts with post-copy allowed and switches at the limit instead of aborting (stats.postcopy)", async () => {
    const journal = new MemoryMigrationJournal();
    const { mgr, clock, fabric, events } = setup({ limits: { onTimeout: "postcopy" }, journal });
    const r = await mgr.request(req({ vm: "web1", timeoutS: 3 }));
    expect(r).toMatchObject({ ok: true, data: { timeoutS: 3, postcopy: true } });
    expect(journal.load()).toMatchObject([{ requestId: "r1", postcopy: true }]);
    // 1000 MiB at 100 MiB/s would take 10 s; at 3 s it switches and completes.
    await clock.advance(3500);
    expect(fabric.whereIs("web1")).toEqual(["b"]);
    expect(events.at(-1)).toMatchObject({ type: "migration.succeeded", stats: { postcopy: true } });
  });

  it("on_timeout postcopy: a refused switch aborts as before; a VM copying disks is never started with post-copy", async () => {
    const { mgr, clock, fabric, events, src } = setup({ limits: { onTimeout: "postcopy" } });
    src.startPostcopy = () => Promise.reject(new Error("Requested operation is not valid: post-copy refused"));
    expect(await mgr.request(req({ vm: "web1", timeoutS: 3 }))).toMatchObject({ ok: true, data: { postcopy: true } });
    await clock.advance(3500);
    expect(events.at(-1)).toMatchObject({ type: "migration.failed", error: expect.stringMatching(/did not finish within 3 s and was aborted/) });
    expect(fabric.whereIs("web1")).toEqual(["a"]);
    const copy = await mgr.request(req({ requestId: "r2", vm: "db1", copyStorage: true, timeoutS: 3 }));
    expect(copy.ok && copy.data.postcopy).toBeUndefined();
    await clock.advance(3500);
    expect(events.at(-1)).toMatchObject({ type: "migration.failed", requestId: "r2" });
    expect(fabric.whereIs("db1")).toEqual(["a"]);
  });

  it("after a restart the same request gets the same accepted answer (copy and limit journaled)", async () => {
    const journal = new MemoryMigrationJournal();
    const { mgr, manager } = setup({ journal });
    const first = await mgr.request(req({ copyStorage: true }));
    expect(first.ok).toBe(true);
    void mgr.detachAll();
    const next = manager();
    expect(next.recover()).toBe(1);
    expect(await next.request(req({ copyStorage: true }))).toEqual(first);
  });
});
