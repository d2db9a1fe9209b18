import { existsSync, readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

// The README is the first screen: what Ballast is, its features, the two commands that set it up
// and run it, and a link per topic into docs/. The reference lives in docs/ (see configuration.test.ts).

const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
const docsDir = new URL("../../docs/", import.meta.url);
const docs = existsSync(docsDir)
  ? readdirSync(docsDir)
      .filter((f) => f.endsWith(".md"))
      .sort()
  : [];

describe("README", () => {
  it.each(["bash deploy/setup.sh && bin/ballast demo", "bash deploy/setup.sh --test && npm test"])(
    "has the command `%s` verbatim, on a line of its own in a sh block",
    (command) => {
      expect(readme).toMatch(new RegExp("```sh\\n" + command.replace(/[.*+?^${}()|[\]\\]/g, "\\$&") + "\\n```"));
    },
  );

  it.each(docs)("links to docs/%s", (file) => {
    expect(readme).toContain(`](docs/${file})`);
  });

  it("links to the generated API reference, whether or not it is generated yet", () => {
    expect(readme).toContain("](docs/api.md)");
  });

  it("stays short: the reference belongs in docs/", () => {
    expect(readme.split("\n").length).toBeLessThanOrEqual(100);
    expect(Buffer.byteLength(readme)).toBeLessThanOrEqual(8 * 1024);
  });
});
