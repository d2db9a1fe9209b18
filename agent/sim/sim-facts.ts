import { SimHostFacts, SimVmFacts } from "../../shared/config/agent-config.js";
import type { CheckIncomingRequest } from "../../shared/schemas/agent-api.js";
import { isLocalWritable, type HostFacts, type UnmigratableReason, type VmDisk, type VmFacts } from "../../shared/schemas/facts.js";
import type { IncomingRefusal } from "../ports/hypervisor.js";

// The facts of simulated hosts and VMs, from their SimConfig: so demos and scale tests can show
// mixed clusters (CPU generations, networks, local disks, host devices). With no `facts` in the
// config every host and every VM gets the same defaults, and every VM fits every host.

const GiB = 1024 * 1024 * 1024;

const underAny = (path: string, dirs: readonly string[]) => dirs.some((d) => path === d || path.startsWith(d.endsWith("/") ? d : `${d}/`));

export function simHostFacts(input: SimHostFacts | undefined): HostFacts {
  const f = input ?? SimHostFacts.parse({});
  return {
    cpu: {
      arch: "x86_64",
      vendor: "Intel",
      model: f.cpu_model,
      features: [...new Set(f.cpu_features)].sort(),
      usableModels: [...new Set(f.cpu_models)].sort(),
    },
    domainTypes: ["kvm", "qemu"],
    libvirtVersion: f.libvirt_version,
    qemuVersion: f.qemu_version,
    machineTypes: [...new Set(f.machine_types)].sort(),
    networks: [...new Set(f.networks)].sort(),
    bridges: [...new Set(f.bridges)].sort(),
    sharedStorage: [...new Set(f.shared_paths)].sort().map((path) => ({ path, kind: "configured" as const })),
    hugepages: [],
  };
}

const DEFAULT_VM = SimVmFacts.parse({});

export function simVmFacts(name: string, input: SimVmFacts | undefined, host: HostFacts): VmFacts {
  const f = input ?? DEFAULT_VM;
  const shared = host.sharedStorage.map((s) => s.path);
  const disks: VmDisk[] = f.disks.map((d) => ({
    target: d.target,
    device: "disk",
    type: "file",
    source: d.path,
    format: "qcow2",
    cache: "none",
    readonly: false,
    shared: underAny(d.path, shared),
    capacityBytes: Math.round(d.size_gib * GiB),
    allocationBytes: Math.round(d.size_gib * GiB),
    backingChain: false,
  }));
  const reasons: UnmigratableReason[] = f.hostdevs.map((h) => ({ code: "HOSTDEV", detail: h }));
  return {
    name,
    domainType: "kvm",
    arch: "x86_64",
    machine: f.machine,
    cpu: { mode: "custom", model: f.cpu_model, required: [...new Set(f.cpu_features)].sort(), disabled: [] },
    disks,
    interfaces: [...f.networks.map((n) => ({ type: "network" as const, source: n })), ...f.bridges.map((b) => ({ type: "bridge" as const, source: b }))],
    hostdevs: [...f.hostdevs],
    migratable: reasons.length === 0,
    reasons,
  };
}

/**
 * What the simulated destination's "libvirt" says of an incoming VM: the CPU model must be usable
 * here and every required feature offered (worded like libvirt's hypervisor-cpu-compare), its
 * networks active, its shared disks under this host's shared paths, the disks it copies absent.
 */
export function simIncomingRefusals(req: CheckIncomingRequest, host: HostFacts, files: ReadonlySet<string>): IncomingRefusal[] {
  const out: IncomingRefusal[] = [];
  const { facts } = req;
  const { cpu } = host;
  if (facts.cpu.mode === "custom" && facts.cpu.model !== undefined && !cpu.usableModels.includes(facts.cpu.model))
    out.push({ code: "CPU", message: `hypervisor-cpu-compare: the CPU is incompatible with host CPU: Unknown or unusable CPU model ${facts.cpu.model}` });
  const missing = facts.cpu.required.filter((x) => !cpu.features.includes(x));
  if (missing.length > 0)
    out.push({
      code: "CPU",
      message: `hypervisor-cpu-compare: the CPU is incompatible with host CPU: Host CPU does not provide required features: ${missing.join(", ")}`,
    });
  for (const n of new Set(facts.interfaces.filter((i) => i.type === "network" && i.source !== undefined).map((i) => i.source!)))
    if (!host.networks.includes(n)) out.push({ code: "NETWORK", message: `network ${n}: Network not found: no network with matching name '${n}'` });
  const shared = host.sharedStorage.map((s) => s.path);
  for (const d of facts.disks) {
    if (d.source === undefined) continue;
    if (d.shared && !underAny(d.source, shared)) out.push({ code: "STORAGE", message: `shared disk ${d.target}: ${d.source} is not there on this host` });
    if (isLocalWritable(d) && req.copyStorage && files.has(d.source))
      out.push({ code: "DISK_EXISTS", message: `local disk ${d.target}: ${d.source} already exists on this host; a copy would overwrite it` });
  }
  return out;
}
