import { describe, expect, it } from "vitest";
import {
  jobProgressPercent,
  migrationStatsFromJobFields,
  parseDomjobinfo,
  parseJobCompletedEvent,
  parseRawJobStats,
} from "../../../agent/virsh/parse-job-stats.js";
import { fixture } from "../support/fixtures.js";

describe("job-completed event", () => {
  it("gives libvirt's statistics of a real migration", () => {
    const fields = parseJobCompletedEvent(fixture("event-job-completed.txt"));
    expect(fields).toBeDefined();
    expect(migrationStatsFromJobFields(fields!, 5758)).toEqual({
      durationMs: 5758,
      elapsedMs: 4114,
      downtimeMs: 19,
      dataTotalBytes: 134_610_944,
      dataProcessedBytes: 725_781,
      memoryBps: 33_835_375,
      memoryIterations: 2,
    });
    // "events received: 1" is not a field.
    expect(fields!.has("events")).toBe(false);
  });

  it("is undefined when the watcher timed out", () => {
    expect(parseJobCompletedEvent(fixture("event-timeout.txt"))).toBeUndefined();
  });

  it("leaves out what libvirt did not report", () => {
    expect(migrationStatsFromJobFields(new Map([["downtime", 7]]), 10)).toEqual({ durationMs: 10, downtimeMs: 7 });
  });
});

describe("domjobinfo", () => {
  it("reads the human form of a completed job, sizes to bytes", () => {
    const info = parseDomjobinfo(fixture("domjobinfo-completed-destination.txt"));
    expect(info).toEqual({
      jobType: "Completed",
      operation: "Incoming migration",
      timeElapsedMs: 4103,
      dataProcessedBytes: Math.round(708.771 * 1024),
      dataRemainingBytes: 0,
      dataTotalBytes: Math.round(128.375 * 1024 * 1024),
      memoryBps: Math.round(32.268 * 1024 * 1024),
      iteration: 2,
      downtimeMs: 19,
    });
  });

  it("gives progress only once byte counts exist", () => {
    expect(jobProgressPercent(parseDomjobinfo(fixture("domjobinfo-running-early.txt")))).toBeUndefined();
    expect(jobProgressPercent(parseDomjobinfo(fixture("domjobinfo-none.txt")))).toBeUndefined();
    // Remaining 0 of 128 MiB: the copy is done even though only 0.7 MiB were non-zero pages.
    expect(jobProgressPercent(parseDomjobinfo(fixture("domjobinfo-running-outgoing.txt")))).toBe(100);
    expect(jobProgressPercent({ dataTotalBytes: 1000, dataRemainingBytes: 250 })).toBe(75);
    expect(jobProgressPercent({ dataTotalBytes: 1000, dataProcessedBytes: 1500 })).toBe(100);
  });

  it("reads --rawstats fields", () => {
    const raw = parseRawJobStats("Job type: 3\n\noperation: 4\ntime_elapsed: 4103\ndowntime: 19\n");
    expect(raw.get("time_elapsed")).toBe(4103);
    expect(raw.get("downtime")).toBe(19);
  });
});
