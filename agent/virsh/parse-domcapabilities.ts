import { attr, buildXml, child, childText, children, parseXml, text, type XmlNode } from "./parse-xml.js";

// Parser for `virsh domcapabilities --virttype <kvm|qemu>` (libvirt 9): what a guest of that
// domain type can get here. Pure.
//
//   <domainCapabilities> ... <cpu>
//     <mode name='host-passthrough' supported='no'/>
//     <mode name='host-model' supported='yes'>
//       <model fallback='forbid'>EPYC</model><vendor>AMD</vendor>
//       <feature policy='require' name='ss'/> <feature policy='disable' name='vme'/> ...
//     </mode>
//     <mode name='custom' supported='yes'>
//       <model usable='yes' vendor='unknown'>qemu64</model> <model usable='no' vendor='AMD'>EPYC</model> ...
//
// Measured on the lab (libvirt 9.0, QEMU 7.2, TCG, --virttype qemu): host-passthrough is not
// supported, host-model is "EPYC" (vendor AMD) with a few features required and some disabled,
// whatever the real CPU (an Intel one there); usable custom models are the old generic ones
// (qemu64, Nehalem, Westmere, Penryn, Opteron_G1/G2, ...).

export interface HostModelCpu {
  model?: string;
  vendor?: string;
  /** Features required on top of the model (policy require/force), sorted. */
  required: string[];
  /** Features of the model the host lacks (policy disable/forbid), sorted. */
  disabled: string[];
  /**
   * The host-model CPU as a `<cpu mode='custom' match='exact'>` element: the form
   * `virsh hypervisor-cpu-baseline` and `hypervisor-cpu-compare` take (checked on the lab).
   */
  xml: string;
}

export interface DomainCapabilities {
  /** The domain type the capabilities are for ("kvm", "qemu"). */
  domainType?: string;
  arch?: string;
  hostPassthrough: boolean;
  /** Absent when libvirt offers no host-model CPU for this domain type. */
  hostModel?: HostModelCpu;
  /** Custom CPU models with usable='yes', sorted. */
  usableModels: string[];
}

const REQUIRE = new Set(["require", "force"]);
const DISABLE = new Set(["disable", "forbid"]);

/** Model, vendor and policy features of a <cpu> or <mode> element, policies split. */
export function cpuFeatures(node: XmlNode | undefined): { required: string[]; disabled: string[] } {
  const required = new Set<string>();
  const disabled = new Set<string>();
  for (const f of children(node, "feature")) {
    const name = attr(f, "name");
    if (!name) continue;
    // A <feature> without policy in a guest <cpu> means require (libvirt's default).
    const policy = attr(f, "policy") ?? "require";
    if (REQUIRE.has(policy)) required.add(name);
    else if (DISABLE.has(policy)) disabled.add(name);
  }
  return { required: [...required].sort(), disabled: [...disabled].sort() };
}

export function parseDomcapabilities(xml: string): DomainCapabilities {
  const caps = child(parseXml(xml, "virsh domcapabilities"), "domainCapabilities");
  const modes = children(child(caps, "cpu"), "mode");
  const mode = (name: string) => modes.find((m) => attr(m, "name") === name);
  const supported = (m: XmlNode | undefined) => m !== undefined && attr(m, "supported") === "yes";
  const hm = mode("host-model");
  const usable = new Set<string>();
  for (const m of children(mode("custom"), "model")) {
    const name = text(m);
    if (name && attr(m, "usable") === "yes") usable.add(name);
  }
  const domainType = childText(caps, "domain");
  const arch = childText(caps, "arch");
  return {
    ...(domainType ? { domainType } : {}),
    ...(arch ? { arch } : {}),
    hostPassthrough: supported(mode("host-passthrough")),
    ...(supported(hm) ? { hostModel: hostModelOf(hm!) } : {}),
    usableModels: [...usable].sort(),
  };
}

function hostModelOf(hm: XmlNode): HostModelCpu {
  const modelNode = child(hm, "model");
  const model = text(modelNode);
  const vendor = childText(hm, "vendor");
  const { required, disabled } = cpuFeatures(hm);
  // Only what a CPU definition holds: model, vendor, features. <maxphysaddr> and the like of
  // newer libvirt are left out; baseline and compare do not need them.
  const cpu: XmlNode = { "@_mode": "custom", "@_match": "exact" };
  if (model) cpu.model = { "#text": model, "@_fallback": attr(modelNode, "fallback") ?? "forbid" };
  if (vendor) cpu.vendor = vendor;
  const features = children(hm, "feature").filter((f) => attr(f, "name"));
  if (features.length > 0) cpu.feature = features.map((f) => ({ "@_policy": attr(f, "policy") ?? "require", "@_name": attr(f, "name") }));
  return { ...(model ? { model } : {}), ...(vendor ? { vendor } : {}), required, disabled, xml: buildXml("cpu", cpu) };
}
