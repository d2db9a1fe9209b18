import { readFileSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import type { z } from "zod";
import { PowerInventory, type PowerInterface } from "../../../shared/config/power-inventory.js";
import { ConfigError, describeError } from "../../../shared/errors.js";
import { checkSecretFile } from "./secret-file.js";

// Loads the power inventory (YAML): validated with the PowerInventory schema, every error naming
// the file and the key path (hosts.hv-a.password_file). Relative file names in it are taken
// relative to the inventory's own directory. At load, every secret file must exist and be closed
// to group and others, and every CA / known_hosts file must be readable, so a mistake shows at
// start and not at the first power-off. The drivers read the secrets again at every call (see
// secret-file.ts): a rotated password is used without a restart.

const FILE_KEYS = ["password_file", "private_key_file", "ca_file", "known_hosts_file"] as const;
const SECRET_KEYS: ReadonlySet<string> = new Set(["password_file", "private_key_file"]);

export function loadPowerInventory(file: string): PowerInventory {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new ConfigError(`cannot read the power inventory ${file}: ${describeError(e)}`, undefined, { cause: e });
  }
  return parsePowerInventory(text, file);
}

/** Parses and checks the inventory's text; `file` names it in errors and anchors relative paths. */
export function parsePowerInventory(text: string, file: string): PowerInventory {
  const where = `power inventory ${file}`;
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw new ConfigError(`${where} is not valid YAML: ${describeError(e)}`, undefined, { cause: e });
  }
  const r = PowerInventory.safeParse(doc ?? {});
  if (!r.success) {
    const first = r.error.issues[0];
    throw new ConfigError(`${where}: ${r.error.issues.map((i) => issueText(i, doc)).join("; ")}`, first ? first.path.join(".") : undefined);
  }
  const base = dirname(resolve(file));
  const hosts: Record<string, PowerInterface> = {};
  for (const [host, entry] of Object.entries(r.data.hosts)) {
    const resolved = { ...entry } as Record<string, unknown>;
    for (const key of FILE_KEYS) {
      const value = resolved[key];
      if (typeof value !== "string") continue;
      const path = isAbsolute(value) ? value : resolve(base, value);
      resolved[key] = path;
      const keyPath = `hosts.${host}.${key}`;
      try {
        if (SECRET_KEYS.has(key)) checkSecretFile(path, keyPath);
        else readFileSync(path);
      } catch (e) {
        const why = e instanceof ConfigError ? describeError(e) : `cannot read ${path}: ${describeError(e)}`;
        throw new ConfigError(`${where}: ${keyPath}: ${why}`, keyPath, { cause: e });
      }
    }
    hosts[host] = resolved as PowerInterface;
  }
  return { hosts };
}

function issueText(issue: z.core.$ZodIssue, doc: unknown): string {
  const key = issue.path.length > 0 ? issue.path.join(".") : "(top level)";
  let message = issue.message;
  if (issue.code === "invalid_union" && "discriminator" in issue) {
    const got = valueAt(doc, issue.path);
    const options = "options" in issue && Array.isArray(issue.options) ? issue.options.map(String).join(", ") : "";
    message = `${got === undefined ? "missing" : `unknown driver ${JSON.stringify(got)}`}: one of ${options}`;
  } else if (issue.code === "invalid_key") message = `bad host id: ${issue.issues.map((i) => i.message).join("; ")}`;
  return `${key}: ${message}`;
}

function valueAt(doc: unknown, path: readonly PropertyKey[]): unknown {
  let v = doc;
  for (const p of path) v = typeof v === "object" && v !== null ? (v as Record<PropertyKey, unknown>)[p] : undefined;
  return v;
}
