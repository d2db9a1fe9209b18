import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Kvm, type KV } from "@nats-io/kv";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { encodeRecord, HaRecordError } from "../../../../orchestrator/shell/ha/ha-records.js";
import { KvStateStore, LEASE_KEY } from "../../../../orchestrator/shell/ha/kv-state-store.js";
import { silentLogger } from "../../../../shared/logger.js";
import type { MigrationRecord } from "../../../../shared/schemas/migration-record.js";
import type { Plan } from "../../../../shared/schemas/plan.js";
import { BALLAST_VERSION } from "../../../../shared/version.js";
import { startNatsServer, type NatsServerHandle } from "../../../support/nats-server.js";

// The HA state in a real JetStream KV bucket: what the store writes loads back, and a bucket holding
// a record of another format (or Ballast 0.1's unversioned JSON) stops the load instead of being
// adopted half-read.

const rec = (id: string, vm: string, over: Partial<MigrationRecord> = {}): MigrationRecord => ({
  requestId: id,
  vm,
  source: "a",
  destination: "b",
  strategy: "hotspot",
  code: "HOST_OVERLOADED",
  reason: "a is hot",
  state: "ONGOING",
  queuedAt: 10,
  startedAt: 20,
  memMiB: 2048,
  cpuPercent: 10,
  ...over,
});

const plan = (id: string): Plan => ({
  id,
  createdAt: 1000,
  mode: "cycle",
  snapshotDigest: "d",
  moves: [],
  decisions: [],
  indicators: { imbalanceBefore: 0, imbalanceAfter: 0, hostsFreed: [], migrations: 0, bytesToMove: 0, overloadedBefore: 0, overloadedAfter: 0 },
  emptyHosts: [],
  frozen: [],
  adaptation: null,
  memAdaptation: null,
  power: [],
});

describe("KvStateStore against a real JetStream KV bucket", () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let buckets = 0;

  beforeAll(async () => {
    server = await startNatsServer({ jetstream: true });
    nc = await connect({ servers: server.url });
  });

  afterAll(async () => {
    await nc?.close();
    await server?.stop();
  });

  /** A fresh bucket per test. */
  const bucket = async (): Promise<KV> => new Kvm(nc).create(`kv-state-test-${++buckets}`, { history: 1 });
  const store = (kv: KV, canWrite = () => true) => new KvStateStore(kv, { canWrite, historySize: 10, log: silentLogger() });

  it("loads back what it wrote: migrations, pending plans, maintenance, frozen VMs, pause", async () => {
    const kv = await bucket();
    const writer = store(kv);
    const ongoing = rec("r-1", "vm1");
    const done = rec("r-2", "vm2", { state: "SUCCEEDED", finishedAt: 30, progress: 100 });
    writer.migration(ongoing);
    writer.migration(done);
    writer.maintenance(new Set(["h2", "h1"]));
    writer.frozen(new Set(["vm9"]));
    writer.pending("plan-1", { plan: plan("plan-1"), expiresAt: 5000 });
    writer.pending("plan-2", { plan: plan("plan-2"), expiresAt: 6000 });
    writer.pending("plan-2", undefined); // approved or expired: deleted
    writer.paused("upgrade");
    await writer.flush();
    expect(writer.backlog).toBe(0);
    // The stamp is in the bucket, as written.
    expect((await kv.get("state.frozen"))?.string()).toBe(encodeRecord({ vms: ["vm9"] }));
    // A deleted plan is purged, not left as a value.
    expect((await kv.get("plan.plan-2"))?.operation ?? "absent").not.toBe("PUT");
    await kv.put(LEASE_KEY, encodeRecord({ instance: "orch-a", epoch: 1, renewedAt: 1, expiresAt: 2 }));

    const st = await store(kv).load();
    expect(st.migrations.sort((x, y) => x.requestId.localeCompare(y.requestId))).toEqual([ongoing, done]);
    expect(st.maintenance).toEqual(["h1", "h2"]);
    expect(st.frozen).toEqual(["vm9"]);
    expect(st.pending).toEqual([{ plan: plan("plan-1"), expiresAt: 5000 }]);
    expect(st.pausedReason).toBe("upgrade");
    writer.close();
  });

  it("a dispatched migration is in the bucket once dispatched() resolves; a resumed pause loads as not paused", async () => {
    const kv = await bucket();
    const writer = store(kv);
    const r = rec("r-9", "vm1");
    await writer.dispatched(r);
    expect((await kv.get("mig.r-9"))?.string()).toBe(encodeRecord({ record: r }));
    writer.paused("x");
    writer.paused(undefined);
    await writer.flush();
    const st = await store(kv).load();
    expect(st.migrations).toEqual([r]);
    expect(st.pausedReason).toBeUndefined();
    writer.close();
  });

  it("keeps the incompatible pairs with their digests and the new record fields; a bucket without pairs loads none", async () => {
    const kv = await bucket();
    const writer = store(kv);
    expect((await store(kv).load()).incompatible).toBeUndefined();
    const pairs = [
      { vm: "web-1", destination: "c", since: 5, error: "c refused: CPU: ...", vmDigest: "aa11", hostDigest: "bb22" },
      { vm: "web-2", destination: "b", since: 6, error: "unsupported configuration: ...", hostDigest: "cc33" },
    ];
    writer.incompatible(pairs);
    const moved = rec("r-3", "db-1", {
      state: "SUCCEEDED",
      finishedAt: 40,
      copyStorage: true,
      checked: { at: 19, result: "ok" },
      timeoutS: 137,
      copyDisks: ["vda"],
      diskBytes: 268435456,
      postcopy: false,
      postcopySwitched: false,
      sourceDisks: { policy: "remove", paths: ["/var/lib/libvirt/images/db-1.qcow2"], removed: ["/var/lib/libvirt/images/db-1.qcow2"] },
    });
    writer.migration(moved);
    await writer.flush();
    const st = await store(kv).load();
    expect(st.incompatible).toEqual(pairs);
    expect(st.migrations).toEqual([moved]);
    writer.close();
  });

  it("a standby (canWrite false) writes nothing", async () => {
    const kv = await bucket();
    const standby = store(kv, () => false);
    standby.maintenance(new Set(["h1"]));
    standby.migration(rec("r-1", "vm1"));
    await standby.flush();
    await expect(standby.dispatched(rec("r-2", "vm2"))).rejects.toThrow(/not the leader/);
    expect(await kv.get("state.maintenance")).toBeNull();
    expect((await store(kv).load()).migrations).toEqual([]);
  });

  it.each([
    [
      "a migration of another format",
      "mig.r-7",
      JSON.stringify({ v: 2, writer: "0.3.0", record: rec("r-7", "vm7") }),
      ["HA record mig.r-7 has format 2 (written by Ballast 0.3.0)", `Ballast ${BALLAST_VERSION}, reads format 1`],
    ],
    [
      "Ballast 0.1's unversioned maintenance",
      "state.maintenance",
      JSON.stringify(["h1"]),
      ["HA record state.maintenance has no format version", `Ballast ${BALLAST_VERSION}, reads format 1`],
    ],
    ["a pending plan that is not JSON", "plan.p-1", "{oops", ["HA record plan.p-1 is not JSON"]],
  ])("refuses a bucket holding %s: load() stops with HaRecordError naming the key", async (_what, key, text, says) => {
    const kv = await bucket();
    const writer = store(kv);
    writer.maintenance(new Set(["h9"]));
    writer.migration(rec("r-1", "vm1"));
    await writer.flush();
    await kv.put(key, text);
    const err: unknown = await store(kv)
      .load()
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(HaRecordError);
    expect(err).toMatchObject({ key });
    for (const part of says) expect(err).toMatchObject({ message: expect.stringContaining(part) });
    writer.close();
  });
});
