import { createHash } from "node:crypto";
import type { HostFacts, VmFacts } from "../../shared/schemas/facts.js";

// The digest of a host's facts that the heartbeat carries, so the orchestrator notices a change it
// missed. Stable: object keys sorted at every level, VMs sorted by name, so the same facts give
// the same digest in any order of collection.

/** JSON with every object's keys sorted; undefined members left out as JSON.stringify does. */
export function stableJson(v: unknown): string {
  if (v === null || typeof v !== "object") return JSON.stringify(v) ?? "null";
  if (Array.isArray(v)) return `[${v.map((x) => (x === undefined ? "null" : stableJson(x))).join(",")}]`;
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${stableJson(o[k])}`).join(",")}}`;
}

/** sha256 of the facts, first 16 hex characters. */
export function factsDigest(hostFacts: HostFacts, vms: readonly VmFacts[]): string {
  const sorted = [...vms].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return createHash("sha256")
    .update(stableJson({ hostFacts, vms: sorted }))
    .digest("hex")
    .slice(0, 16);
}
