// The size of a VM from its libvirt definition (the migratable XML a VmRecord keeps): what a restart
// plan reserves on a destination when no host lists the VM any more (a new leader never heard the
// dead host's inventory). Only <currentMemory> (else <memory>) and <vcpu> of the domain are read;
// anything else in the XML is left alone, so this is no XML parser.

export interface DomainSize {
  memMiB: number;
  vcpus: number;
}

/** libvirt's memory units (formatdomain: "unit"), in bytes; KiB when absent. */
const UNIT_BYTES: Readonly<Record<string, number>> = {
  b: 1,
  bytes: 1,
  kb: 1e3,
  k: 1024,
  kib: 1024,
  mb: 1e6,
  m: 1024 ** 2,
  mib: 1024 ** 2,
  gb: 1e9,
  g: 1024 ** 3,
  gib: 1024 ** 3,
  tb: 1e12,
  t: 1024 ** 4,
  tib: 1024 ** 4,
};

function attr(attrs: string, name: string): string | undefined {
  const m = new RegExp(`\\b${name}\\s*=\\s*(?:'([^']*)'|"([^"]*)")`).exec(attrs);
  return m ? (m[1] ?? m[2]) : undefined;
}

function memoryMiB(xml: string, element: string): number | null {
  const m = new RegExp(`<${element}\\b([^>]*)>\\s*(\\d+)\\s*</${element}>`).exec(xml);
  if (!m) return null;
  const unit = (attr(m[1]!, "unit") ?? "KiB").toLowerCase();
  const bytes = UNIT_BYTES[unit];
  if (bytes === undefined) return null;
  return (Number(m[2]) * bytes) / 1024 ** 2;
}

/** The VM's memory (MiB) and vCPUs from its definition; null when either cannot be read. */
export function domainSize(xml: string): DomainSize | null {
  const mem = memoryMiB(xml, "currentMemory") ?? memoryMiB(xml, "memory");
  const v = /<vcpu\b([^>]*)>\s*(\d+)\s*<\/vcpu>/.exec(xml);
  if (mem === null || !v || mem <= 0) return null;
  const current = attr(v[1]!, "current");
  const vcpus = current !== undefined && /^\d+$/.test(current) ? Number(current) : Number(v[2]);
  if (!Number.isSafeInteger(vcpus) || vcpus <= 0) return null;
  return { memMiB: mem, vcpus };
}
