import { describe, expect, it } from "vitest";
import type { z } from "zod";
import {
  decodeRecord,
  encodeRecord,
  FrozenEntry,
  HA_FORMAT,
  HaRecordError,
  LeaseEntry,
  MaintenanceEntry,
  MigrationEntry,
  PausedEntry,
  PendingPlanEntry,
} from "../../../../orchestrator/shell/ha/ha-records.js";
import { BallastError } from "../../../../shared/errors.js";
import type { MigrationRecord } from "../../../../shared/schemas/migration-record.js";
import type { Plan } from "../../../../shared/schemas/plan.js";
import { BALLAST_VERSION } from "../../../../shared/version.js";

// The records HA orchestrators keep in their KV bucket: what this version writes it reads back,
// and anything else (another format, Ballast 0.1's unversioned JSON, junk) is refused with an error
// that says which key and why.

const record: MigrationRecord = {
  requestId: "r-1",
  vm: "web-1",
  source: "a",
  destination: "b",
  destinationAddress: "10.0.0.2",
  strategy: "hotspot",
  code: "HOST_OVERLOADED",
  reason: "a at 91 %",
  numbers: { cpuPercent: 91, note: "x", ok: true, none: null },
  planId: "plan-1",
  state: "SUCCEEDED",
  queuedAt: 10,
  startedAt: 20,
  finishedAt: 30,
  progress: 100,
  stats: { durationMs: 900, downtimeMs: 12, dataTotalBytes: 1e8 },
  error: "none",
  memMiB: 2048,
  cpuPercent: 12.5,
};

const plan: Plan = {
  id: "plan-1",
  createdAt: 1000,
  mode: "balance",
  snapshotDigest: "abc",
  moves: [
    {
      seq: 0,
      vm: "web-1",
      source: "a",
      destination: "b",
      strategy: "balance",
      code: "IMBALANCE",
      reason: "r",
      numbers: { x: 1 },
      costMiB: 2048,
      brokenShouldRules: [],
    },
  ],
  decisions: [{ kind: "host", subject: "c", code: "DEST_CPU", message: "c is busy", numbers: { cpuPercent: 80 } }],
  indicators: { imbalanceBefore: 10, imbalanceAfter: 5, hostsFreed: [], migrations: 1, bytesToMove: 2048, overloadedBefore: 1, overloadedAfter: 0 },
  emptyHosts: ["c"],
  frozen: ["db-1"],
  adaptation: null,
  memAdaptation: null,
  power: [],
};

const lease = { instance: "orch-a", epoch: 3, renewedAt: 1000, expiresAt: 4000 };

/** Decodes and returns the error thrown (fails the test when nothing is thrown). */
function refusal(schema: z.ZodType, key: string, text: string): HaRecordError {
  try {
    decodeRecord(schema, key, text);
  } catch (e) {
    expect(e).toBeInstanceOf(HaRecordError);
    if (e instanceof HaRecordError) return e;
  }
  throw new Error(`decodeRecord accepted ${text}`);
}

describe("encodeRecord / decodeRecord round trip", () => {
  it.each([
    ["mig.r-1", MigrationEntry, { record }],
    ["plan.plan-1", PendingPlanEntry, { plan, expiresAt: 99_000 }],
    ["state.maintenance", MaintenanceEntry, { hosts: ["a", "b"] }],
    ["state.frozen", FrozenEntry, { vms: ["web-1", "db.2"] }],
    ["state.paused", PausedEntry, { reason: "upgrading" }],
    ["state.paused", PausedEntry, { reason: null }],
    ["leader", LeaseEntry, lease],
    ["leader", LeaseEntry, { ...lease, released: true }],
  ] as const)("%s (%#) reads back what was written, stamped with format and writer", (key, schema, fields) => {
    const text = encodeRecord(fields);
    expect(decodeRecord(schema, key, text)).toEqual({ v: HA_FORMAT, writer: BALLAST_VERSION, ...fields });
  });

  it("writes the stamp first: format 1 and this Ballast version", () => {
    expect(HA_FORMAT).toBe(1);
    expect(encodeRecord({ hosts: [] })).toBe(`{"v":1,"writer":${JSON.stringify(BALLAST_VERSION)},"hosts":[]}`);
  });
});

describe("decodeRecord refuses what it cannot read", () => {
  it("a record of another format: names the key, both formats and both versions", () => {
    const text = JSON.stringify({ v: 2, writer: "0.3.0", ...lease });
    const e = refusal(LeaseEntry, "leader", text);
    expect(e.name).toBe("HaRecordError");
    expect(e).toBeInstanceOf(BallastError);
    expect(e.code).toBe("INTERNAL");
    expect(e.key).toBe("leader");
    expect(e.message).toContain("HA record leader");
    expect(e.message).toContain("format 2");
    expect(e.message).toContain("written by Ballast 0.3.0");
    expect(e.message).toContain(`Ballast ${BALLAST_VERSION}`);
    expect(e.message).toContain(`reads format ${HA_FORMAT}`);
    expect(e.message).toContain("nats kv get");
  });

  it("another format without a writer says the version is unknown", () => {
    const e = refusal(MigrationEntry, "mig.r-1", JSON.stringify({ v: 2, record }));
    expect(e.message).toContain("format 2");
    expect(e.message).toContain("unknown version");
  });

  it('a format given as a string ("1") is another format', () => {
    const e = refusal(MaintenanceEntry, "state.maintenance", JSON.stringify({ v: "1", writer: BALLAST_VERSION, hosts: [] }));
    expect(e.message).toContain('format "1"');
  });

  it.each([
    ["a Ballast 0.1 lease", "leader", LeaseEntry, JSON.stringify({ instance: "a", epoch: 3, renewedAt: 1000, expiresAt: 4000 })],
    ["a Ballast 0.1 migration record", "mig.r-1", MigrationEntry, JSON.stringify(record)],
    ["Ballast 0.1 maintenance (a plain list)", "state.maintenance", MaintenanceEntry, JSON.stringify(["a", "b"])],
  ] as const)("an unversioned record (%s): says it has no format version", (_what, key, schema, text) => {
    const e = refusal(schema, key, text);
    expect(e.key).toBe(key);
    expect(e.message).toContain(`HA record ${key}`);
    expect(e.message).toContain("no format version");
    expect(e.message).toContain("Ballast 0.1");
    expect(e.message).toContain(`Ballast ${BALLAST_VERSION}`);
    expect(e.message).toContain(`reads format ${HA_FORMAT}`);
  });

  it("invalid JSON: says it is not JSON and keeps the parser's error as cause", () => {
    const e = refusal(PausedEntry, "state.paused", '{"v":1,"writer":"0.1.0","reason":');
    expect(e.key).toBe("state.paused");
    expect(e.message).toMatch(/^HA record state\.paused is not JSON \(/);
    expect(e.cause).toBeInstanceOf(SyntaxError);
  });

  it("a schema failure names the field path", () => {
    const bad = JSON.stringify({ v: 1, writer: "0.1.0", record: { ...record, memMiB: -1 } });
    const e = refusal(MigrationEntry, "mig.r-1", bad);
    expect(e.message).toContain("HA record mig.r-1 (format 1, written by Ballast 0.1.0) is not valid: record.memMiB:");
  });

  it("a schema failure of a top-level field names it; a missing writer is not trusted either", () => {
    const e = refusal(LeaseEntry, "leader", JSON.stringify({ v: 1, writer: "0.1.0", ...lease, epoch: -1 }));
    expect(e.message).toContain("is not valid: epoch:");
    const noWriter = refusal(LeaseEntry, "leader", JSON.stringify({ v: 1, ...lease }));
    expect(noWriter.message).toContain("is not valid: writer:");
  });

  it("a record of another kind under a key fails its schema", () => {
    const e = refusal(MaintenanceEntry, "state.maintenance", encodeRecord({ vms: ["web-1"] }));
    expect(e.message).toContain("is not valid: hosts:");
  });
});
