import { describe, expect, it } from "vitest";
import { pino } from "pino";
import { SourceDiskHandler } from "../../../orchestrator/shell/source-disks.js";
import type { MigrationRecord } from "../../../shared/schemas/migration-record.js";
import type { RemoveDisksResult } from "../../../shared/schemas/agent-api.js";

// What becomes of the disk files a copy-storage migration leaves behind: the partial copies on the
// destination after a failure (here), the source copies after a success (test/integration/facts).

const NOW = 1_700_000_000_000;
const PATH = "/var/lib/libvirt/images/ld1.qcow2";

function record(over: Partial<MigrationRecord> = {}): MigrationRecord {
  return {
    requestId: "m-1",
    vm: "ld1",
    source: "hv-a",
    destination: "hv-b",
    strategy: "manual",
    code: "MANUAL",
    reason: "operator",
    state: "FAILED",
    queuedAt: NOW,
    startedAt: NOW + 10,
    finishedAt: NOW + 5000,
    error: "operation failed: migration out job: unexpectedly failed",
    copyStorage: true,
    copyDisks: ["vda"],
    checked: { result: "ok" },
    sourceDisks: { policy: "keep", paths: [PATH] },
    ...over,
  } as MigrationRecord;
}

function handler(answer: (host: string, body: { paths: string[] }) => Promise<RemoveDisksResult>) {
  const calls: { host: string; paths: string[] }[] = [];
  const touched: MigrationRecord[] = [];
  const h = new SourceDiskHandler({
    tracker: { touch: (r) => touched.push(r) },
    inventories: { locate: () => [] },
    removeDisks: (host, body) => {
      calls.push({ host, paths: body.paths });
      return answer(host, body);
    },
    clock: { now: () => NOW } as never,
    log: pino({ level: "silent" }),
  });
  return { h, calls, touched };
}

const settled = async (touched: MigrationRecord[]) => {
  for (let i = 0; i < 50 && touched.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
};

describe("partial disk copies after a failed copy-storage migration", () => {
  it("asks the destination to remove them, once, and records what it removed", async () => {
    const { h, calls, touched } = handler(async (_h, b) => ({ vm: "ld1", removed: b.paths, kept: [] }));
    const r = record();
    h.onFailedCopy(r);
    h.onFailedCopy(r);
    await settled(touched);
    expect(calls).toEqual([{ host: "hv-b", paths: [PATH] }]);
    expect(r.destinationDisks).toEqual({ removed: [PATH] });
  });

  it("records the destination's refusal (the VM is defined there after all) and an error", async () => {
    const refused = handler(async () => ({ vm: "ld1", removed: [], kept: [{ path: PATH, reason: "ld1 is defined on this host" }] }));
    const r1 = record();
    refused.h.onFailedCopy(r1);
    await settled(refused.touched);
    expect(r1.destinationDisks).toEqual({ removed: [], notRemoved: [{ path: PATH, reason: "ld1 is defined on this host" }] });

    const failing = handler(async () => {
      throw new Error("no responders");
    });
    const r2 = record({ requestId: "m-2" });
    failing.h.onFailedCopy(r2);
    await settled(failing.touched);
    expect(r2.destinationDisks?.error).toMatch(/remove-disks on hv-b failed: .*no responders/);
  });

  it.each([
    ["a migration that never started", { startedAt: undefined }],
    ["one that copied no disk", { copyDisks: [] }],
    ["one the destination did not check (its paths were not known free)", { checked: { result: "not-checked" as const } }],
    ["one that succeeded", { state: "SUCCEEDED" as const }],
    ["one that was skipped", { state: "SKIPPED" as const }],
  ])("leaves the destination alone after %s", async (_what, over) => {
    const { h, calls } = handler(async (_h, b) => ({ vm: "ld1", removed: b.paths, kept: [] }));
    const r = record(over as Partial<MigrationRecord>);
    h.onFailedCopy(r);
    await new Promise((res) => setTimeout(res, 20));
    expect(calls).toEqual([]);
    expect(r.destinationDisks).toBeUndefined();
  });
});
