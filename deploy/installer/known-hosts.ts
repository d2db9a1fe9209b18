import { createHash, createHmac } from "node:crypto";
import { appendFileSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { dirname } from "node:path";

// OpenSSH known_hosts, enough for strict host-key checking: plain and hashed (|1|salt|hash) host
// patterns, [host]:port for non-22 ports, * and ? wildcards, !negation, @revoked.
// @cert-authority lines are ignored (host certificates are not supported by this installer).

export interface KnownHostEntry {
  marker: "" | "@revoked" | "@cert-authority";
  patterns: string;
  keyType: string;
  /** base64 of the public key blob. */
  key: string;
}

export function parseKnownHosts(text: string): KnownHostEntry[] {
  const out: KnownHostEntry[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line.length === 0 || line.startsWith("#")) continue;
    const parts = line.split(/\s+/);
    let marker: KnownHostEntry["marker"] = "";
    if (parts[0] === "@revoked" || parts[0] === "@cert-authority") marker = parts.shift() as KnownHostEntry["marker"];
    const [patterns, keyType, key] = parts;
    if (!patterns || !keyType || !key) continue;
    out.push({ marker, patterns, keyType, key });
  }
  return out;
}

/** The name known_hosts records for a host: `host` on port 22, `[host]:port` otherwise. */
export function knownHostName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

function globMatch(pattern: string, name: string): boolean {
  const re = new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, "\\$&")
      .replace(/\*/g, ".*")
      .replace(/\?/g, ".")}$`,
    "i",
  );
  return re.test(name);
}

function hashedMatch(pattern: string, name: string): boolean {
  const m = /^\|1\|([^|]+)\|([^|]+)$/.exec(pattern);
  if (!m) return false;
  const h = createHmac("sha1", Buffer.from(m[1]!, "base64")).update(name).digest("base64");
  return h === m[2];
}

/** Whether a comma-separated pattern list matches the name (a matching !pattern excludes). */
export function patternsMatch(patterns: string, name: string): boolean {
  if (patterns.startsWith("|1|")) return hashedMatch(patterns, name);
  let hit = false;
  for (const p of patterns.split(",")) {
    if (p.startsWith("!")) {
      if (globMatch(p.slice(1), name)) return false;
    } else if (globMatch(p, name)) hit = true;
  }
  return hit;
}

/** Key type of an SSH public key blob (its first string), e.g. "ssh-ed25519". */
export function keyTypeOf(blob: Buffer): string {
  if (blob.length < 4) return "unknown";
  const n = blob.readUInt32BE(0);
  return blob.subarray(4, 4 + n).toString("latin1");
}

/** OpenSSH-style fingerprint: SHA256:<base64 without padding>. */
export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
}

export type HostKeyVerdict = { ok: true; known: true } | { ok: true; known: false; recorded: boolean } | { ok: false; reason: string };

/**
 * Checks the key a server presented against the entries for `name`. A name with a different key
 * of the same type is a mismatch (possible man in the middle) and is never accepted; an unknown
 * name is accepted only with acceptNew (and then recorded by the caller).
 */
export function checkHostKey(entries: KnownHostEntry[], name: string, blob: Buffer, acceptNew: boolean): HostKeyVerdict {
  const b64 = blob.toString("base64");
  const type = keyTypeOf(blob);
  const mine = entries.filter((e) => e.marker !== "@cert-authority" && patternsMatch(e.patterns, name));
  if (mine.some((e) => e.marker === "@revoked" && e.key === b64))
    return { ok: false, reason: `host key of ${name} (${fingerprint(blob)}) is marked @revoked in known_hosts` };
  const plain = mine.filter((e) => e.marker === "");
  if (plain.some((e) => e.key === b64)) return { ok: true, known: true };
  if (plain.length > 0) {
    const sameType = plain.some((e) => e.keyType === type);
    return {
      ok: false,
      reason: sameType
        ? `HOST KEY MISMATCH for ${name}: the server offered ${type} ${fingerprint(blob)}, which is not the key in known_hosts (possible man-in-the-middle; if the host was reinstalled, remove the old line with ssh-keygen -R)`
        : `host key of ${name} is a ${type} key (${fingerprint(blob)}) but known_hosts only lists ${[...new Set(plain.map((e) => e.keyType))].join(", ")} for it`,
    };
  }
  if (acceptNew) return { ok: true, known: false, recorded: true };
  return {
    ok: false,
    reason: `unknown host key for ${name}: ${type} ${fingerprint(blob)} is not in known_hosts (add it after checking the fingerprint, e.g. ssh-keyscan, or set defaults.ssh.insecure_accept_new: true)`,
  };
}

/** Reads known_hosts; a missing file is an empty one. */
export function readKnownHosts(path: string): KnownHostEntry[] {
  return existsSync(path) ? parseKnownHosts(readFileSync(path, "utf8")) : [];
}

export function appendKnownHost(path: string, name: string, blob: Buffer): void {
  mkdirSync(dirname(path), { recursive: true });
  appendFileSync(path, `${name} ${keyTypeOf(blob)} ${blob.toString("base64")}\n`, { mode: 0o600 });
}
