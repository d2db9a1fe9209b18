import { describe, expect, it } from "vitest";
import { anchorsOf, cell, code, relativeLinksOf, slug, table } from "../../../tools/docs/markdown.js";

describe("markdown helpers", () => {
  it.each([
    ["`sim.vms[]`", "simvms"],
    ["Policy (`policy:` in orchestrator.yaml, or a policy file)", "policy-policy-in-orchestratoryaml-or-a-policy-file"],
    ["The host_mapping CSV", "the-host_mapping-csv"],
    ["`rules[]`: a rule between VMs and hosts", "rules-a-rule-between-vms-and-hosts"],
    ["Running it on a real cluster", "running-it-on-a-real-cluster"],
  ])("slug(%j) = %s, as GitHub makes it", (heading, anchor) => {
    expect(slug(heading)).toBe(anchor);
  });

  it("numbers repeated headings and ignores headings in code blocks", () => {
    const md = "# A\n\n## `http`\n\n```sh\n# not a heading\n```\n\n## `http`\n";
    expect([...anchorsOf(md)]).toEqual(["a", "http", "http-1"]);
  });

  it("finds relative links outside code, and only those", () => {
    const md = [
      "See [ops](operations.md#security) and [site](https://nats.io).",
      "`[not](a-link.md)` and ``[neither](b.md)``",
      "```md",
      "[inside](c.md)",
      "```",
      "![plot](../sim/results/x.svg) [here](#top)",
    ].join("\n");
    expect(relativeLinksOf(md)).toEqual(["operations.md#security", "../sim/results/x.svg", "#top"]);
  });

  it("escapes pipes and line breaks in table cells", () => {
    expect(cell("a|b\nc")).toBe("a\\|b c");
    expect(table(["k", "v"], [["`x|y`", "1"]])).toBe("| k | v |\n| --- | --- |\n| `x\\|y` | 1 |");
  });

  it("fences code that holds a backtick", () => {
    expect(code("a")).toBe("`a`");
    expect(code("a`b")).toBe("``a`b``");
  });
});
