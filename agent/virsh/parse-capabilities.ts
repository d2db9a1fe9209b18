import { HypervisorError } from "../../shared/errors.js";
import { attr, child, childText, children, parseXml, text } from "./parse-xml.js";

// Parser for `virsh capabilities` (libvirt 9): the host CPU as libvirt sees it (arch, vendor,
// model, the features beyond that model) and, for each guest architecture, the machine types and
// domain types QEMU offers. Pure.
//
//   <capabilities><host><cpu><arch>x86_64</arch><model>Broadwell</model><vendor>Intel</vendor>
//                           <feature name='vme'/> ...</cpu> ...</host>
//     <guest><os_type>hvm</os_type><arch name='x86_64'>
//         <machine maxCpus='255'>pc-i440fx-7.2</machine>
//         <machine canonical='pc-i440fx-7.2' maxCpus='255'>pc</machine>
//         <domain type='qemu'/><domain type='kvm'><machine>...</machine></domain> ...

export interface Capabilities {
  /** Host CPU architecture ("x86_64"). */
  arch: string;
  vendor?: string;
  model?: string;
  /** Features the host CPU has beyond its model, sorted (not the full list: see parseCpuBaseline). */
  features: string[];
  /** Machine type names for the host's architecture, aliases ("pc", "q35") and their canonical names, sorted. */
  machineTypes: string[];
  /** Domain types offered for the host's architecture ("kvm", "qemu"), sorted. */
  domainTypes: string[];
}

const sortedUnique = (xs: Iterable<string>): string[] => [...new Set(xs)].sort();

export function parseCapabilities(xml: string): Capabilities {
  const caps = child(parseXml(xml, "virsh capabilities"), "capabilities");
  const cpu = child(child(caps, "host"), "cpu");
  const arch = childText(cpu, "arch");
  if (!caps || !arch) throw new HypervisorError("virsh capabilities: no <host><cpu><arch>");
  const machines = new Set<string>();
  const domainTypes = new Set<string>();
  for (const guest of children(caps, "guest")) {
    // Only hvm guests of the host's own architecture: an x86_64 host also lists i686, whose
    // machine types a migrated x86_64 guest cannot use.
    if (childText(guest, "os_type") !== "hvm") continue;
    const a = child(guest, "arch");
    if (attr(a, "name") !== arch) continue;
    const addMachines = (node: typeof a) => {
      for (const m of children(node, "machine")) {
        const name = text(m);
        if (name) machines.add(name);
        const canonical = attr(m, "canonical");
        if (canonical) machines.add(canonical);
      }
    };
    addMachines(a);
    for (const d of children(a, "domain")) {
      const type = attr(d, "type");
      if (type) domainTypes.add(type);
      addMachines(d); // some domain types (kvm) list machine types of their own
    }
  }
  const vendor = childText(cpu, "vendor");
  const model = childText(cpu, "model");
  return {
    arch,
    ...(vendor ? { vendor } : {}),
    ...(model ? { model } : {}),
    features: sortedUnique(children(cpu, "feature").flatMap((f) => attr(f, "name") ?? [])),
    machineTypes: sortedUnique(machines),
    domainTypes: sortedUnique(domainTypes),
  };
}
