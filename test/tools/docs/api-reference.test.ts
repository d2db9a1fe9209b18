import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { AgentApi } from "../../../shared/schemas/agent-api.js";
import { DecisionCode } from "../../../shared/schemas/decision-codes.js";
import { ErrorCode } from "../../../shared/schemas/envelope.js";
import { HostId } from "../../../shared/schemas/ids.js";
import { ORCHESTRATOR_ENDPOINTS, OrchestratorApi } from "../../../shared/schemas/orchestrator-api.js";
import { agentSubjects, orchestratorSubjects } from "../../../shared/subjects.js";
import { jsonOf, meaningOf, NAMED, PUBLISHED, renderApiReference, type Node } from "../../../tools/docs/api-reference.js";

// docs/api.md is generated from the API maps (tools/docs/api-reference.ts). It must be up to date,
// every field it shows must say what it means, and it must name every endpoint and every code.

const docUrl = new URL("../../../docs/api.md", import.meta.url);
const doc = existsSync(docUrl) ? readFileSync(docUrl, "utf8") : "";

/**
 * Every field without a description in a JSON Schema the reference renders, walked independently
 * of the generator: object properties (`a.b`), list items (`a[].b`), map values (`a{}.b`), union and
 * intersection variants (same path) and named types (`$defs`, under their name: `Plan.moves`).
 */
function undescribedFields(root: Node): string[] {
  const out = new Set<string>();
  const seen = new Set<Node>();
  const visit = (n: Node | boolean | undefined, path: string): void => {
    if (n === undefined || typeof n === "boolean" || seen.has(n)) return;
    seen.add(n);
    for (const [key, field] of Object.entries(n.properties ?? {})) {
      const p = path === "" ? key : `${path}.${key}`;
      if ((field.description ?? "").trim() === "") out.add(p);
      visit(field, p);
    }
    visit(n.items, `${path}[]`);
    visit(n.additionalProperties, `${path}{}`);
    for (const v of [...(n.anyOf ?? []), ...(n.oneOf ?? []), ...(n.allOf ?? [])]) visit(v, path);
    for (const [name, def] of Object.entries(n.$defs ?? {})) visit(def, name);
  };
  visit(root, "");
  return [...out].sort();
}

/** Every request, reply and published message the reference documents, and every type it describes. */
const BODIES: [string, z.ZodType, "input" | "output"][] = [
  ...ORCHESTRATOR_ENDPOINTS.flatMap((e): [string, z.ZodType, "input" | "output"][] => [
    [`${e} request`, OrchestratorApi[e].request, "input"],
    [`${e} reply`, OrchestratorApi[e].reply, "output"],
  ]),
  ...Object.entries(AgentApi).flatMap(([e, spec]): [string, z.ZodType, "input" | "output"][] => [
    [`agent ${e} request`, spec.request, "input"],
    [`agent ${e} reply`, spec.reply, "output"],
  ]),
  ...PUBLISHED.map((p): [string, z.ZodType, "input" | "output"] => [`published ${p.name}`, p.schema, "output"]),
  ...NAMED.map(([name, schema]): [string, z.ZodType, "input" | "output"] => [`type ${name}`, schema, "output"]),
];

describe("docs/api.md", () => {
  it("is what `npm run docs` generates from the schemas", () => {
    expect(doc, "docs/api.md is out of date: run `npm run docs`").toBe(renderApiReference());
  });

  it.each(BODIES)("every field of the %s has a description", (_name, schema, io) => {
    expect(undescribedFields(jsonOf(schema, io)), "fields without a description: add .describe() in shared/schemas/").toEqual([]);
  });

  it.each(ORCHESTRATOR_ENDPOINTS)("documents the orchestrator endpoint %s", (e) => {
    expect(doc).toContain(`\n### ${e}\n`);
    expect(doc).toContain(`Subject \`${orchestratorSubjects[e]}\``);
  });

  it.each(Object.keys(AgentApi))("documents the agent endpoint %s", (e) => {
    expect(doc).toContain(`\n### agent ${e}\n`);
    expect(doc).toContain(`Subject \`${agentSubjects("<host>")[e as keyof typeof AgentApi]}\``);
  });

  it.each(ErrorCode.options)("lists the error code %s", (c) => {
    expect(doc).toMatch(new RegExp(`^\\| \`${c}\` \\| \\S`, "m"));
  });

  it.each(DecisionCode.options)("lists the decision code %s", (c) => {
    expect(doc).toMatch(new RegExp(`^\\| \`${c}\` \\| \\S`, "m"));
  });

  it("never writes a double full stop between a description and its limits", () => {
    expect(doc).not.toMatch(/[^.]\.\. /);
  });
});

describe("undescribedFields", () => {
  it("finds a field without a description anywhere: nested, in lists, in unions, behind a named type", () => {
    const Named = z.object({ ok: z.number().describe("Ok."), bare: z.number() });
    const schema = z.object({
      a: z.number().describe("A."),
      b: z.number(),
      nested: z.object({ c: z.string(), d: z.string().describe("D.") }).describe("Nested."),
      list: z.array(z.object({ e: z.number() })).describe("List."),
      either: z.union([z.object({ f: z.boolean() }), z.object({ g: z.boolean().describe("G.") })]).describe("Either."),
      named: Named.describe("Named."),
      host: HostId,
      described: HostId.describe("A host."),
    });
    const json = jsonOf(schema, "output");
    expect(undescribedFields(json)).toEqual(["b", "either.f", "host", "list[].e", "named.bare", "nested.c"]);
    // The reference's named types sit in $defs; their fields are walked under the type's name.
    expect(undescribedFields(jsonOf(z.object({ plan: NAMED[0]![1].describe("A plan.") }), "output"))).toEqual([]);
  });
});

describe("meaningOf", () => {
  it("joins a description and its limits without a double full stop", () => {
    expect(meaningOf("Position in the plan.", "≥ 0")).toBe("Position in the plan. ≥ 0");
    expect(meaningOf("id of a pending plan", "at most 128 characters")).toBe("id of a pending plan. At most 128 characters");
    expect(meaningOf("", "≥ 1, ≤ 10000")).toBe("≥ 1, ≤ 10000");
    expect(meaningOf("Why.", "")).toBe("Why.");
  });
});
