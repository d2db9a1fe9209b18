import { readFileSync } from "node:fs";
import type { z } from "zod";
import { ClusterSnapshot, HostSample, InFlightMigration, PastMove, SnapshotHost, SnapshotVm } from "../shared/schemas/snapshot.js";
import { plan } from "../orchestrator/core/index.js";
import type { Plan, PlanRequest } from "../shared/schemas/plan.js";
import { Policy } from "../shared/config/policy.js";
import { parseConfig, readConfigFile } from "../shared/config/load-config.js";
import { BallastError } from "../shared/errors.js";

/** `ballast plan --snapshot FILE`: the production planner on a saved snapshot, no service needed. */
export function offlinePlan(o: {
  snapshotFile: string;
  policyFile?: string;
  mode: string;
  host?: string;
  placement?: "stripe" | "pack";
  useEmpty: boolean;
  now?: string;
}): Plan {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(o.snapshotFile, "utf8"));
  } catch (e) {
    throw new BallastError("BAD_REQUEST", `cannot read snapshot ${o.snapshotFile}: ${(e as Error).message}`, { cause: e });
  }
  const snapshot = parseSnapshot(raw, `snapshot ${o.snapshotFile}`);
  // A policy file may be a whole orchestrator config (with a policy: section) or just the policy.
  const doc = o.policyFile ? readConfigFile(o.policyFile) : {};
  const policyDoc = typeof doc.policy === "object" && doc.policy !== null ? doc.policy : doc;
  const policy = parseConfig(Policy, policyDoc, o.policyFile ? `policy ${o.policyFile}` : "default policy");
  const now = o.now !== undefined ? Number(o.now) : snapshot.takenAt;
  if (!Number.isFinite(now)) throw new BallastError("BAD_REQUEST", `--now must be a number of ms since the epoch, got ${o.now}`);
  if (o.now !== undefined && now < MS_EPOCH_FLOOR) throw new BallastError("BAD_REQUEST", secondsMessage("--now", now));
  let req: PlanRequest;
  switch (o.mode) {
    case "cycle":
    case "balance":
    case "consolidate":
      req = { mode: o.mode };
      break;
    case "evacuate":
      if (!o.host) throw new BallastError("BAD_REQUEST", "--mode evacuate needs --host");
      if (!snapshot.hosts.some((h) => h.id === o.host)) throw new BallastError("UNKNOWN_HOST", `host ${o.host} is not in the snapshot`);
      req = { mode: "evacuate", host: o.host, placement: o.placement ?? "stripe", useEmptyHosts: o.useEmpty };
      break;
    default:
      throw new BallastError("BAD_REQUEST", `unknown mode ${o.mode}; choose cycle, balance, consolidate or evacuate`);
  }
  return plan(snapshot, policy, now, req);
}

/**
 * Times in a snapshot are ms since the epoch. One before 2001-01-01T00:00:00Z read as ms is taken
 * for seconds: a time in seconds since the epoch reads as January 1970 in ms (1.7e9 s is
 * 20 days into 1970), and planned as ms it made every host 50 years silent. No snapshot of a
 * running cluster holds a time before 2001, and seconds stay below this floor until the year 33,000.
 */
export const MS_EPOCH_FLOOR = Date.UTC(2001, 0, 1);

/**
 * Parses a snapshot file's contents. Unknown keys are errors (the schema is strict: a misspelt
 * `maintainance` must not be dropped in silence), and every error names its path, e.g.
 * `hosts[2] (hv-c): unknown key "maintainance" (did you mean "maintenance"?)`. Times in seconds
 * rather than ms are refused (MS_EPOCH_FLOOR).
 */
export function parseSnapshot(raw: unknown, origin: string): ClusterSnapshot {
  const r = ClusterSnapshot.safeParse(raw);
  if (!r.success) {
    const lines = r.error.issues.slice(0, MAX_ISSUES).map((i) => issueText(raw, i));
    const more = r.error.issues.length > MAX_ISSUES ? `; and ${r.error.issues.length - MAX_ISSUES} more` : "";
    throw new BallastError("BAD_REQUEST", `invalid ${origin}: ${lines.join("; ")}${more}`, { details: { issues: r.error.issues } });
  }
  const s = r.data;
  const seconds = timesInSeconds(s);
  if (seconds) throw new BallastError("BAD_REQUEST", `invalid ${origin}: ${secondsMessage(seconds.path, seconds.value)}`);
  return s;
}

const MAX_ISSUES = 10;

function secondsMessage(what: string, value: number): string {
  const asSeconds = value * 1000;
  const hint =
    Number.isFinite(asSeconds) && asSeconds >= MS_EPOCH_FLOOR && asSeconds < 8.64e15 ? ` (read as seconds: ${new Date(asSeconds).toISOString()})` : "";
  return `${what} is ${value}, before 2001-01-01 as ms since the epoch: times in a snapshot are milliseconds since the epoch, and this looks like seconds${hint}; multiply every time by 1000`;
}

/** The first time in the snapshot that is before MS_EPOCH_FLOOR, with its path; null when all are ms. */
function timesInSeconds(s: ClusterSnapshot): { path: string; value: number } | null {
  if (s.takenAt < MS_EPOCH_FLOOR) return { path: "takenAt", value: s.takenAt };
  for (const [i, h] of s.hosts.entries()) {
    if (h.lastSeen < MS_EPOCH_FLOOR) return { path: `hosts[${i}] (${h.id}).lastSeen`, value: h.lastSeen };
    for (const [k, p] of h.samples.entries()) if (p.ts < MS_EPOCH_FLOOR) return { path: `hosts[${i}] (${h.id}).samples[${k}].ts`, value: p.ts };
  }
  for (const [i, f] of s.inFlight.entries()) if (f.startedAt < MS_EPOCH_FLOOR) return { path: `inFlight[${i}] (${f.vm}).startedAt`, value: f.startedAt };
  for (const [i, m] of s.history.entries()) if (m.finishedAt < MS_EPOCH_FLOOR) return { path: `history[${i}] (${m.vm}).finishedAt`, value: m.finishedAt };
  return null;
}

/** The schema of the object at `path` (for the keys an unknown key may have meant). */
function schemaAt(path: readonly PropertyKey[]): z.ZodObject | null {
  if (path.length === 0) return ClusterSnapshot;
  const [list, , sub] = path;
  if (path.length === 2 && list === "hosts") return SnapshotHost;
  if (path.length === 4 && list === "hosts" && sub === "samples") return HostSample;
  if (path.length === 2 && list === "vms") return SnapshotVm;
  if (path.length === 2 && list === "inFlight") return InFlightMigration;
  if (path.length === 2 && list === "history") return PastMove;
  return null;
}

/** `hosts[2] (hv-c).samples[0].ts`: indexes in brackets, and the id or name of a listed host, VM or move. */
function pathText(raw: unknown, path: readonly PropertyKey[]): string {
  let out = "";
  let node: unknown = raw;
  for (const key of path) {
    if (typeof key === "number") {
      out += `[${key}]`;
      node = Array.isArray(node) ? node[key] : undefined;
      const label = labelOf(node);
      if (label !== undefined) out += ` (${label})`;
    } else {
      out += (out === "" ? "" : ".") + String(key);
      node = typeof node === "object" && node !== null ? (node as Record<string, unknown>)[String(key)] : undefined;
    }
  }
  return out === "" ? "(top level)" : out;
}

function labelOf(node: unknown): string | undefined {
  if (typeof node !== "object" || node === null) return undefined;
  const o = node as Record<string, unknown>;
  const label = typeof o.id === "string" ? o.id : typeof o.name === "string" ? o.name : typeof o.vm === "string" ? o.vm : undefined;
  return label !== undefined && label.length <= 64 ? label : undefined;
}

function issueText(raw: unknown, i: z.core.$ZodIssue): string {
  const where = pathText(raw, i.path);
  if (i.code !== "unrecognized_keys") return `${where}: ${i.message}`;
  const known = Object.keys(schemaAt(i.path)?.shape ?? {});
  return i.keys
    .map((k) => {
      const guess = closest(k, known);
      return `${where === "(top level)" ? "" : `${where}: `}unknown key "${k}"${guess ? ` (did you mean "${guess}"?)` : ""}`;
    })
    .join("; ");
}

/** The known key nearest `key` if it is near enough: 1 edit for keys of up to 3 letters, else 2 or a third of its length. */
function closest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const d = editDistance(key.toLowerCase(), k.toLowerCase());
    if (d < bestD) [best, bestD] = [k, d];
  }
  return best !== undefined && bestD <= (best.length <= 3 ? 1 : Math.max(2, Math.floor(best.length / 3))) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row.push(Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)));
    prev = row;
  }
  return prev[b.length]!;
}
