import type { DecisionCode } from "../../shared/schemas/decision-codes.js";
import type { Numbers } from "../../shared/schemas/numbers.js";
import type { VmState } from "../../shared/schemas/vm.js";

// Trigger: fresh inventories list one VM `running` on two or more hosts (a returning host's old
// copy started by hand, or by libvirt's autostart before the agent turned it off).
// Goal: one copy runs: each copy on a host the VM's record does not name is to be paused (never
// destroyed, never undefined: what happens to the paused copy is the operator's call).
// Stop: the VM is listed running on one host only.
//
// A live migration lists a VM on two hosts for a moment: its source pauses it before the
// destination resumes it, so the two are never both `running` at one instant, but one host's
// inventory may be older than the switch-over. So a VM with a migration queued or running is left
// alone, and so is one whose listing comes from an inventory no newer than its last migration's end.

export interface DuplicateListing {
  host: string;
  /** Within stale_after: a silent host's last inventory says nothing about now. */
  fresh: boolean;
  /** When the inventory arrived, ms. */
  at: number;
  vms: readonly { name: string; state: VmState }[];
}

export interface DuplicateInput {
  listings: readonly DuplicateListing[];
  /** The host each VM's record names (absent: no record). */
  recordHost: ReadonlyMap<string, string>;
  /** VMs with a migration queued or running. */
  migrating: ReadonlySet<string>;
  /** When each VM's newest finished migration ended, ms. */
  lastMoveAt: ReadonlyMap<string, number>;
}

export interface DuplicateVerdict {
  vm: string;
  /** Every host that lists it running, sorted. */
  hosts: string[];
  recordHost: string | null;
  /** Hosts whose copy is to be paused: every one but the record's (none without a usable record). */
  pauseOn: string[];
  code: Extract<DecisionCode, "DUPLICATE_PAUSED" | "DUPLICATE_NO_RECORD">;
  message: string;
  numbers: Numbers;
}

/** The VMs running on several hosts and what to do about each, sorted by VM. */
export function judgeDuplicates(input: DuplicateInput): DuplicateVerdict[] {
  const at = new Map<string, string[]>();
  const listedAt = new Map<string, number>();
  for (const l of input.listings) {
    if (!l.fresh) continue;
    listedAt.set(l.host, l.at);
    for (const v of l.vms) {
      if (v.state !== "running") continue;
      const hosts = at.get(v.name);
      if (hosts) hosts.push(l.host);
      else at.set(v.name, [l.host]);
    }
  }
  const out: DuplicateVerdict[] = [];
  for (const [vm, listed] of [...at].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const hosts = [...new Set(listed)].sort();
    if (hosts.length < 2 || input.migrating.has(vm)) continue;
    const moved = input.lastMoveAt.get(vm);
    if (moved !== undefined && hosts.some((h) => (listedAt.get(h) ?? 0) <= moved)) continue;
    const named = input.recordHost.get(vm);
    const key = hosts.join(",");
    if (named === undefined || !hosts.includes(named)) {
      const why = named === undefined ? "no record of it" : `its record names ${named}, which does not run it`;
      out.push({
        vm,
        hosts,
        recordHost: named ?? null,
        pauseOn: [],
        code: "DUPLICATE_NO_RECORD",
        message: `VM ${vm} runs on ${hosts.join(" and ")}, and ${why}: nothing is paused. Decide which copy is the right one and pause or shut down the other (virsh suspend / virsh shutdown on its host).`,
        numbers: { hosts: key, recordHost: named ?? null },
      });
      continue;
    }
    const pauseOn = hosts.filter((h) => h !== named);
    out.push({
      vm,
      hosts,
      recordHost: named,
      pauseOn,
      code: "DUPLICATE_PAUSED",
      message: `VM ${vm} runs on ${hosts.join(" and ")}; its record names ${named}: the copy on ${pauseOn.join(" and ")} is to be paused (nothing destroyed).`,
      numbers: { hosts: key, recordHost: named, pauseOn: pauseOn.join(",") },
    });
  }
  return out;
}
