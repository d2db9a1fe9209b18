import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Kvm, type KV } from "@nats-io/kv";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { pino } from "pino";
import { decodeRecord, encodeRecord, HaRecordError, LeaseEntry } from "../../../../orchestrator/shell/ha/ha-records.js";
import { LeaderLease } from "../../../../orchestrator/shell/ha/leader-lease.js";
import { startNatsServer, type NatsServerHandle } from "../../../support/nats-server.js";

// A standby never takes over a lease it cannot read (another format, or Ballast 0.1's unversioned
// JSON): it says so each period and never leads. A released lease of this format is taken at once.

const KEY = "leader";
const TTL_MS = 300; // checks every 100 ms

/** Waits until `cond` holds, polling every 20 ms; fails after `ms`. */
async function waitFor(cond: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

interface LogLine {
  level: number;
  msg: string;
  err?: string;
}

const isLogLine = (x: unknown): x is LogLine => typeof x === "object" && x !== null && "msg" in x && "level" in x;

describe("LeaderLease against a real JetStream KV bucket", () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let buckets = 0;
  const leases: LeaderLease[] = [];

  beforeAll(async () => {
    server = await startNatsServer({ jetstream: true });
    nc = await connect({ servers: server.url });
  });

  afterEach(async () => {
    for (const l of leases.splice(0)) await l.stop();
  });

  afterAll(async () => {
    await nc?.close();
    await server?.stop();
  });

  const bucket = async (): Promise<KV> => new Kvm(nc).create(`lease-test-${++buckets}`, { history: 1 });

  function standby(kv: KV, ttlMs = TTL_MS) {
    const lines: LogLine[] = [];
    const acquired: number[] = [];
    const log = pino(
      { level: "debug" },
      {
        write: (l: string) => {
          const x: unknown = JSON.parse(l);
          if (isLogLine(x)) lines.push(x);
        },
      },
    );
    const lease = new LeaderLease(kv, {
      key: KEY,
      instance: "orch-new",
      ttlMs,
      log,
      onAcquire: async (epoch) => void acquired.push(epoch),
      onLose: () => undefined,
    });
    leases.push(lease);
    return { lease, lines, acquired };
  }

  it.each([
    [
      "a lease of another format",
      JSON.stringify({ v: 2, writer: "0.3.0", instance: "orch-old", epoch: 3, renewedAt: 1, expiresAt: 2 }),
      "format 2 (written by Ballast 0.3.0)",
    ],
    ["Ballast 0.1's unversioned lease", JSON.stringify({ instance: "orch-old", epoch: 3, renewedAt: 1, expiresAt: 2 }), "no format version"],
  ])("never takes over %s: logs the error each period and never leads", async (_what, text, says) => {
    const kv = await bucket();
    const revision = await kv.put(KEY, text);
    const { lease, lines, acquired } = standby(kv);
    lease.start();
    const failures = () => lines.filter((l) => l.msg === "lease check failed");
    // Five failed checks span more than a whole lease period without a change of the lease: a
    // standby that read the lease would have taken it over by then.
    await waitFor(() => failures().length >= 5, 5000, "five failed lease checks");
    expect(lease.isLeader()).toBe(false);
    expect(lease.epoch()).toBeUndefined();
    expect(acquired).toEqual([]);
    for (const f of failures()) {
      expect(f.level).toBe(40);
      expect(f.err).toContain("HA record leader has");
      expect(f.err).toContain(says);
    }
    expect(lines.filter((l) => l.msg.includes("won the leader lease") || l.msg === "leading")).toEqual([]);
    // The lease in the bucket was not touched.
    const e = await kv.get(KEY);
    expect(e?.revision).toBe(revision);
    expect(e?.string()).toBe(text);
    await expect(lease.holder()).rejects.toBeInstanceOf(HaRecordError);
  });

  it("takes over a released lease of this format at once, with the next epoch", async () => {
    const kv = await bucket();
    await kv.put(KEY, encodeRecord({ instance: "orch-old", epoch: 3, renewedAt: 1, expiresAt: 1, released: true }));
    // A long lease: taking over only once it ran out would take 3 s, well past the wait below.
    const { lease, acquired, lines } = standby(kv, 3000);
    lease.start();
    await waitFor(() => lease.isLeader(), 1500, "the standby to lead");
    expect(lease.epoch()).toBe(4);
    expect(acquired).toEqual([4]);
    expect(lease.leader()).toBe("orch-new");
    expect(lines.filter((l) => l.msg === "lease check failed")).toEqual([]);
    const e = await kv.get(KEY);
    expect(decodeRecord(LeaseEntry, KEY, e?.string() ?? "")).toMatchObject({ instance: "orch-new", epoch: 4 });
    expect(await lease.holder()).toBe("orch-new");
  });
});
