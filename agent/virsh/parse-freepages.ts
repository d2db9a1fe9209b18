import type { Hugepages } from "../../shared/schemas/facts.js";

// Parser for `virsh freepages --all` (libvirt 9): free pages per size, per NUMA node:
//   Node 0:
//   4KiB: 5553421
//   2048KiB: 0
//   1048576KiB: 0
// Summed over the nodes; the base page size (4 KiB) is not a huge page and is left out. Sizes
// libvirt prints in MiB or GiB on other setups are converted to KiB. Pure.

const UNIT_KIB: Record<string, number> = { KiB: 1, MiB: 1024, GiB: 1024 * 1024 };

/** Sizes below this are ordinary pages (4 KiB on x86, up to 64 KiB on some arm64/ppc64 kernels). */
const BASE_PAGE_MAX_KIB = 64;

export function parseFreepages(text: string): Hugepages[] {
  const free = new Map<number, number>();
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*(\d+)\s*(KiB|MiB|GiB):\s*(\d+)\s*$/.exec(line);
    if (!m) continue;
    const sizeKiB = Number(m[1]) * UNIT_KIB[m[2]!]!;
    if (sizeKiB <= BASE_PAGE_MAX_KIB) continue;
    free.set(sizeKiB, (free.get(sizeKiB) ?? 0) + Number(m[3]));
  }
  return [...free].sort((a, b) => a[0] - b[0]).map(([sizeKiB, n]) => ({ sizeKiB, free: n }));
}
