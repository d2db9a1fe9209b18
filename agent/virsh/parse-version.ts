import { HypervisorError } from "../../shared/errors.js";

// Parser for `virsh version` (libvirt 9, LC_ALL=C):
//   Compiled against library: libvirt 9.0.0
//   Using library: libvirt 9.0.0
//   Using API: QEMU 9.0.0
//   Running hypervisor: QEMU 7.2.22
// The library in use (not the one compiled against) and the running hypervisor count. Debian's
// QEMU 7.2 reports its package revision as the third part (7.2.22 for 7.2+dfsg-7+deb12u22). Pure.

export interface Versions {
  libvirt: string;
  /** The running hypervisor's version; absent when libvirt does not say (no driver connection). */
  qemu?: string;
}

const VERSION = /(\d{1,6}(?:\.\d{1,6}){0,3})/;

export function parseVersion(text: string): Versions {
  const line = (prefix: RegExp) => text.split(/\r?\n/).find((l) => prefix.test(l));
  const lib = line(/^\s*Using library:/) ?? line(/^\s*Compiled against library:/);
  const libvirt = lib && VERSION.exec(lib.replace(/^[^:]*:/, ""))?.[1];
  if (!libvirt) throw new HypervisorError("virsh version: no libvirt version in the output");
  const hv = line(/^\s*Running hypervisor:/);
  const qemu = hv && /QEMU/i.test(hv) ? VERSION.exec(hv.replace(/^[^:]*:/, ""))?.[1] : undefined;
  return qemu ? { libvirt, qemu } : { libvirt };
}
