import { Kvm } from "@nats-io/kv";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KvStateStore } from "../../../../orchestrator/shell/ha/kv-state-store.js";
import { restartRequestId, type StoredRecoveryHost, type StoredRestart } from "../../../../orchestrator/shell/recovery/recovery-record.js";
import { silentLogger } from "../../../../shared/logger.js";
import { startNatsServer, type NatsServerHandle } from "../../../support/nats-server.js";

// Host failure's records in the HA bucket (a real JetStream KV): a restart is written before its
// write resolves, a new leader loads every incident and restart back, a standby cannot record, and
// a forgotten restart is purged.

describe("recovery records in the HA state bucket", () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  beforeAll(async () => {
    server = await startNatsServer({ jetstream: true });
    nc = await connect({ servers: server.url });
  });
  afterAll(async () => {
    await nc?.close();
    await server?.stop();
  });

  it("loads back the incidents and restarts a leader wrote; a standby's restart is refused", async () => {
    const kv = await new Kvm(nc).create("recovery-kv-test", { history: 1 });
    let leading = true;
    const writer = new KvStateStore(kv, { canWrite: () => leading, historySize: 10, log: silentLogger() });
    const hostRec: StoredRecoveryHost = {
      host: "hv-b",
      state: "recovering",
      since: 2000,
      failedAt: 1000,
      attempts: [{ by: "driver", at: 1500, result: "off", readBackAt: 1600 }],
    };
    const restart = { vm: "web.1", host: "hv-b", destination: "hv-a", at: 1700, epoch: 4 };
    const stored: StoredRestart = { restart, requestId: restartRequestId(restart), outcome: "sent", detail: null, tries: 0, upAt: null };
    writer.recoveryHost(hostRec);
    await writer.restart(stored);
    // Written by the time it resolved: read straight from the bucket, not from the writer.
    const keys: string[] = [];
    for await (const k of await kv.keys()) keys.push(k);
    expect(keys.filter((k) => k.startsWith("restart."))).toHaveLength(1);
    await writer.flush();

    const st = await new KvStateStore(kv, { canWrite: () => true, historySize: 10, log: silentLogger() }).load();
    expect(st.recovery).toEqual({ hosts: [hostRec], restarts: [stored] });

    leading = false;
    await expect(writer.restart({ ...stored, outcome: "started", tries: 1 })).rejects.toThrow(/not the leader/);

    // A restart forgotten (its incident long over) leaves the bucket; a new leader loads none.
    leading = true;
    writer.forgetRestart(stored);
    await writer.flush();
    const after: string[] = [];
    for await (const k of await kv.keys()) after.push(k);
    expect(after.filter((k) => k.startsWith("restart."))).toEqual([]);
    expect((await new KvStateStore(kv, { canWrite: () => true, historySize: 10, log: silentLogger() }).load()).recovery?.restarts).toEqual([]);
  });
});
