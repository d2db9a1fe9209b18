import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { listTraceFiles, loadTraceDir, loadTraceDirs } from "../../../sim/traces/load.js";

describe("loadTraceDir", () => {
  it("takes files in sorted byte order, not directory order", () => {
    const dir = mkdtempSync(join(tmpdir(), "ballast-sim-"));
    for (const [name, v] of [
      ["b", "2"],
      ["A", "1"],
      ["a", "3"],
    ] as const)
      writeFileSync(join(dir, name), `${v}\n${v}\n`);
    writeFileSync(join(dir, "README.md"), "not a trace");
    expect(listTraceFiles(dir)).toEqual(["A", "a", "b"]);
    const t = loadTraceDir(dir, "planetlab", { expectedSamples: 2 });
    expect(t.map((x) => x.name)).toEqual(["A", "a", "b"]);
    expect(Array.from(t[2]!.cpu)).toEqual([0.02, 0.02]);
    expect(loadTraceDir(dir, "planetlab", { expectedSamples: 2, limit: 1 })).toHaveLength(1);
  });
});

describe("traces of any length", () => {
  const folder = (files: Record<string, number>) => {
    const dir = mkdtempSync(join(tmpdir(), "ballast-sim-"));
    for (const [name, n] of Object.entries(files)) writeFileSync(join(dir, name), Array.from({ length: n }, (_, i) => String(i % 100)).join("\n") + "\n");
    return dir;
  };

  it("accepts any number of samples per VM, the same for every VM", () => {
    expect(loadTraceDir(folder({ a: 5, b: 5 }), "planetlab").map((t) => t.cpu.length)).toEqual([5, 5]);
    expect(loadTraceDir(folder({ a: 600, b: 600 }), "planetlab")[0]!.cpu.length).toBe(600);
  });

  it("names the file and its count when lengths differ", () => {
    expect(() => loadTraceDir(folder({ a: 288, b: 287 }), "planetlab")).toThrow(/a has 288, b has 287/);
  });

  it("joins folders (days, in order) into one trace per VM, by file name", () => {
    const d1 = folder({ a: 3, b: 3 });
    const d2 = folder({ a: 2, b: 2 });
    writeFileSync(join(d2, "a"), "50\n60\n");
    const { traces, dropped } = loadTraceDirs([d1, d2], "planetlab");
    expect(dropped).toBe(0);
    expect(traces.map((t) => t.name)).toEqual(["a", "b"]);
    expect(Array.from(traces[0]!.cpu)).toEqual([0, 0.01, 0.02, 0.5, 0.6]);
  });

  it("refuses folders with different VMs unless told to keep the common ones", () => {
    const d1 = folder({ a: 3, b: 3, c: 3 });
    const d2 = folder({ a: 3, c: 3, d: 3 });
    expect(() => loadTraceDirs([d1, d2], "planetlab")).toThrow(/2 of 4 VMs are not in every folder.*--common-vms/);
    const j = loadTraceDirs([d1, d2], "planetlab", { commonVms: true });
    expect(j.traces.map((t) => t.name)).toEqual(["a", "c"]);
    expect(j.dropped).toBe(2);
  });
});
