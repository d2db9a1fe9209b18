import { describe, expect, it } from "vitest";
import { parseBlockStats, parseBlockStatsAll } from "../../../agent/virsh/parse-block-stats.js";
import { lab } from "../facts/fixtures.js";

describe("parseBlockStats (domstats --block --backing --raw)", () => {
  it("reads capacity, on-disk bytes and the backing chain of the lab's g2", () => {
    const b = parseBlockStats(lab("domstats-block-backing-g2.txt"));
    expect([...b.keys()]).toEqual(["vda", "vdb", "vdc", "hdc"]);
    expect(b.get("vda")).toEqual({ capacityBytes: 33554432, allocationBytes: 200704, backingChain: false });
    expect(b.get("vdb")).toEqual({ capacityBytes: 67108864, allocationBytes: 200704, backingChain: true });
    expect(b.get("hdc")).toEqual({ capacityBytes: 1048576, allocationBytes: 1048576, backingChain: false });
  });

  it("agrees with domblkinfo --all on capacity, and on its Allocation for files", () => {
    const b = parseBlockStats(lab("domstats-block-backing-g2.txt"));
    const rows = lab("domblkinfo-all-g2.txt")
      .split("\n")
      .map((l) => l.trim().split(/\s+/))
      .filter((f) => f.length === 4 && /^\d+$/.test(f[1]!));
    expect(rows.length).toBe(4);
    for (const [target, capacity, allocation] of rows) {
      expect(b.get(target!)?.capacityBytes).toBe(Number(capacity));
      expect(b.get(target!)?.allocationBytes).toBe(Number(allocation));
    }
  });

  it("gives an empty CD-ROM no size, without failing", () => {
    const b = parseBlockStats(lab("domstats-block-g2-cdrom-ejected.txt"));
    expect(b.get("hdc")).toEqual({ backingChain: false });
    expect(b.get("vda")?.capacityBytes).toBe(33554432);
  });

  it("reads nothing from no output or a domain without disks", () => {
    expect(parseBlockStats("").size).toBe(0);
    expect(parseBlockStats("Domain: 'g1'\n  block.count=0\n").size).toBe(0);
  });

  it("reads every domain of an all-domains call by name, the same as one call each", () => {
    const g2 = lab("domstats-block-backing-g2.txt");
    const all = parseBlockStatsAll(`Domain: 'g1'\n  block.count=0\n\n${g2}`);
    expect([...all.keys()]).toEqual(["g1", "g2"]);
    expect(all.get("g1")!.size).toBe(0);
    expect(all.get("g2")).toEqual(parseBlockStats(g2));
  });
});
