import type { CheckIncomingRequest } from "../../shared/schemas/agent-api.js";
import type { HostFacts } from "../../shared/schemas/facts.js";
import type { IncomingRefusal } from "../ports/hypervisor.js";

// The destination's checks that need no hypervisor call: the VM's domain type, machine type,
// bridges, CPU pinning and huge pages against this host's facts, and its memory against what
// this host has free. The hypervisor adds what only it can judge (Hypervisor.checkIncoming).

export interface HostRoom {
  /** Memory free for a new VM now, MiB (the agent's newest metrics); undefined: not known yet. */
  memAvailableMiB?: number;
  /** CPUs of this host (pinning needs that many); undefined: not known. */
  cpus?: number;
}

export function incomingRefusals(req: CheckIncomingRequest, host: HostFacts | undefined, room: HostRoom): IncomingRefusal[] {
  const out: IncomingRefusal[] = [];
  const { facts } = req;
  if (room.memAvailableMiB !== undefined && req.memMiB > room.memAvailableMiB)
    out.push({ code: "MEMORY", message: `needs ${Math.round(req.memMiB)} MiB, ${Math.round(room.memAvailableMiB)} MiB available here` });
  if (room.cpus !== undefined && facts.pinnedCpus !== undefined && facts.pinnedCpus > room.cpus)
    out.push({ code: "PINNING", message: `pinned to host CPUs up to ${facts.pinnedCpus - 1}; this host has ${room.cpus} CPUs` });
  if (!host) return out;
  if (!host.domainTypes.includes(facts.domainType))
    out.push({ code: "DOMAIN_TYPE", message: `domain type ${facts.domainType} is not offered here (${host.domainTypes.join(", ") || "none"})` });
  if (!host.machineTypes.includes(facts.machine)) out.push({ code: "MACHINE", message: `machine type ${facts.machine} is not offered by this host's QEMU` });
  const bridges = new Set(host.bridges);
  for (const b of new Set(facts.interfaces.filter((i) => i.type === "bridge" && i.source !== undefined).map((i) => i.source!)))
    if (!bridges.has(b)) out.push({ code: "NETWORK", message: `bridge ${b} is not present on this host` });
  if (facts.hugepageKiB !== undefined) {
    const free = host.hugepages.find((h) => h.sizeKiB === facts.hugepageKiB)?.free ?? 0;
    const need = Math.ceil((req.memMiB * 1024) / facts.hugepageKiB);
    if (free < need) out.push({ code: "HUGEPAGES", message: `needs ${need} free huge pages of ${facts.hugepageKiB} KiB, ${free} free here` });
  }
  return out;
}
