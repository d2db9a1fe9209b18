import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../support/lab.js";

// Lab test files run two at a time (vitest maxWorkers 2), and a lab's name is its namespaces and
// directory: two files with one name tear down each other's lab (seen: a check-incoming failed
// because the other file's `labDown` removed the socket). Every lab test picks its own name.

describe("lab test names", () => {
  it("are unique across test/lab and test/e2e", () => {
    const names: [string, string][] = [];
    for (const dir of ["test/lab", "test/e2e"])
      for (const f of readdirSync(join(REPO_ROOT, dir)).filter((x) => x.endsWith(".test.ts"))) {
        const text = readFileSync(join(REPO_ROOT, dir, f), "utf8");
        const m = /const (?:NAME|LAB) = (?:\{ name: )?"([^"]+)"/.exec(text);
        if (m) names.push([m[1]!, `${dir}/${f}`]);
      }
    expect(names.length).toBeGreaterThanOrEqual(5);
    const seen = new Map<string, string>();
    for (const [name, file] of names) {
      expect(seen.get(name), `${file} uses lab name "${name}" like ${seen.get(name)}`).toBeUndefined();
      seen.set(name, file);
    }
  });
});
