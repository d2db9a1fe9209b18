import { describe, expect, it } from "vitest";
import { z } from "zod";
import {
  configSections,
  describedPaths,
  formatNumber,
  renderConfigFile,
  renderConfigReference,
  renderRange,
  renderType,
  type ConfigFile,
} from "../../../tools/docs/config-reference.js";
import { anchorsOf, relativeLinksOf } from "../../../tools/docs/markdown.js";

// A small config with one key of each kind the Ballast schemas use.
const Http = z
  .object({
    listen: z
      .string()
      .regex(/^(a|b):\d+$/)
      .nullable()
      .default(null)
      .describe("Where to listen."),
  })
  .strict()
  .describe("The HTTP server.");

const Square = z
  .object({ pattern: z.literal("square").describe("Selects it."), high: z.number().min(0).describe("High.") })
  .strict()
  .describe("A square wave.");

const Sample = z
  .object({
    interval: z.number().min(0.1).max(3600).default(10).meta({ unit: "s", description: "Seconds between cycles." }),
    cooldown_max: z.number().min(0).default(21_600).meta({ unit: "s", description: "Longest cooldown." }),
    log_bytes: z
      .number()
      .int()
      .min(1024 * 1024)
      .default(64 * 1024 * 1024)
      .meta({ unit: "bytes", description: "Log size." }),
    spare: z.number().int().min(0).default(1).describe("Spare hosts."),
    seed: z.number().int().default(1).describe("A seed."),
    mode: z.enum(["full", "manual"]).default("full").describe("How much it does alone."),
    name: z
      .string()
      .default(() => "computed-here")
      .meta({ defaultText: "the host name", description: "Its name." }),
    path: z.string().optional().describe("A file."),
    tags: z.array(z.string().min(1).max(10)).max(5).default([]).describe("Tags."),
    strategies: z
      .array(z.enum(["a", "b"]))
      .default(["a"])
      .describe("What runs."),
    undocumented: z.boolean().default(false),
    http: Http.default(() => Http.parse({})),
    vms: z
      .array(
        z
          .object({
            name: z.string().describe("VM name."),
            cpu: z
              .union([z.number().min(0).max(400), Square])
              .default(0)
              .describe("CPU."),
          })
          .strict()
          .describe("A VM."),
      )
      .default([])
      .describe("The VMs."),
    nats: z
      .object({ servers: z.array(z.string()).default([]).describe("Servers.") })
      .strict()
      .default({ servers: [] })
      .describe("NATS."),
  })
  .strict();

const sections = configSections(Sample, { envPrefix: "X_", seeAlso: { nats: "NATS part" } });
const top = sections[0]!;
const row = (path: string) => sections.flatMap((s) => s.keys).find((k) => k.path === path)!;

describe("configSections", () => {
  it("lists the top level first, then each nested section depth-first", () => {
    expect(top.keys.map((k) => k.path)).toContain("http");
    expect(sections.map((s) => [s.path, s.variant])).toEqual([
      ["", false],
      ["http", false],
      ["vms[]", false],
      ["vms[].cpu", true],
    ]);
  });

  it("renders type, default, unit and range of each key", () => {
    expect(row("interval")).toMatchObject({ type: "number", default: "`10`", unit: "s", range: "0.1–3600 (1 h)", description: "Seconds between cycles." });
    expect(row("cooldown_max")).toMatchObject({ default: "`21600` (6 h)", range: "≥ 0" });
    expect(row("log_bytes")).toMatchObject({ type: "integer", default: "`67108864` (64 MiB)", unit: "bytes", range: "≥ 1048576 (1 MiB)" });
    expect(row("spare")).toMatchObject({ type: "integer", range: "≥ 0" });
    expect(row("seed").range).toBe(""); // zod's safe-integer bounds are no limit worth listing
    expect(row("mode")).toMatchObject({ type: "`full` or `manual`", default: "`full`" });
    expect(row("name").default).toBe("the host name"); // never the value computed on this machine
    expect(row("path")).toMatchObject({ type: "string", default: "none" });
    expect(row("tags")).toMatchObject({ type: "list of string", default: "`[]`", range: "≤ 5 items; each 1–10 characters" });
    expect(row("strategies")).toMatchObject({ type: "list of `a` or `b`", default: "`[a]`" });
    expect(row("http.listen")).toMatchObject({ type: "string or null", default: "`null`", range: "pattern `^(a|b):\\d+$`" });
  });

  it("keeps a row for lists and unions of objects, and a section for their items and variants", () => {
    expect(row("vms")).toMatchObject({ type: "list of objects", section: "vms[]" });
    expect(row("vms[].name").default).toBe("required");
    expect(row("vms[].cpu")).toMatchObject({ type: "number or object", range: "0–400", section: "vms[].cpu" });
    expect(row("vms[].cpu.pattern").type).toBe("`square`");
    expect(row("http")).toMatchObject({ type: "section", default: "per key", section: "http", description: "The HTTP server." });
  });

  it("names each section's environment variables, and none inside lists", () => {
    expect(sections.map((s) => s.env)).toEqual(["X_<KEY>", "X_HTTP__<KEY>", null, null]);
  });

  it("does not descend into a section documented elsewhere", () => {
    expect(row("nats")).toMatchObject({ seeAlso: "NATS part", default: "per key" });
    expect(sections.flatMap((s) => s.keys).map((k) => k.path)).not.toContain("nats.servers");
  });
});

describe("describedPaths", () => {
  it("lists every key, section and variant with its description, empty where the schema has none", () => {
    const paths = describedPaths(Sample);
    expect(paths).toContainEqual({ path: "undocumented", description: "" });
    expect(paths).toContainEqual({ path: "http", description: "The HTTP server." });
    expect(paths).toContainEqual({ path: "vms[]", description: "A VM." });
    expect(paths).toContainEqual({ path: "vms[].cpu: a square wave", description: "A square wave." });
    expect(paths).toContainEqual({ path: "nats.servers", description: "Servers." });
    expect(paths.filter((p) => p.description === "").map((p) => p.path)).toEqual(["undocumented"]);
  });

  it("writes the key prefix before every path", () => {
    expect(describedPaths(z.object({ a: z.number().describe("A.") }), { keyPrefix: "nats." })).toEqual([{ path: "nats.a", description: "A." }]);
  });
});

describe("rendering", () => {
  const file = (title: string, schema: z.ZodType): ConfigFile => ({ title, intro: "Intro.", schema, envPrefix: "X_" });

  it("renders one table per section, with pipes escaped", () => {
    const md = renderConfigFile(file("Sample", Sample.omit({ nats: true })));
    expect(md).toContain("## Sample\n\nIntro.\n\nEnvironment: `X_<KEY>`.\n\n| key | type | default | unit | range | description |");
    expect(md).toContain("### `http`\n\nThe HTTP server.\n\nEnvironment: `X_HTTP__<KEY>`.");
    expect(md).toContain("pattern `^(a\\|b):\\d+$`");
    expect(md).toContain("### `vms[].cpu`: a square wave");
  });

  it("links sections documented elsewhere and repeated headings by GitHub's anchors", () => {
    const a = z.object({ http: Http.default(() => Http.parse({})), vms: Sample.shape.vms }).strict();
    const b = z.object({ http: Http.default(() => Http.parse({})), vms: Sample.shape.vms, nats: Sample.shape.nats }).strict();
    const md = renderConfigReference({
      title: "Reference",
      preamble: "## NATS part\n\nShared.",
      files: [file("A", a), { ...file("B", b), seeAlso: { nats: "NATS part" } }],
    });
    const anchors = anchorsOf(md);
    const targets = relativeLinksOf(md).map((l) => l.slice(1));
    expect(targets).toEqual(["http", "vms", "vmscpu-a-square-wave", "http-1", "vms-1", "nats-part", "vmscpu-a-square-wave-1"]);
    for (const t of targets) expect(anchors).toContain(t);
    expect(md.endsWith("\n") && !md.endsWith("\n\n")).toBe(true);
  });
});

describe("value formatting", () => {
  it.each([
    [10, "s", "10"],
    [3600, "s", "3600 (1 h)"],
    [2_592_000, "s", "2592000 (30 d)"],
    [1024 ** 3, "bytes", "1073741824 (1 GiB)"],
    [1500, "bytes", "1500"],
    [3600, "", "3600"],
  ])("formatNumber(%d, %j) = %s", (v, unit, out) => {
    expect(formatNumber(v, unit)).toBe(out);
  });

  it("renders ranges with exclusive bounds", () => {
    expect(renderRange({ type: "number", exclusiveMinimum: 0, maximum: 86_400 }, "s")).toBe("> 0, ≤ 86400 (1 d)");
    expect(renderRange({ type: "array", minItems: 1, items: { type: "string", minLength: 1 } })).toBe("≥ 1 item; each ≥ 1 character");
  });

  it("renders types of unions without repeating a kind", () => {
    expect(
      renderType({
        anyOf: [
          { type: "object", properties: {} },
          { type: "object", properties: {} },
        ],
      }),
    ).toBe("object");
  });
});
