import type { VmState } from "../../shared/schemas/vm.js";

// Parser for `virsh domstate --reason` (libvirt 9, LC_ALL=C): one line, "<state> (<reason>)",
// for example "running (booted)", "paused (migration)", "shut off (migrated)". Pure.

/** virsh's state words (virshDomainStateToString) to our coarse VmState. */
const STATES: Record<string, VmState> = {
  running: "running",
  idle: "running", // VIR_DOMAIN_BLOCKED
  paused: "paused",
  "in shutdown": "shutoff",
  "shut off": "shutoff",
  crashed: "crashed",
  pmsuspended: "suspended",
};

export function parseDomstate(text: string): { state: VmState; reason?: string } {
  const { words, reason } = domstateWords(text);
  const state = STATES[words.toLowerCase()] ?? "other";
  return reason ? { state, reason } : { state };
}

/** virsh's own words for the state ("shut off"), and the reason when given. */
export function domstateWords(text: string): { words: string; reason?: string } {
  const line = text.split(/\r?\n/).find((l) => l.trim() !== "") ?? "";
  const m = /^\s*(.*?)\s*(?:\(([^)]*)\))?\s*$/.exec(line);
  const words = m?.[1] ?? "";
  const reason = m?.[2]?.trim();
  return reason ? { words, reason } : { words };
}

/** libvirt's words for "there is no such domain (here)". */
export function isNoSuchDomain(message: string): boolean {
  return /failed to get domain|Domain not found|no domain with matching/i.test(message);
}
