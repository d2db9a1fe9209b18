import type { FenceAttempt, HostHealthEvidence, PeerProbe } from "../../../shared/schemas/recovery.js";
import type { RecordDisk, RestartPriority, VmRecord } from "../../../shared/schemas/vm-record.js";
import { NOW } from "./builders.js";

// Builders for host-failure, fence-gate and restart-plan scenarios: every object gets sensible
// defaults and the second argument tweaks them.

export const SEC = 1000;

/** A host's evidence: its agent heard `silentFor` seconds ago; no probes, no driver. */
export function evidence(host: string, silentFor: number, o: Partial<HostHealthEvidence> = {}): HostHealthEvidence {
  return { host, agentLastSeen: NOW - silentFor * SEC, probes: [], powerDriver: false, bmc: null, power: null, state: "healthy", since: null, ...o };
}

export function probe(peer: string, agoSeconds: number, result: PeerProbe["result"] = "timeout"): PeerProbe {
  return { peer, at: NOW - agoSeconds * SEC, result };
}

/** A silent host every witness says is dead: silent 120 s, two peers' probes timed out, BMC off. */
export function dead(host: string, o: Partial<HostHealthEvidence> = {}): HostHealthEvidence {
  return evidence(host, 120, {
    probes: [probe("p1", 10), probe("p2", 20, "failed")],
    powerDriver: true,
    bmc: { reading: "off", at: NOW - 5 * SEC },
    ...o,
  });
}

export function attempt(by: FenceAttempt["by"], agoSeconds: number, result: FenceAttempt["result"] = "off", readBackAfter: number | null = 2): FenceAttempt {
  const at = NOW - agoSeconds * SEC;
  return {
    by,
    at,
    result,
    readBackAt: by === "driver" && readBackAfter !== null ? at + readBackAfter * SEC : null,
    ...(by === "operator" ? { operator: "ops" } : {}),
  };
}

export const sharedDisk: RecordDisk = { target: "vda", type: "file", source: "/shared/vm.qcow2", shared: true, readonly: false, localWritable: false };
export const localDisk: RecordDisk = {
  target: "vdb",
  type: "file",
  source: "/var/lib/libvirt/images/x.qcow2",
  shared: false,
  readonly: false,
  localWritable: true,
};

export function domainXml(name: string, memKiB = 2 * 1024 * 1024, vcpus = 2): string {
  return `<domain type='kvm'>\n  <name>${name}</name>\n  <memory unit='KiB'>${memKiB}</memory>\n  <currentMemory unit='KiB'>${memKiB}</currentMemory>\n  <vcpu placement='static'>${vcpus}</vcpu>\n  <os><type arch='x86_64' machine='pc-q35-7.2'>hvm</type></os>\n</domain>\n`;
}

export function record(
  vm: string,
  host: string,
  o: { priority?: RestartPriority; disks?: RecordDisk[]; definition?: string; updatedAt?: number } = {},
): VmRecord {
  return {
    vm,
    host,
    definition: o.definition ?? domainXml(vm),
    definitionDigest: "d".repeat(64),
    factsDigest: "f".repeat(16),
    disks: o.disks ?? [sharedDisk],
    restartPriority: o.priority ?? "medium",
    updatedAt: o.updatedAt ?? NOW - 3600 * SEC,
    epoch: 1,
  };
}
