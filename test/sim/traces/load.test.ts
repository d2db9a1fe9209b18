import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { listTraceFiles, loadTraceDir } from "../../../sim/traces/load.js";

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
