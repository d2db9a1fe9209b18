import { HypervisorError } from "../../shared/errors.js";
import { cpuFeatures } from "./parse-domcapabilities.js";
import { child, childText, parseXml } from "./parse-xml.js";

// Parser for `virsh hypervisor-cpu-baseline --features FILE` (libvirt 9): one <cpu> element with
// the model and every feature the CPU has spelled out, those of the model included:
//   <cpu mode='custom' match='exact'><model fallback='forbid'>EPYC</model><vendor>AMD</vendor>
//     <feature policy='require' name='3dnow'/> <feature policy='disable' name='3dnowprefetch'/> ...
// Given the host-model CPU, that is the full list of features the host offers a guest. Works
// under TCG too (--virttype qemu, checked on the lab). Pure.

export interface CpuBaseline {
  model?: string;
  vendor?: string;
  /** Every feature the CPU has (policy require/force), sorted. */
  features: string[];
  /** Features of the model it lacks (policy disable/forbid), sorted. */
  disabled: string[];
}

export function parseCpuBaseline(xml: string): CpuBaseline {
  const cpu = child(parseXml(xml, "virsh hypervisor-cpu-baseline"), "cpu");
  if (!cpu) throw new HypervisorError("virsh hypervisor-cpu-baseline: no <cpu> element");
  const model = childText(cpu, "model");
  const vendor = childText(cpu, "vendor");
  const { required, disabled } = cpuFeatures(cpu);
  return { ...(model ? { model } : {}), ...(vendor ? { vendor } : {}), features: required, disabled };
}
