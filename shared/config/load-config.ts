import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import type { z } from "zod";
import { ConfigError } from "../errors.js";

// Config = defaults (in the schema) < file (YAML or JSON) < environment.
// Environment: BALLAST_<KEY> for top-level keys, BALLAST_<SECTION>__<KEY> for nested ones,
// e.g. BALLAST_INTERVAL=5, BALLAST_POLICY__LOAD_THRESHOLD=85, BALLAST_NATS__SERVERS=a:4222,b:4222.
// Values are parsed as JSON when they look like it, lists as comma-separated.

export const ENV_PREFIX = "BALLAST_";

/**
 * Variables of Ballast's tooling, not of a daemon's configuration: the simulator's traces
 * (BALLAST_SIM_DATA), the lab (BALLAST_LAB_*), the tests' switches. Without this list, setting one
 * in a shell would make every daemon started from it refuse its configuration ("unrecognized key").
 */
export const TOOL_ENV: readonly (string | RegExp)[] = [
  /^BALLAST_LAB_/,
  "BALLAST_SIM_DATA",
  "BALLAST_UPDATE_GOLDEN",
  "BALLAST_DASHBOARD_SCREENSHOT",
  "BALLAST_CHROMIUM",
];

const isToolEnv = (name: string) => TOOL_ENV.some((t) => (typeof t === "string" ? t === name : t.test(name)));

export function envOverrides(env: NodeJS.ProcessEnv, prefix = ENV_PREFIX): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith(prefix) || raw === undefined || (prefix === ENV_PREFIX && isToolEnv(name))) continue;
    const path = name
      .slice(prefix.length)
      .toLowerCase()
      .split("__")
      .filter((p) => p.length > 0);
    if (path.length === 0) continue;
    let node = out;
    for (const part of path.slice(0, -1)) {
      const next = node[part];
      node = (typeof next === "object" && next !== null ? next : (node[part] = {})) as Record<string, unknown>;
    }
    node[path[path.length - 1]!] = parseEnvValue(path[path.length - 1]!, raw);
  }
  return out;
}

/** Keys whose environment value may be a comma-separated list (others take JSON for a list). */
export const LIST_KEYS: ReadonlySet<string> = new Set(["servers", "strategies", "pinned_vms", "excluded_vms", "excluded_hosts", "extra_args"]);

function parseEnvValue(key: string, raw: string): unknown {
  const t = raw.trim();
  if (/^[[{]/.test(t) || /^(true|false|null)$/.test(t) || /^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(t)) {
    try {
      return JSON.parse(t);
    } catch {
      return raw;
    }
  }
  if (LIST_KEYS.has(key))
    return t
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s.length > 0);
  return raw;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isPlainObject(b) && isPlainObject(v) ? deepMerge(b, v) : v;
  }
  return out;
}

/** Reads a YAML/JSON config file into a plain object; a missing path is an error naming it. */
export function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new ConfigError(`cannot read config file ${path}: ${(e as Error).message}`, undefined, { cause: e });
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw new ConfigError(`config file ${path} is not valid YAML/JSON: ${(e as Error).message}`, undefined, { cause: e });
  }
  if (doc === null || doc === undefined) return {};
  if (!isPlainObject(doc)) throw new ConfigError(`config file ${path} must hold a mapping of keys`);
  return doc;
}

/** Validates with the schema; the error names the first offending key path. */
export function parseConfig<S extends z.ZodTypeAny>(schema: S, raw: unknown, origin: string): z.infer<S> {
  const r = schema.safeParse(raw);
  if (r.success) return r.data;
  const issues = r.error.issues.map((i) => {
    const key = i.path.length > 0 ? i.path.join(".") : "(top level)";
    return `${key}: ${i.message}`;
  });
  const first = r.error.issues[0];
  throw new ConfigError(`invalid configuration (${origin}): ${issues.join("; ")}`, first ? first.path.join(".") : undefined);
}

export function loadConfig<S extends z.ZodTypeAny>(
  schema: S,
  opts: { file?: string; env?: NodeJS.ProcessEnv; overrides?: Record<string, unknown> },
): z.infer<S> {
  const fromFile = opts.file ? readConfigFile(opts.file) : {};
  const merged = deepMerge(deepMerge(fromFile, envOverrides(opts.env ?? {})), opts.overrides ?? {});
  const origin = [opts.file ? `file ${opts.file}` : undefined, "environment BALLAST_*"].filter(Boolean).join(" + ");
  return parseConfig(schema, merged, origin);
}
