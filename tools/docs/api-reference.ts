import { z } from "zod";
import { AgentApi, MigrationEvent, MigrationInfo, MigrationStats } from "../../shared/schemas/agent-api.js";
import { DECISION_CODE_HELP, DecisionCode } from "../../shared/schemas/decision-codes.js";
import { LoggedDecision } from "../../shared/schemas/decision-log.js";
import { ERROR_CODE_HELP, ErrorCode } from "../../shared/schemas/envelope.js";
import { Heartbeat, HostMetrics } from "../../shared/schemas/host-metrics.js";
import { HostId, MigrationAddress, RequestId, VmName } from "../../shared/schemas/ids.js";
import { MigrationRecord } from "../../shared/schemas/migration-record.js";
import {
  HostStatus,
  LEGACY_FIELDS,
  MigrationBrief,
  ORCHESTRATOR_ENDPOINTS,
  OrchestratorApi,
  RecoveryHistoryEntry,
} from "../../shared/schemas/orchestrator-api.js";
import { OrchestratorEventMessage } from "../../shared/schemas/orchestrator-events.js";
import { Decision, Indicators, Plan, PlannedMove } from "../../shared/schemas/plan.js";
import { ClusterSnapshot, HostSample, InFlightMigration, PastMove, SnapshotHost, SnapshotVm } from "../../shared/schemas/snapshot.js";
import { VmInfo } from "../../shared/schemas/vm.js";
import { MAX_REQUEST_BYTES } from "../../shared/nats/handle-request.js";
import { ReplyHeader } from "../../shared/nats/reply-headers.js";
import { agentSubjects, allAgents, orchestratorInstanceSubject, orchestratorSubjects } from "../../shared/subjects.js";
import type { JsonNode } from "./config-reference.js";
import { code, table } from "./markdown.js";

// docs/api.md, generated from the API maps (OrchestratorApi, AgentApi) and the schemas they name:
// every subject, every request and reply field, every error and decision code. Pure: schemas in,
// Markdown out. Named types (registered below) get a section of their own and are linked from
// every field of that type, so a plan or a migration record is described once.

/**
 * The parts of a JSON Schema node the reference reads: those the configuration reference reads,
 * plus the references to named types and the shapes only replies have.
 */
export interface Node extends Omit<JsonNode, "properties" | "items" | "anyOf" | "oneOf"> {
  $ref?: string;
  properties?: Record<string, Node>;
  items?: Node;
  anyOf?: Node[];
  oneOf?: Node[];
  allOf?: Node[];
  additionalProperties?: Node | boolean;
  $defs?: Record<string, Node>;
}

/** Types described once, in this order, and linked from every field that has them. */
export const NAMED: readonly (readonly [string, z.ZodType])[] = [
  ["Plan", Plan],
  ["PlannedMove", PlannedMove],
  ["Decision", Decision],
  ["Indicators", Indicators],
  ["MigrationRecord", MigrationRecord],
  ["MigrationStats", MigrationStats],
  ["MigrationBrief", MigrationBrief],
  ["LoggedDecision", LoggedDecision],
  ["RecoveryHistoryEntry", RecoveryHistoryEntry],
  ["HostStatus", HostStatus],
  ["ClusterSnapshot", ClusterSnapshot],
  ["SnapshotHost", SnapshotHost],
  ["SnapshotVm", SnapshotVm],
  ["HostSample", HostSample],
  ["InFlightMigration", InFlightMigration],
  ["PastMove", PastMove],
  ["HostMetrics", HostMetrics],
  ["VmInfo", VmInfo],
  ["MigrationInfo", MigrationInfo],
  ["HostId", HostId],
  ["VmName", VmName],
  ["RequestId", RequestId],
  ["MigrationAddress", MigrationAddress],
];

/** Enums too long for a table cell: linked to their own section. */
const ENUM_SECTIONS: readonly (readonly [readonly string[], string, string])[] = [
  [DecisionCode.options, "decision code", "decision-codes"],
  [ErrorCode.options, "error code", "error-codes"],
];

// The descriptions (.describe/.meta) live in zod's global registry; the ids that turn named types
// into $defs are added on top, for this rendering only.
const ids = new Map<z.ZodType, string>(NAMED.map(([name, s]) => [s, name]));
const registry = {
  get: (s: z.ZodType) => {
    const id = ids.get(s);
    const meta = z.globalRegistry.get(s);
    return id === undefined ? meta : { ...meta, id };
  },
} as unknown as z.core.$ZodRegistry<z.core.GlobalMeta>;

/** The JSON Schema the reference renders of a schema: named types as `$defs`, descriptions included. */
export function jsonOf(schema: z.ZodType, io: "input" | "output"): Node {
  return z.toJSONSchema(schema, { metadata: registry, io, unrepresentable: "any" }) as Node;
}

const anchor = (name: string): string => name.toLowerCase();
const refName = (ref: string): string => ref.replace(/^#\/\$defs\//, "");
const flow = (v: unknown): string => JSON.stringify(v);

/** A field's type in one cell: named types and long enums are links. */
export function typeOf(n: Node): string {
  if (n.$ref !== undefined) {
    const name = refName(n.$ref);
    return `[${name}](#${anchor(name)})`;
  }
  if (n.const !== undefined) return code(flow(n.const));
  if (n.enum) {
    const values = n.enum.map(String);
    const section = ENUM_SECTIONS.find(([all]) => values.length > 8 && values.every((v) => all.includes(v)));
    if (section) return `[${section[1]}](#${section[2]})${values.length < section[0].length ? ` (${values.length} of them)` : ""}`;
    return values.map((v) => code(v)).join(" | ");
  }
  const variants = n.anyOf ?? n.oneOf;
  if (variants) return [...new Set(variants.map(typeOf))].join(" or ");
  if (n.allOf) return n.allOf.map(typeOf).join(" and ");
  const types = n.type === undefined ? [] : Array.isArray(n.type) ? n.type : [n.type];
  if (types.includes("array")) return `list of ${n.items ? typeOf(n.items) : "values"}`;
  if (types.includes("object")) {
    if (n.properties) return "object";
    const values = typeof n.additionalProperties === "object" ? typeOf(n.additionalProperties) : "values";
    return `map of ${values}`;
  }
  return types.length > 0 ? types.join(" or ") : "any JSON";
}

/** A field's meaning: its description, then its limits (a sentence of their own when both are there). */
export function meaningOf(description: string, limits: string): string {
  if (limits === "") return description;
  if (description === "") return limits;
  const sentence = /[.!?]$/.test(description) ? description : `${description}.`;
  return `${sentence} ${limits.charAt(0).toUpperCase()}${limits.slice(1)}`;
}

/** Bounds and patterns worth a reader's eye, short. */
function limitsOf(n: Node): string {
  const parts: string[] = [];
  const big = (x: number) => Math.abs(x) >= Number.MAX_SAFE_INTEGER;
  if (n.minimum !== undefined && !big(n.minimum)) parts.push(`≥ ${n.minimum}`);
  if (n.exclusiveMinimum !== undefined) parts.push(`> ${n.exclusiveMinimum}`);
  if (n.maximum !== undefined && !big(n.maximum)) parts.push(`≤ ${n.maximum}`);
  if (n.maxLength !== undefined) parts.push(`at most ${n.maxLength} characters`);
  if (n.maxItems !== undefined) parts.push(`at most ${n.maxItems} items`);
  if (n.pattern !== undefined) parts.push(`pattern ${code(n.pattern)}`);
  return parts.join(", ");
}

interface Row {
  path: string;
  type: string;
  presence: string;
  description: string;
}

/**
 * The fields of an object node as rows; anonymous nested objects (and lists of them) are
 * flattened into `parent.field` / `parent[].field` rows, named types stay links.
 */
function rowsOf(n: Node, prefix = ""): Row[] {
  const out: Row[] = [];
  const required = new Set(n.required ?? []);
  for (const [key, f] of Object.entries(n.properties ?? {})) {
    const path = `${prefix}${key}`;
    const presence = f.default !== undefined ? `default ${code(flow(f.default))}` : required.has(key) ? "required" : "optional";
    const limits = limitsOf(f);
    const description = meaningOf(f.description ?? "", limits);
    out.push({ path, type: typeOf(f), presence, description });
    if (f.properties) out.push(...rowsOf(f, `${path}.`));
    else if (f.items?.properties) out.push(...rowsOf(f.items, `${path}[].`));
    else for (const v of f.anyOf ?? f.oneOf ?? []) if (v.properties) out.push(...rowsOf(v, `${path}.`));
  }
  return out;
}

function fieldsTable(n: Node, presenceHeader: string): string {
  const rows = rowsOf(n);
  return table(
    ["field", "type", presenceHeader, "meaning"],
    rows.map((r) => [code(r.path), r.type, r.presence, r.description]),
  );
}

/** A request, a reply or a message body: its fields, or what it is when it is not an object of fields. */
function bodyOf(schema: z.ZodType, io: "input" | "output", presenceHeader: string, emptyText: string): string {
  const n = jsonOf(schema, io);
  const root = n.$ref !== undefined && n.$defs ? { ...n.$defs[refName(n.$ref)], $ref: n.$ref } : n;
  if (root.$ref !== undefined) return `${typeOf({ $ref: root.$ref })}${root.description ? `: ${root.description}` : ""}`;
  const variants = root.anyOf ?? root.oneOf;
  if (variants && variants.every((v) => v.properties))
    return variants.map((v, i) => `One of these (${i + 1} of ${variants.length}):\n\n${fieldsTable(v, presenceHeader)}`).join("\n\n");
  if (root.properties) return Object.keys(root.properties).length === 0 ? emptyText : fieldsTable(root, presenceHeader);
  return `${typeOf(root)}${root.description ? `: ${root.description}` : ""}`;
}

const req = (subject: string, body: unknown): string => `nats req ${subject} '${JSON.stringify(body)}'`;

function examplesOf(subject: string, examples: readonly (readonly [unknown, string])[]): string {
  const lines = examples.map(([body, note]) => (note ? `${req(subject, body)}   # ${note}` : req(subject, body)));
  return ["```sh", ...lines, "```"].join("\n");
}

function orchestratorSection(): string {
  const out: string[] = [
    "## Orchestrator endpoints",
    "",
    `Each endpoint answers on \`ballast.orch.<endpoint>\` (any instance; with HA a standby forwards it to the leader) and on \`${orchestratorInstanceSubject("<instance>", "status").replace(/status$/, "<endpoint>")}\` (that one instance). ` +
      "Access `read` endpoints change nothing: a read-only identity may call them (`ballast credentials --readonly`); `operate` ones need an operator identity.",
  ];
  for (const e of ORCHESTRATOR_ENDPOINTS) {
    const spec = OrchestratorApi[e];
    const legacy = LEGACY_FIELDS[e];
    out.push(
      "",
      `### ${e}`,
      "",
      spec.summary,
      "",
      `Subject ${code(orchestratorSubjects[e])}, access \`${spec.access}\`.`,
      "",
      "Request:",
      "",
      bodyOf(spec.request, "input", "required / default", "No fields: send `{}` (or an empty body)."),
      ...(legacy
        ? [
            "",
            `Deprecated spellings still accepted in this version: ${Object.entries(legacy)
              .map(([old, now]) => `${code(old)} for ${code(now)}`)
              .join(", ")}.`,
          ]
        : []),
      "",
      "Reply `data`:",
      "",
      bodyOf(spec.reply, "output", "presence", "An empty object."),
      "",
      examplesOf(orchestratorSubjects[e], spec.examples),
    );
  }
  return out.join("\n");
}

function agentSection(): string {
  const host = "hv-a";
  const out: string[] = [
    "## Agent endpoints",
    "",
    "Each agent answers on `ballast.agent.<host>.<endpoint>`; the examples use host `hv-a`. The orchestrator is their usual caller; an operator may call them too (an agent identity can answer only its own).",
  ];
  for (const [e, spec] of Object.entries(AgentApi)) {
    const subject = agentSubjects(host)[e as keyof typeof AgentApi];
    out.push(
      "",
      `### agent ${e}`,
      "",
      spec.summary,
      "",
      `Subject ${code(agentSubjects("<host>")[e as keyof typeof AgentApi])}.`,
      "",
      "Request:",
      "",
      bodyOf(spec.request, "input", "required / default", "No fields: send `{}` (or an empty body)."),
      "",
      "Reply `data`:",
      "",
      bodyOf(spec.reply, "output", "presence", "An empty object."),
      "",
      examplesOf(subject, spec.examples),
    );
  }
  return out.join("\n");
}

/** What is published (no reply), by whom and when. */
export const PUBLISHED: readonly { subject: string; from: string; when: string; schema: z.ZodType; name: string }[] = [
  { subject: allAgents.metrics, name: "metrics", from: "each agent", when: "every `interval` seconds: host load, memory and every VM", schema: HostMetrics },
  {
    subject: allAgents.heartbeat,
    name: "heartbeat",
    from: "each agent",
    when: "every `heartbeat_interval` seconds, also when collecting metrics fails",
    schema: Heartbeat,
  },
  {
    subject: allAgents.events,
    name: "migration events",
    from: "the source agent of a migration",
    when: "started, progress, then succeeded, failed or aborted",
    schema: MigrationEvent,
  },
  {
    subject: orchestratorSubjects.events,
    name: "orchestrator events",
    from: "the orchestrator (the leader, with HA)",
    when: "every change of a migration it tracks, and every cycle",
    schema: OrchestratorEventMessage,
  },
];

function publishedSection(): string {
  const out = [
    "## Published messages",
    "",
    "Plain publications (no reply); subscribe with `nats sub`. The orchestrator drops any agent message that fails its schema or names a host other than its subject's.",
    "",
    table(
      ["subject", "from", "when", "body"],
      PUBLISHED.map((p) => [code(p.subject), p.from, p.when, `[${p.name}](#${p.name.replace(/ /g, "-")})`]),
    ),
  ];
  for (const p of PUBLISHED) out.push("", `### ${p.name}`, "", `${code(p.subject)}:`, "", bodyOf(p.schema, "output", "presence", "An empty object."));
  out.push("", "```sh", "nats sub 'ballast.agent.*.events'", "nats sub ballast.orch.events", "```");
  return out.join("\n");
}

function typesSection(): string {
  const out = ["## Types", "", "Shapes shared by several requests, replies and messages."];
  for (const [name, schema] of NAMED) {
    const n = jsonOf(schema, "output");
    const self = n.$defs?.[name] ?? n;
    out.push("", `### ${name}`, "");
    if (self.description) out.push(self.description, "");
    const variants = self.anyOf ?? self.oneOf;
    if (self.properties) out.push(fieldsTable(self, "presence"));
    else if (variants && variants.every((v) => v.properties))
      out.push(variants.map((v, i) => `One of these (${i + 1} of ${variants.length}):\n\n${fieldsTable(v, "presence")}`).join("\n\n"));
    else {
      const limits = limitsOf(self);
      out.push(`${typeOf(self)}${limits ? `, ${limits}` : ""}.`);
    }
  }
  return out.join("\n");
}

function codesSection(): string {
  return [
    "## Error codes",
    "",
    'An error reply is `{"ok": false, "error": {"code", "message", "details"?}}`. Decide on the code; the message is for people.',
    "",
    table(
      ["code", "meaning"],
      ErrorCode.options.map((c) => [code(c), ERROR_CODE_HELP[c]]),
    ),
    "",
    "## Decision codes",
    "",
    "Every decision and non-decision of a plan (`Decision.code`, `LoggedDecision.code`, a move's `code`) is one of these.",
    "",
    table(
      ["code", "meaning"],
      DecisionCode.options.map((c) => [code(c), DECISION_CODE_HELP[c]]),
    ),
  ].join("\n");
}

function conventionsSection(): string {
  const headers: Record<keyof typeof ReplyHeader, string> = {
    instance: "the orchestrator instance that produced the answer (the leader's name when a standby forwarded it)",
    role: "`leader` or `standby`: its role when it answered",
    leader: "the leader as the answering instance knows it; absent when none is known",
    forwardedBy: "the standby that forwarded the request to the leader; absent when answered directly",
    deprecation: "the request used deprecated field names: which, and what to use instead",
  };
  return [
    "## Conventions",
    "",
    "- Every endpoint is NATS request/reply with a JSON body; an empty body counts as `{}`. The `nats` CLI drives them all (`nats req <subject> '<json>'`).",
    `- A request body larger than ${MAX_REQUEST_BYTES} bytes is refused unparsed (\`BAD_REQUEST\`). Unknown fields are refused, never ignored.`,
    '- A reply is `{"ok": true, "data": ...}` or `{"ok": false, "error": {"code": ..., "message": ...}}`, also when the handler fails. Error replies of both daemons also carry the NATS service headers `Nats-Service-Error` (the message) and `Nats-Service-Error-Code` (an HTTP-like status), and count in `$SRV.STATS`.',
    "- Field names are camelCase in requests, replies and messages alike (configuration files, written by people, use snake_case). The snake_case request fields of Ballast 0.1 are still accepted in this version, renamed before validation and named in the `Ballast-Deprecation` reply header; sending both spellings of one field is refused.",
    "- Ids: host ids, VM names and request ids follow [HostId](#hostid), [VmName](#vmname) and [RequestId](#requestid). A command with a request id is idempotent: the same id gets the first answer again.",
    "- Times are milliseconds since the epoch; loads are percent of a host's capacity; VM CPU is percent of one core.",
    "- Both daemons register as NATS services (`nats micro ls`, `$SRV.PING`, `$SRV.INFO.ballast-agent`).",
    "",
    "Headers on every orchestrator answer:",
    "",
    table(
      ["header", "value"],
      (Object.keys(ReplyHeader) as (keyof typeof ReplyHeader)[]).map((k) => [code(ReplyHeader[k]), headers[k]]),
    ),
  ].join("\n");
}

/** The whole of docs/api.md. */
export function renderApiReference(): string {
  const parts = [
    "# NATS API reference",
    "",
    "<!-- Generated by `npm run docs` from shared/schemas (the OrchestratorApi and AgentApi maps); do not edit by hand. -->",
    "",
    "Ballast's whole interface is NATS subjects: the operator API of the orchestrator (`ballast.orch.*`), the agents' endpoints (`ballast.agent.<host>.*`) and what both publish. " +
      "The `ballast` command line is a client of the same endpoints. How to reach and secure them is in [operations](operations.md); the schemas are in `shared/schemas/`.",
    "",
    "- [Conventions](#conventions)",
    "- [Orchestrator endpoints](#orchestrator-endpoints)",
    "- [Agent endpoints](#agent-endpoints)",
    "- [Published messages](#published-messages)",
    "- [Types](#types)",
    "- [Error codes](#error-codes)",
    "- [Decision codes](#decision-codes)",
    "",
    conventionsSection(),
    "",
    orchestratorSection(),
    "",
    agentSection(),
    "",
    publishedSection(),
    "",
    typesSection(),
    "",
    codesSection(),
    "",
  ];
  return parts.join("\n");
}
