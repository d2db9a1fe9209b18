import { z } from "zod";
import { code, headingsOf, Slugger, table } from "./markdown.js";

// A configuration reference from zod schemas: every key with its type, default, unit, range and
// description. Pure: schema in, data or Markdown out. It reads what zod 4's z.toJSONSchema emits
// (io "input": defaults included, keys with defaults optional), plus two metadata keys the config
// schemas set with .meta(): `unit` (the key's unit) and `defaultText` (the default in words, for a
// default computed at run time such as the host name).

/** The parts of a JSON Schema node the reference reads. */
export interface JsonNode {
  type?: string | string[];
  description?: string;
  default?: unknown;
  defaultText?: string;
  unit?: string;
  enum?: unknown[];
  const?: unknown;
  properties?: Record<string, JsonNode>;
  required?: string[];
  items?: JsonNode;
  anyOf?: JsonNode[];
  oneOf?: JsonNode[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minItems?: number;
  maxItems?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
}

/** One key as the reference lists it. */
export interface ConfigKey {
  /** The key's path inside its file, e.g. `ha.lease_ttl`, `sim.vms[].cpu`. */
  path: string;
  type: string;
  /** Rendered default: `10`, `[hotspot]`, `none`, `required`. */
  default: string;
  unit: string;
  range: string;
  description: string;
  /** Set when the key is a section documented in another part of the reference. */
  seeAlso?: string;
  /** Set when the key's value is an object (or a list of objects) listed in its own section. */
  section?: string;
}

/** A group of keys: the file's top level, a nested section (`ha`), a list's items (`sim.vms[]`). */
export interface ConfigSection {
  /** Path of the section; "" for the file's top level. */
  path: string;
  /** A variant of a union (e.g. one kind of rule): its description names it. */
  variant: boolean;
  description: string;
  /** How the environment names this section's keys (`BALLAST_HA__<KEY>`), or null where it cannot. */
  env: string | null;
  keys: ConfigKey[];
}

/** One configuration file (or shared section) of the reference. */
export interface ConfigFile {
  /** Heading of the file's part of the reference. */
  title: string;
  /** Markdown under the heading. */
  intro: string;
  schema: z.ZodType;
  /** Written before every key path, e.g. "nats." for the shared NATS section. */
  keyPrefix?: string;
  /**
   * Environment variable prefix of the file's top-level keys ("BALLAST_", "BALLAST_POLICY__"), or
   * null when the environment does not apply.
   */
  envPrefix: string | null;
  /** Keys that are sections documented elsewhere in the reference: key → title of that part. */
  seeAlso?: Record<string, string>;
}

export function jsonSchemaOf(schema: z.ZodType): JsonNode {
  return z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as JsonNode;
}

const typesOf = (n: JsonNode): string[] => (n.type === undefined ? [] : Array.isArray(n.type) ? n.type : [n.type]);
const isObject = (n: JsonNode): boolean => n.properties !== undefined;
const variantsOf = (n: JsonNode): JsonNode[] => n.anyOf ?? n.oneOf ?? [];

/** Object schemas a key holds: itself, its list items, or object members of a union (of list items). */
function objectsIn(n: JsonNode): { objects: JsonNode[]; list: boolean } {
  const inner = typesOf(n).includes("array") && n.items ? n.items : n;
  const list = inner !== n;
  if (isObject(inner)) return { objects: [inner], list };
  return { objects: variantsOf(inner).filter(isObject), list };
}

// ---- rendering of one value ----------------------------------------------------------------

const HUMAN: Record<string, [number, string][]> = {
  s: [
    [86_400, "d"],
    [3600, "h"],
  ],
  bytes: [
    [1024 ** 3, "GiB"],
    [1024 ** 2, "MiB"],
  ],
};

/** The value in a larger unit where that is exact (`6 h`, `64 MiB`), else undefined. */
function inLargerUnit(v: number, unit: string): string | undefined {
  for (const [size, name] of HUMAN[unit] ?? []) if (v >= size && v % size === 0) return `${v / size} ${name}`;
  return undefined;
}

/** A number, with its value in a larger unit where that is exact: `21600 (6 h)`, `67108864 (64 MiB)`. */
export function formatNumber(v: number, unit = ""): string {
  const larger = inLargerUnit(v, unit);
  return larger === undefined ? String(v) : `${v} (${larger})`;
}

function flow(v: unknown): string {
  if (typeof v === "string") return /^[A-Za-z0-9_./:@+-]*$/.test(v) && v !== "" ? v : JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(flow).join(", ")}]`;
  return JSON.stringify(v);
}

function renderDefault(n: JsonNode, required: boolean): string {
  if (n.defaultText !== undefined) return n.defaultText;
  if (n.default === undefined) return required ? "required" : "none";
  if (typeof n.default === "object" && n.default !== null && !Array.isArray(n.default)) return "per key";
  if (typeof n.default === "number") {
    const larger = inLargerUnit(n.default, n.unit ?? "");
    return larger === undefined ? code(String(n.default)) : `${code(String(n.default))} (${larger})`;
  }
  return code(flow(n.default));
}

const joinOr = (xs: string[]): string => (xs.length <= 1 ? (xs[0] ?? "") : `${xs.slice(0, -1).join(", ")} or ${xs[xs.length - 1]}`);

export function renderType(n: JsonNode): string {
  if (n.const !== undefined) return code(flow(n.const));
  if (n.enum) return joinOr(n.enum.map((v) => code(flow(v))));
  const variants = variantsOf(n);
  if (variants.length > 0) return joinOr([...new Set(variants.map((v) => (isObject(v) ? "object" : renderType(v))))]);
  const types = typesOf(n);
  if (types.includes("array")) {
    const items = n.items ?? {};
    const objects = isObject(items) || (variantsOf(items).length > 0 && variantsOf(items).every(isObject));
    const inner = objects ? "objects" : items.enum ? joinOr(items.enum.map((v) => code(flow(v)))) : renderType(items) || "values";
    return `list of ${inner}`;
  }
  return joinOr(types.map((t) => (t === "object" ? "section" : t)));
}

/** zod adds the safe-integer bounds to every integer; they are no limit worth listing. */
const bound = (v: number | undefined): number | undefined => (v === undefined || Math.abs(v) >= Number.MAX_SAFE_INTEGER ? undefined : v);

function numberRange(n: JsonNode, unit: string): string {
  const [min, max, xmin, xmax] = [bound(n.minimum), bound(n.maximum), bound(n.exclusiveMinimum), bound(n.exclusiveMaximum)];
  const lo = min !== undefined ? { v: min, op: "≥" } : xmin !== undefined ? { v: xmin, op: ">" } : undefined;
  const hi = max !== undefined ? { v: max, op: "≤" } : xmax !== undefined ? { v: xmax, op: "<" } : undefined;
  if (lo && hi && lo.op === "≥" && hi.op === "≤") return `${formatNumber(lo.v, unit)}–${formatNumber(hi.v, unit)}`;
  return [lo && `${lo.op} ${formatNumber(lo.v, unit)}`, hi && `${hi.op} ${formatNumber(hi.v, unit)}`].filter(Boolean).join(", ");
}

function countRange(min: number | undefined, max: number | undefined, what: string): string {
  const of = (k: number) => (k === 1 ? what.replace(/s$/, "") : what);
  if (min !== undefined && max !== undefined) return min === max ? `${min} ${of(min)}` : `${min}–${max} ${what}`;
  if (min !== undefined) return `≥ ${min} ${of(min)}`;
  if (max !== undefined) return `≤ ${max} ${of(max)}`;
  return "";
}

/** Bounds of a value: numbers, lengths, list sizes and string patterns. */
export function renderRange(n: JsonNode, unit = n.unit ?? ""): string {
  const parts: string[] = [];
  const num = numberRange(n, unit);
  if (num) parts.push(num);
  const len = countRange(n.minLength, n.maxLength, "characters");
  if (len) parts.push(len);
  if (n.pattern !== undefined) parts.push(`pattern ${code(n.pattern)}`);
  const variants = variantsOf(n).filter((v) => !isObject(v));
  for (const v of variants) {
    const r = renderRange(v, unit);
    if (r) parts.push(r);
  }
  if (typesOf(n).includes("array")) {
    const count = countRange(n.minItems, n.maxItems, "items");
    if (count) parts.push(count);
    if (n.items && !isObject(n.items)) {
      const each = renderRange(n.items, unit);
      if (each) parts.push(`each ${each}`);
    }
  }
  return parts.join("; ");
}

// ---- the walk -------------------------------------------------------------------------------

const envName = (prefix: string, path: string[]): string => `${prefix}${path.map((p) => p.toUpperCase()).join("__")}`;

interface WalkContext {
  prefix: string;
  seeAlso: Record<string, string>;
  sections: ConfigSection[];
}

/**
 * Walks one object node. `path` is the displayed path ("" at the top), `envPath` the section's
 * path in the environment, or null once inside a list (the environment cannot name list items).
 */
function walk(ctx: WalkContext, node: JsonNode, path: string, envPrefix: string | null, envPath: string[], variant: boolean): void {
  const section: ConfigSection = {
    path,
    variant,
    description: node.description ?? "",
    env: envPrefix === null ? null : `${envName(envPrefix, envPath)}${envPath.length > 0 ? "__" : ""}<KEY>`,
    keys: [],
  };
  ctx.sections.push(section);
  const children: (() => void)[] = [];
  const required = new Set(node.required ?? []);
  for (const [key, child] of Object.entries(node.properties ?? {})) {
    const keyPath = path === "" ? `${ctx.prefix}${key}` : `${path}.${key}`;
    const row: ConfigKey = {
      path: keyPath,
      type: renderType(child),
      default: renderDefault(child, required.has(key)),
      unit: child.unit ?? "",
      range: renderRange(child),
      description: child.description ?? "",
    };
    const elsewhere = path === "" ? ctx.seeAlso[key] : undefined;
    const { objects, list } = objectsIn(child);
    if (elsewhere !== undefined) {
      row.seeAlso = elsewhere;
      section.keys.push(row);
      continue;
    }
    if (objects.length > 0) {
      const sub = list ? `${keyPath}[]` : keyPath;
      row.section = sub;
      const many = objects.length > 1 || variantsOf(list ? (child.items ?? {}) : child).length > 0;
      section.keys.push(row);
      const subEnv = envPrefix !== null && !list && !many ? [...envPath, key] : null;
      for (const o of objects) children.push(() => walk(ctx, o, sub, subEnv === null ? null : envPrefix, subEnv ?? [], many));
      continue;
    }
    section.keys.push(row);
  }
  for (const c of children) c();
}

/** The sections of one schema, top level first, then each nested section depth-first. */
export function configSections(
  schema: z.ZodType,
  opts: { keyPrefix?: string; envPrefix?: string | null; seeAlso?: Record<string, string> } = {},
): ConfigSection[] {
  const ctx: WalkContext = { prefix: opts.keyPrefix ?? "", seeAlso: opts.seeAlso ?? {}, sections: [] };
  const root = jsonSchemaOf(schema);
  walk(ctx, root, "", opts.envPrefix ?? null, [], false);
  return ctx.sections;
}

/**
 * Everything the reference describes, with its description ("" where the schema has none): every
 * key, every nested section (`ha`, `sim.vms[]`) and every variant of a union (`rules[], variant 2`).
 */
export function describedPaths(schema: z.ZodType, opts: { keyPrefix?: string } = {}): { path: string; description: string }[] {
  const sections = configSections(schema, { ...opts, envPrefix: null });
  const out: { path: string; description: string }[] = [];
  sections.forEach((s, i) => {
    if (i > 0) out.push({ path: sectionName(s, sections), description: s.description });
    for (const k of s.keys) out.push({ path: k.path, description: k.description });
  });
  return out;
}

// ---- Markdown ---------------------------------------------------------------------------------

const HEADER = ["key", "type", "default", "unit", "range", "description"] as const;

/**
 * A section's name: its path; for a variant of a union also what it is, from its description
 * (`rules[]: a rule between VMs and hosts`), or its number when it has none.
 */
function sectionName(s: ConfigSection, all: readonly ConfigSection[], show: (path: string) => string = (p) => p): string {
  if (!s.variant) return show(s.path);
  const what = s.description.replace(/\.$/, "");
  if (what !== "" && !what.includes("\n")) return `${show(s.path)}: ${what.charAt(0).toLowerCase()}${what.slice(1)}`;
  return `${show(s.path)}, variant ${all.filter((o) => o.path === s.path && o.variant).indexOf(s) + 1}`;
}

function describeKey(k: ConfigKey, anchors: ReadonlyMap<string, string>): string {
  const parts = [k.description];
  if (k.seeAlso !== undefined) {
    const a = anchors.get(k.seeAlso);
    parts.push(a !== undefined ? `Keys: see [${k.seeAlso}](#${a}).` : `Keys: see ${k.seeAlso}.`);
  }
  if (k.section !== undefined) {
    const a = anchors.get(k.section);
    if (a !== undefined) parts.push(`Keys: see [${code(k.section)}](#${a}).`);
  }
  return parts.filter((p) => p !== "").join(" ");
}

const sectionsOf = (file: ConfigFile): ConfigSection[] =>
  configSections(file.schema, {
    ...(file.keyPrefix !== undefined ? { keyPrefix: file.keyPrefix } : {}),
    envPrefix: file.envPrefix,
    ...(file.seeAlso ? { seeAlso: file.seeAlso } : {}),
  });

/**
 * One file's part of the reference: its heading, intro, and one table per section. `anchors`
 * maps a file title or a section path to its heading's anchor (see renderConfigReference).
 */
export function renderConfigFile(file: ConfigFile, anchors: ReadonlyMap<string, string> = new Map(), level = 2): string {
  const sections = sectionsOf(file);
  const h = "#".repeat(level);
  const headings = sections.map((s) => sectionName(s, sections, code));
  const out: string[] = [`${h} ${file.title}`, "", file.intro.trim(), ""];
  sections.forEach((s, i) => {
    if (i > 0) {
      out.push(`${h}# ${headings[i]}`, "");
      if (s.description && !s.variant) out.push(s.description, "");
    }
    if (s.env !== null && s.keys.some((k) => k.seeAlso === undefined)) out.push(`Environment: ${code(s.env)}.`, "");
    if (s.keys.length > 0) {
      const rows = s.keys.map((k) => [code(k.path), k.type, k.default, k.unit, k.range, describeKey(k, anchors)]);
      out.push(table(HEADER, rows), "");
    }
  });
  return out.join("\n");
}

/** The whole reference: a preamble, then each file's part. Links between parts use GitHub's anchors. */
export function renderConfigReference(opts: { title: string; preamble: string; files: readonly ConfigFile[] }): string {
  // Anchors in document order, so a repeated heading (`http` of two files) gets GitHub's -1 suffix.
  // A seeAlso names a file's title or any other heading of the document.
  const slugger = new Slugger();
  const titles = new Map<string, string>();
  const heading = (h: string) => {
    const a = slugger.next(h);
    if (!titles.has(h)) titles.set(h, a);
  };
  heading(opts.title);
  for (const h of headingsOf(opts.preamble)) heading(h);
  const perFile = opts.files.map((f) => {
    heading(f.title);
    for (const h of headingsOf(f.intro)) heading(h);
    const sections = sectionsOf(f);
    const own = new Map<string, string>();
    sections.forEach((s, i) => {
      if (i === 0) return;
      const a = slugger.next(sectionName(s, sections, code));
      if (!own.has(s.path)) own.set(s.path, a);
    });
    return own;
  });
  const rendered = opts.files.map((f, i) => renderConfigFile(f, new Map([...titles, ...perFile[i]!])));
  const parts = [`# ${opts.title}`, "", opts.preamble.trim(), "", ...rendered];
  return (
    parts
      .join("\n")
      .replace(/\n{3,}/g, "\n\n")
      .trimEnd() + "\n"
  );
}
