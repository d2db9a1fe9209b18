import { HypervisorError } from "../../shared/errors.js";
import type { CpuMode, VmCpu, VmInterface } from "../../shared/schemas/facts.js";
import { cpuFeatures } from "./parse-domcapabilities.js";
import { attr, buildXml, child, childText, children, has, parseXml, type XmlNode } from "./parse-xml.js";

// Parser for `virsh dumpxml --migratable DOMAIN` (libvirt 9): what of a domain's definition
// decides where it can go (CPU, machine, disks, interfaces, host devices, pinning, huge pages).
// Pure: whether a disk is shared, its size and the verdict come later (agent/facts/).
//
// A trap measured on the lab: for a running domain, --migratable drops the backing chain libvirt
// detected by itself. A disk without backing file shows an empty <backingStore/>; a qcow2 overlay
// shows no <backingStore> at all. Only a chain written in the definition itself keeps its
// <backingStore><source .../></backingStore>. So `backingChain` is true (a chain is written),
// false (an empty <backingStore/>: none) or undefined (not said: `domstats --block --backing` tells).

export type DiskDeviceName = "disk" | "cdrom" | "floppy" | "lun";
export type DiskTypeName = "file" | "block" | "network" | "volume" | "dir" | "nvme" | "vhostuser";

export interface DomainDisk {
  target: string;
  device: DiskDeviceName;
  type: DiskTypeName;
  /** File or device path; protocol:name for network disks; "pool/volume"; "nvme 0000:01:00.0". Absent: no medium. */
  source?: string;
  /** Network protocol ("rbd", "iscsi", "nbd", "gluster") of a network disk. */
  protocol?: string;
  format?: string;
  cache?: string;
  readonly: boolean;
  /** <shareable/>: the operator says several hosts (or guests) use the disk at once. */
  shareable: boolean;
  /** See the header: true, false, or undefined when the migratable XML does not say. */
  backingChain?: boolean;
}

export interface DomainXmlFacts {
  name: string;
  /** "kvm" or "qemu". */
  domainType: string;
  arch: string;
  machine: string;
  cpu: VmCpu;
  disks: DomainDisk[];
  interfaces: VmInterface[];
  /** Interfaces of type vhostuser, by their socket path or MAC: they cannot move. */
  vhostUserInterfaces: string[];
  hostdevs: string[];
  pinnedCpus?: number;
  hugepageKiB?: number;
}

const DEVICES = new Set<DiskDeviceName>(["disk", "cdrom", "floppy", "lun"]);
const DISK_TYPES = new Set<DiskTypeName>(["file", "block", "network", "volume", "dir", "nvme", "vhostuser"]);
const IFACE_TYPES = new Set(["network", "bridge", "direct", "vhostuser", "user", "hostdev", "ethernet"]);
const CPU_MODES = new Set<CpuMode>(["host-passthrough", "host-model", "maximum", "custom"]);
/** What the schema accepts as a network/bridge/device name; anything else is left out rather than failing the VM. */
const DEVICE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.:@+-]{0,127}$/;

export function parseDomainXml(xml: string): DomainXmlFacts {
  const dom = child(parseXml(xml, "virsh dumpxml"), "domain");
  const name = childText(dom, "name");
  if (!dom || !name) throw new HypervisorError("virsh dumpxml: no <domain><name>");
  const osType = child(child(dom, "os"), "type");
  const devices = child(dom, "devices");
  const ifaces = children(devices, "interface");
  const hostdevs = [...children(devices, "hostdev").map(hostdevName), ...ifaces.filter((i) => attr(i, "type") === "hostdev").map(vfName)];
  const pinned = pinnedCpus(dom);
  const huge = hugepageKiB(dom);
  return {
    name,
    domainType: attr(dom, "type") ?? "",
    arch: attr(osType, "arch") ?? "",
    machine: attr(osType, "machine") ?? "",
    cpu: vmCpu(child(dom, "cpu")),
    disks: children(devices, "disk").map(disk),
    interfaces: ifaces.map(iface),
    vhostUserInterfaces: ifaces
      .filter((i) => attr(i, "type") === "vhostuser")
      .map((i) => attr(child(i, "source"), "path") ?? attr(child(i, "mac"), "address") ?? "vhostuser"),
    hostdevs,
    ...(pinned !== undefined ? { pinnedCpus: pinned } : {}),
    ...(huge !== undefined ? { hugepageKiB: huge } : {}),
  };
}

function vmCpu(cpu: XmlNode | undefined): VmCpu {
  if (cpu === undefined) return { mode: "none", required: [], disabled: [] };
  const rawMode = attr(cpu, "mode") ?? "custom";
  const mode: CpuMode = CPU_MODES.has(rawMode as CpuMode) ? (rawMode as CpuMode) : "custom";
  const model = childText(cpu, "model");
  const { required, disabled } = cpuFeatures(cpu);
  return { mode, ...(model ? { model } : {}), required, disabled, xml: buildXml("cpu", cpu) };
}

function disk(d: XmlNode): DomainDisk {
  const device = (attr(d, "device") ?? "disk") as DiskDeviceName;
  const type = (attr(d, "type") ?? "file") as DiskTypeName;
  const driver = child(d, "driver");
  const src = child(d, "source");
  let source: string | undefined;
  let protocol: string | undefined;
  switch (type) {
    case "file":
      source = attr(src, "file");
      break;
    case "block":
      source = attr(src, "dev");
      break;
    case "dir":
      source = attr(src, "dir");
      break;
    case "network": {
      protocol = attr(src, "protocol");
      const name = attr(src, "name") ?? attr(child(src, "host"), "name");
      if (protocol || name) source = `${protocol ?? "network"}:${name ?? ""}`;
      break;
    }
    case "volume": {
      const pool = attr(src, "pool");
      const volume = attr(src, "volume");
      if (pool || volume) source = `${pool ?? ""}/${volume ?? ""}`;
      break;
    }
    case "nvme": {
      const a = child(src, "address");
      source = a ? `nvme ${pciAddress(a)}` : undefined;
      break;
    }
    case "vhostuser":
      source = attr(src, "path");
      break;
  }
  const bs = d.backingStore === undefined ? undefined : child(d, "backingStore");
  const format = attr(driver, "type");
  const cache = attr(driver, "cache");
  return {
    target: attr(child(d, "target"), "dev") ?? "",
    device: DEVICES.has(device) ? device : "disk",
    type: DISK_TYPES.has(type) ? type : "file",
    ...(source ? { source } : {}),
    ...(protocol ? { protocol } : {}),
    ...(format ? { format } : {}),
    ...(cache ? { cache } : {}),
    readonly: has(d, "readonly"),
    shareable: has(d, "shareable"),
    ...(bs === undefined ? {} : { backingChain: has(bs, "source") }),
  };
}

function iface(i: XmlNode): VmInterface {
  const t = attr(i, "type") ?? "other";
  const type = (IFACE_TYPES.has(t) ? t : "other") as VmInterface["type"];
  const src = child(i, "source");
  const name = type === "network" ? attr(src, "network") : type === "bridge" ? attr(src, "bridge") : type === "direct" ? attr(src, "dev") : undefined;
  return name && DEVICE_NAME.test(name) ? { type, source: name } : { type };
}

const hex = (v: string | undefined, width: number) => {
  const n = v === undefined ? NaN : Number.parseInt(v.replace(/^0x/i, ""), 16);
  return Number.isFinite(n) ? n.toString(16).padStart(width, "0") : "?".repeat(width);
};

/** "0000:3b:00.0" from <address domain='0x0000' bus='0x3b' slot='0x00' function='0x0'/>. */
function pciAddress(a: XmlNode): string {
  return `${hex(attr(a, "domain") ?? "0", 4)}:${hex(attr(a, "bus"), 2)}:${hex(attr(a, "slot"), 2)}.${hex(attr(a, "function") ?? "0", 1)}`;
}

/** An SR-IOV VF given to the guest by <interface type='hostdev'>: a PCI host device. */
function vfName(i: XmlNode): string {
  const a = child(child(i, "source"), "address");
  return a ? `pci ${pciAddress(a)}` : "pci";
}

/** "pci 0000:3b:00.0", "mdev <uuid>", "usb 046d:c52b", "usb bus 1 device 4", "scsi ...". */
function hostdevName(h: XmlNode): string {
  const type = attr(h, "type") ?? "pci";
  const src = child(h, "source");
  const a = child(src, "address");
  switch (type) {
    case "pci":
      return a ? `pci ${pciAddress(a)}` : "pci";
    case "mdev":
      return `mdev ${attr(a, "uuid") ?? "?"}`;
    case "usb": {
      const vendor = attr(child(src, "vendor"), "id");
      const product = attr(child(src, "product"), "id");
      if (vendor || product) return `usb ${hex(vendor, 4)}:${hex(product, 4)}`;
      return `usb bus ${attr(a, "bus") ?? "?"} device ${attr(a, "device") ?? "?"}`;
    }
    case "scsi": {
      const adapter = attr(child(src, "adapter"), "name");
      const host = attr(child(src, "host"), "name");
      return `scsi ${adapter ?? attr(src, "protocol") ?? ""} ${attr(a, "bus") ?? host ?? ""}:${attr(a, "target") ?? ""}:${attr(a, "unit") ?? ""}`.replace(
        /\s+/g,
        " ",
      );
    }
    default:
      return `${type} ${attr(h, "mode") ?? ""}`.trim();
  }
}

/** Highest CPU of a cpuset ("0-3,^2,8-9") or undefined when it names none. */
export function highestCpu(cpuset: string | undefined): number | undefined {
  if (!cpuset) return undefined;
  const on = new Set<number>();
  const off = new Set<number>();
  for (const part of cpuset.split(",")) {
    const p = part.trim();
    const neg = p.startsWith("^");
    const m = /^(\d+)(?:-(\d+))?$/.exec(neg ? p.slice(1) : p);
    if (!m) continue;
    const lo = Number(m[1]);
    const hi = Number(m[2] ?? m[1]);
    // A range is never expanded beyond 65,536 CPUs: a hostile "0-999999999" costs nothing.
    for (let c = lo; c <= Math.min(hi, lo + 65_536); c++) (neg ? off : on).add(c);
  }
  let max: number | undefined;
  for (const c of on) if (!off.has(c) && (max === undefined || c > max)) max = c;
  return max;
}

/** Highest host CPU the vCPUs, emulator or I/O threads are pinned to, plus one. */
function pinnedCpus(dom: XmlNode): number | undefined {
  const sets: Array<string | undefined> = [attr(child(dom, "vcpu"), "cpuset")];
  const tune = child(dom, "cputune");
  for (const tag of ["vcpupin", "emulatorpin", "iothreadpin"]) for (const p of children(tune, tag)) sets.push(attr(p, "cpuset"));
  let max: number | undefined;
  for (const s of sets) {
    const h = highestCpu(s);
    if (h !== undefined && (max === undefined || h > max)) max = h;
  }
  return max === undefined ? undefined : max + 1;
}

const SIZE_UNITS_KIB: Record<string, number> = {
  b: 1 / 1024,
  bytes: 1 / 1024,
  k: 1,
  kib: 1,
  kb: 1000 / 1024,
  m: 1024,
  mib: 1024,
  mb: 1e6 / 1024,
  g: 1024 ** 2,
  gib: 1024 ** 2,
  gb: 1e9 / 1024,
  t: 1024 ** 3,
  tib: 1024 ** 3,
};

/**
 * Huge page size backing the memory, KiB. <hugepages/> without a <page> uses the kernel's
 * default huge page size, 2 MiB on x86_64 (what we report); with several <page> elements
 * (per NUMA node), the largest counts.
 */
function hugepageKiB(dom: XmlNode): number | undefined {
  const mb = child(dom, "memoryBacking");
  if (!has(mb, "hugepages")) return undefined;
  let max: number | undefined;
  for (const p of children(child(mb, "hugepages"), "page")) {
    const size = Number(attr(p, "size"));
    const unit = SIZE_UNITS_KIB[(attr(p, "unit") ?? "KiB").toLowerCase()];
    if (!Number.isFinite(size) || size <= 0 || unit === undefined) continue;
    const kib = Math.round(size * unit);
    if (kib > 0 && (max === undefined || kib > max)) max = kib;
  }
  return max ?? 2048;
}
