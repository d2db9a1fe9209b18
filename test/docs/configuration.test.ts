import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { z } from "zod";
import { AgentConfig } from "../../shared/config/agent-config.js";
import { LIST_KEYS } from "../../shared/config/load-config.js";
import { NatsConfig } from "../../shared/config/nats-config.js";
import { OrchestratorConfig } from "../../shared/config/orchestrator-config.js";
import { Policy } from "../../shared/config/policy.js";
import { describedPaths, jsonSchemaOf, type JsonNode } from "../../tools/docs/config-reference.js";
import { renderConfigurationDoc } from "../../tools/docs/configuration-doc.js";

// docs/configuration.md is generated from the config schemas (tools/docs/). It must be up to date,
// every key must carry a description, and every key must be listed in it.

const docUrl = new URL("../../docs/configuration.md", import.meta.url);
const doc = existsSync(docUrl) ? readFileSync(docUrl, "utf8") : "";

const SCHEMAS: [string, z.ZodType, string][] = [
  ["orchestrator", OrchestratorConfig, ""],
  ["policy", Policy, ""],
  ["agent", AgentConfig, ""],
  ["nats", NatsConfig, "nats."],
];

/**
 * Every key path of a schema, found independently of the generator's walk: nested sections as
 * `section.key`, list items as `key[].item`, union variants under the same path. The sections the
 * reference documents once (`nats`, `policy` inside another file) are not descended into.
 */
function keyPaths(node: JsonNode, prefix: string, top = true): string[] {
  const out: string[] = [];
  for (const [key, child] of Object.entries(node.properties ?? {})) {
    const path = `${prefix}${key}`;
    out.push(path);
    if (top && prefix === "" && (key === "nats" || key === "policy")) continue;
    const items = child.items ?? child;
    const list = child.items !== undefined;
    for (const o of [items, ...(items.anyOf ?? [])].filter((n) => n.properties !== undefined)) out.push(...keyPaths(o, `${path}${list ? "[]" : ""}.`, false));
  }
  return [...new Set(out)];
}

describe("docs/configuration.md", () => {
  it("is what `npm run docs` generates from the schemas", () => {
    expect(doc, "docs/configuration.md is out of date: run `npm run docs`").toBe(renderConfigurationDoc());
  });

  describe.each(SCHEMAS)("%s config", (_name, schema, prefix) => {
    it.each(describedPaths(schema, { keyPrefix: prefix }).map((e) => [e.path, e.description] as const))(
      "%s has a description in its schema",
      (_path, description) => {
        expect(description.trim()).not.toBe("");
      },
    );

    it.each(keyPaths(jsonSchemaOf(schema), prefix))("lists %s", (path) => {
      expect(doc).toContain(`| \`${path}\` |`);
    });
  });

  it("states the environment variable rule, with every key that takes a comma-separated list", () => {
    expect(doc).toContain("`BALLAST_<KEY>`");
    expect(doc).toContain("`BALLAST_<SECTION>__<KEY>`");
    expect(doc).toContain("Environment: `BALLAST_POLICY__<KEY>`.");
    expect(doc).toContain("Environment: `BALLAST_HA__<KEY>`.");
    expect(doc).toContain("Environment: `BALLAST_NATS__TLS__<KEY>`.");
    for (const key of LIST_KEYS) expect(doc).toContain(`\`${key}\``);
  });

  it("gives defaults and units where the schema has them", () => {
    expect(doc).toMatch(/^\| `load_threshold` \| number \| `80` \| % \| 0–100 \|/m);
    expect(doc).toMatch(/^\| `ha\.decisions_max_bytes` \| integer \| `67108864` \(64 MiB\) \| bytes \|/m);
    expect(doc).toMatch(/^\| `host` \| string \| the short host name \|/m);
  });
});
