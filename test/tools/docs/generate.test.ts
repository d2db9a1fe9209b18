import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { GENERATED_DOCS, generateDocs, type GeneratedDoc } from "../../../tools/docs/generate.js";

const dirs: string[] = [];
const tempRoot = () => {
  const d = mkdtempSync(join(tmpdir(), "ballast-docs-"));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const docs: GeneratedDoc[] = [
  { path: "docs/one.md", render: () => "# One\n" },
  { path: "docs/two.md", render: async () => "# Two\n" },
];

describe("generateDocs", () => {
  it("check mode names the stale and missing documents and writes nothing", async () => {
    const root = tempRoot();
    mkdirSync(join(root, "docs"));
    writeFileSync(join(root, "docs/one.md"), "# One, edited by hand\n");
    const r = await generateDocs({ root, docs, check: true });
    expect(r).toEqual({ written: [], stale: ["docs/one.md", "docs/two.md"] });
    expect(readFileSync(join(root, "docs/one.md"), "utf8")).toBe("# One, edited by hand\n");
    expect(existsSync(join(root, "docs/two.md"))).toBe(false);
  });

  it("writes what is stale, creating docs/, and then finds nothing to do", async () => {
    const root = tempRoot();
    expect(await generateDocs({ root, docs })).toEqual({ written: ["docs/one.md", "docs/two.md"], stale: ["docs/one.md", "docs/two.md"] });
    expect(readFileSync(join(root, "docs/two.md"), "utf8")).toBe("# Two\n");
    expect(await generateDocs({ root, docs, check: true })).toEqual({ written: [], stale: [] });
  });

  it("knows the configuration reference", () => {
    expect(GENERATED_DOCS.map((d) => d.path)).toContain("docs/configuration.md");
  });
});
