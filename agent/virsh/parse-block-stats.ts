import { parseDomstatsBlocks } from "./parse-domstats.js";

// Parser for `virsh domstats --block --backing --raw DOMAIN` (libvirt 9): per disk its virtual
// size and the bytes it takes on the host, and whether it has a backing chain:
//   Domain: 'g2'
//     block.count=5
//     block.1.name=vdb  block.1.path=/var/lib/libvirt/images/d1.qcow2  block.1.capacity=67108864  block.1.physical=200704
//     block.2.name=vdb  block.2.path=/var/lib/libvirt/images/base.qcow2 ...   (vdb's backing file)
// With --backing every image of a chain is listed under the disk's name, the top image first.
//
// Why this rather than `domblkinfo --all` (which libvirt 9 has, printing bytes by default): on the
// lab domblkinfo --all fails outright ("disk 'hdc' does not currently have a source assigned")
// as soon as one CD-ROM drive is empty, and tells nothing of backing chains. Here an empty drive
// just has no capacity. `physical` is what domblkinfo calls Allocation for a file (its blocks on
// disk); domstats' own `allocation` is the highest written offset (0 for a fresh qcow2). Pure.

export interface BlockInfo {
  /** Virtual size seen by the guest, bytes. */
  capacityBytes?: number;
  /** Bytes the top image takes on the host (a file's allocated blocks, a device's size). */
  allocationBytes?: number;
  /** More than one image listed for the disk: a backing chain. */
  backingChain: boolean;
}

const int = (v: string | undefined): number | undefined => {
  if (v === undefined || !/^\d{1,18}$/.test(v)) return undefined;
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : undefined;
};

/** Block info by disk target ("vda") of the first (only) domain in the output. */
export function parseBlockStats(text: string): Map<string, BlockInfo> {
  return blockInfoOf(parseDomstatsBlocks(text)[0]?.fields);
}

/** Block info by domain name, then disk target, of every domain in the output (`domstats --block` without a domain). */
export function parseBlockStatsAll(text: string): Map<string, Map<string, BlockInfo>> {
  return new Map(parseDomstatsBlocks(text).map((b) => [b.name, blockInfoOf(b.fields)]));
}

function blockInfoOf(fields: Map<string, string> | undefined): Map<string, BlockInfo> {
  const out = new Map<string, BlockInfo>();
  if (!fields) return out;
  const count = int(fields.get("block.count")) ?? 0;
  for (let i = 0; i < Math.min(count, 4096); i++) {
    const name = fields.get(`block.${i}.name`);
    if (!name) continue;
    const seen = out.get(name);
    if (seen) {
      seen.backingChain = true;
      continue;
    }
    const capacityBytes = int(fields.get(`block.${i}.capacity`));
    const allocationBytes = int(fields.get(`block.${i}.physical`));
    out.set(name, {
      ...(capacityBytes !== undefined ? { capacityBytes } : {}),
      ...(allocationBytes !== undefined ? { allocationBytes } : {}),
      backingChain: false,
    });
  }
  return out;
}
