import { z } from "zod";
import { HostId, VmName } from "./ids.js";

// What decides whether libvirt will accept a move: the facts each agent publishes about its host
// and its VMs (CPU, machine types, versions, networks, storage, devices). They change rarely, so
// they travel apart from the metrics: on start, whenever their digest changes, and on request
// (`ballast.agent.<host>.facts`); the heartbeat carries the digest so the orchestrator notices what
// it missed. Every list is bounded: a hostile or broken agent cannot grow the orchestrator's memory.

export const FACTS_VERSION = 1 as const;

/** A CPU feature or model name as libvirt spells it ("avx512f", "vmx-tsc-scaling", "Skylake-Client-IBRS"). */
const CpuName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}$/, "CPU model or feature name: 1-64 of A-Z a-z 0-9 _ . + -");
/** A libvirt network, bridge or machine-type name. */
const DeviceName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:@+-]{0,127}$/, "name: 1-128 of A-Z a-z 0-9 _ . : @ + -");
/** An absolute path (disk source, shared mount); no control characters. */
export const AbsPath = z
  .string()
  .max(4096)
  .regex(/^\/\P{Cc}*$/u, "an absolute path without control characters");
/** "9.0.0", "7.2.0": compared numerically part by part. */
const Version = z.string().regex(/^\d{1,6}(\.\d{1,6}){0,3}$/, "version: up to four dot-separated numbers");

export const SharedStorageKind = z.enum(["configured", "nfs", "nfs4", "ceph", "glusterfs", "ocfs2", "gfs2", "lustre", "beegfs", "gpfs", "block"]);
export type SharedStorageKind = z.infer<typeof SharedStorageKind>;

export const SharedStorage = z
  .object({
    path: AbsPath.describe("Mount point or configured directory (or block device) whose contents every host that lists it sees alike."),
    kind: SharedStorageKind.describe(
      "configured: from the agent's storage.shared_paths; block: a shared block device configured by the operator; else the mount's file-system type.",
    ),
  })
  .strict();
export type SharedStorage = z.infer<typeof SharedStorage>;

export const HostCpu = z
  .object({
    arch: z.string().max(32).describe('CPU architecture (virsh capabilities), e.g. "x86_64".'),
    vendor: z.string().max(64).optional().describe('CPU vendor as libvirt names it ("Intel", "AMD"); absent when libvirt does not say.'),
    model: CpuName.optional().describe("The host's CPU model as libvirt names it (domcapabilities host-model, else capabilities)."),
    features: z
      .array(CpuName)
      .max(1024)
      .describe("Every CPU feature the host offers a guest, sorted (the host-model CPU expanded with `hypervisor-cpu-baseline --features`)."),
    usableModels: z
      .array(CpuName)
      .max(512)
      .describe("CPU models a guest can use here without disabling a feature (domcapabilities custom models with usable='yes'), sorted."),
    hostModelXml: z
      .string()
      .max(65_536)
      .optional()
      .describe("The host-model <cpu> element (domcapabilities), for `ballast cpu-baseline`; absent when libvirt offers no host-model."),
  })
  .strict();
export type HostCpu = z.infer<typeof HostCpu>;

export const Hugepages = z
  .object({
    sizeKiB: z.number().int().positive().describe("Page size, KiB (2048, 1048576)."),
    free: z.number().int().min(0).describe("Free pages of this size, all NUMA nodes together."),
  })
  .strict();
export type Hugepages = z.infer<typeof Hugepages>;

export const HostFacts = z
  .object({
    cpu: HostCpu.describe("The CPU a guest can get on this host."),
    domainTypes: z.array(z.string().max(16)).max(8).describe('Domain types the host can run ("kvm", "qemu"), sorted.'),
    libvirtVersion: Version.describe("libvirt's version (virsh version)."),
    qemuVersion: Version.optional().describe("The hypervisor's (QEMU) version; absent when libvirt does not say."),
    machineTypes: z.array(DeviceName).max(512).describe("Machine types the host's QEMU offers for its architecture, aliases included, sorted."),
    networks: z.array(DeviceName).max(1024).describe("Active libvirt networks, sorted."),
    bridges: z.array(DeviceName).max(1024).describe("Linux bridges and Open vSwitch bridges present, sorted."),
    sharedStorage: z.array(SharedStorage).max(256).describe("Storage every host listing it shares, by path, sorted."),
    hugepages: z.array(Hugepages).max(8).describe("Free huge pages per size; empty when the host has none."),
  })
  .strict();
export type HostFacts = z.infer<typeof HostFacts>;

export const CpuMode = z.enum(["host-passthrough", "host-model", "maximum", "custom", "none"]);
export type CpuMode = z.infer<typeof CpuMode>;

export const VmCpu = z
  .object({
    mode: CpuMode.describe("The guest CPU's mode in its migratable XML (a running host-model guest reads custom there); none: no <cpu> element."),
    model: CpuName.optional().describe("The guest CPU model (custom mode)."),
    required: z.array(CpuName).max(1024).describe("Features the definition requires (policy require/force), sorted."),
    disabled: z.array(CpuName).max(1024).describe("Features the definition disables (policy disable/forbid), sorted."),
    xml: z.string().max(65_536).optional().describe("The <cpu> element of the migratable XML, for the destination's `virsh hypervisor-cpu-compare`."),
  })
  .strict();
export type VmCpu = z.infer<typeof VmCpu>;

export const DiskDevice = z.enum(["disk", "cdrom", "floppy", "lun"]);
export const DiskType = z.enum(["file", "block", "network", "volume", "dir", "nvme", "vhostuser"]);

export const VmDisk = z
  .object({
    target: z
      .string()
      .regex(/^[a-z0-9]{1,16}$/, "target device name such as vda")
      .describe('Target device ("vda", "sdb").'),
    device: DiskDevice.describe("What the guest sees."),
    type: DiskType.describe("Where the data lives: file, block device, network (rbd, iscsi, nbd, gluster), pool volume, ..."),
    source: z.string().max(4096).optional().describe("File or device path, or protocol:name for network disks; absent for an empty drive."),
    format: z.string().max(32).optional().describe('Image format ("qcow2", "raw").'),
    cache: z.string().max(32).optional().describe('Cache mode ("none", "writeback", "unsafe", ...); absent: the hypervisor default.'),
    readonly: z.boolean().describe("Read-only for the guest (CD-ROMs are)."),
    shared: z
      .boolean()
      .describe(
        "Every host sees the same data at its source: network disks, <shareable/>, or a path under one of the host's sharedStorage entries. False: a local disk, which moves only by copying.",
      ),
    capacityBytes: z.number().int().min(0).optional().describe("Virtual size seen by the guest, bytes (virsh domblkinfo)."),
    allocationBytes: z.number().int().min(0).optional().describe("Bytes allocated on the host: what a copy transfers, at most."),
    backingChain: z.boolean().describe("The image has a backing file (qcow2 overlay)."),
  })
  .strict();
export type VmDisk = z.infer<typeof VmDisk>;

export const InterfaceType = z.enum(["network", "bridge", "direct", "vhostuser", "user", "hostdev", "ethernet", "other"]);

export const VmInterface = z
  .object({
    type: InterfaceType.describe("libvirt's interface type."),
    source: DeviceName.optional().describe("Network name (network), bridge name (bridge), device (direct); absent otherwise."),
  })
  .strict();
export type VmInterface = z.infer<typeof VmInterface>;

/** Why an agent finds a VM not migratable at all, whatever the destination. */
export const UnmigratableCode = z.enum([
  "HOSTDEV",
  "VHOST_USER",
  "LOCAL_READONLY",
  "UNSAFE_CACHE",
  "LOCAL_BLOCK",
  "BACKING_CHAIN",
  "LOCAL_DISK_TYPE",
  "COPY_STORAGE_TLS",
  "FACTS_TOO_LARGE",
]);
export type UnmigratableCode = z.infer<typeof UnmigratableCode>;

export const UnmigratableReason = z
  .object({
    code: UnmigratableCode.describe(
      "HOSTDEV, VHOST_USER, LOCAL_READONLY (a local CD-ROM or read-only disk), UNSAFE_CACHE, LOCAL_BLOCK, BACKING_CHAIN, LOCAL_DISK_TYPE, COPY_STORAGE_TLS, FACTS_TOO_LARGE (docs/operations.md).",
    ),
    detail: z.string().max(1000).describe('What was found, e.g. "pci 0000:3b:00.0", "cdrom sdb /var/lib/libvirt/images/x.iso is local".'),
  })
  .strict();
export type UnmigratableReason = z.infer<typeof UnmigratableReason>;

export const VmFacts = z
  .object({
    name: VmName.describe("The VM's libvirt domain name."),
    domainType: z.string().max(16).describe('"kvm" or "qemu".'),
    arch: z.string().max(32).describe("Guest architecture."),
    machine: DeviceName.describe('Machine type as the migratable XML names it ("pc-i440fx-7.2").'),
    cpu: VmCpu.describe("The guest CPU definition."),
    disks: z.array(VmDisk).max(64).describe("Every disk and CD-ROM, in definition order."),
    interfaces: z.array(VmInterface).max(64).describe("Every network interface, in definition order."),
    hostdevs: z.array(z.string().max(128)).max(64).describe('Host devices passed through: "pci 0000:3b:00.0", "mdev <uuid>", "usb 046d:c52b".'),
    pinnedCpus: z
      .number()
      .int()
      .min(0)
      .optional()
      .describe("Highest host CPU number the VM's vCPUs or emulator are pinned to, plus one: a destination needs that many CPUs. Absent: not pinned."),
    hugepageKiB: z.number().int().positive().optional().describe("Huge page size backing the guest's memory, KiB; absent: ordinary pages."),
    migratable: z.boolean().describe("False when something in the VM's definition rules out every live migration (reasons say what)."),
    reasons: z.array(UnmigratableReason).max(64).describe("Why it is not migratable; empty when migratable."),
  })
  .strict();
export type VmFacts = z.infer<typeof VmFacts>;

/** ballast.agent.<host>.facts: published on start and on every change, and the reply to a request there. */
export const AgentFacts = z
  .object({
    v: z.literal(FACTS_VERSION).describe("Format version of the message."),
    host: HostId.describe("The publishing agent's host id (must equal the subject's host token)."),
    ts: z.number().int().nonnegative().describe("When the facts were collected, ms since the epoch (agent clock)."),
    digest: z
      .string()
      .regex(/^[0-9a-f]{8,64}$/)
      .describe("Digest of hostFacts and vms; the heartbeat carries it too, so a missed change is noticed."),
    hostFacts: HostFacts.describe("The host's facts."),
    vms: z.array(VmFacts).max(2000).describe("Facts of every running or paused VM of the host, sorted by name."),
  })
  .strict()
  .describe("A host's and its VMs' migratability facts.");
export type AgentFacts = z.infer<typeof AgentFacts>;

/** Request body of ballast.agent.<host>.facts. */
export const FactsRequest = z.object({}).strict();

/**
 * A local writable disk: one that moves only by copying (`--copy-storage-all`). libvirt's own
 * default for what it copies (qemuMigrationAnyCopyDisk): neither shared nor read-only, with a
 * source. The one rule for the agent (what it passes to --migrate-disks), the orchestrator (when it
 * allows copying) and the planner (what a move costs).
 */
export function isLocalWritable(d: Pick<VmDisk, "shared" | "readonly" | "source">): boolean {
  return !d.shared && !d.readonly && d.source !== undefined;
}

/** A VM's local writable disks, in definition order. */
export function localWritableDisks<D extends Pick<VmDisk, "shared" | "readonly" | "source">>(f: { disks: readonly D[] }): D[] {
  return f.disks.filter(isLocalWritable);
}

/** Compares "9.0.0" and "10.1": negative, 0 or positive like a sort comparator. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(".").map(Number);
  const pb = b.split(".").map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}
