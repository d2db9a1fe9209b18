import { describe, expect, it } from "vitest";
import { isLocalWritable, localWritableDisks, type VmDisk } from "../../../shared/schemas/facts.js";

// One rule, libvirt's (qemuMigrationAnyCopyDisk): a disk is copied when it is neither shared nor
// read-only and has a source, whatever the guest sees it as. Before, the agent copied a writable
// local floppy while the orchestrator and the planner counted only disks and LUNs: the
// orchestrator then sent no copyStorage, and the agent refused the move (LOCAL_DISKS).

const disk = (o: Partial<VmDisk>): VmDisk => ({
  target: "vda",
  device: "disk",
  type: "file",
  source: "/var/lib/libvirt/images/a.qcow2",
  readonly: false,
  shared: false,
  backingChain: false,
  ...o,
});

describe("local writable disks", () => {
  it.each([
    ["a local qcow2 disk", disk({}), true],
    ["a local writable floppy", disk({ target: "fda", device: "floppy" }), true],
    ["a local LUN", disk({ target: "sdb", device: "lun", type: "block", source: "/dev/sdb" }), true],
    ["a local CD-ROM (read-only)", disk({ target: "hdc", device: "cdrom", readonly: true }), false],
    ["a disk on shared storage", disk({ shared: true }), false],
    ["an empty drive", disk({ source: undefined }), false],
  ])("%s", (_what, d, copied) => {
    expect(isLocalWritable(d)).toBe(copied);
  });

  it("lists them in definition order", () => {
    const f = { disks: [disk({ target: "vda" }), disk({ target: "vdb", shared: true }), disk({ target: "vdc" })] };
    expect(localWritableDisks(f).map((d) => d.target)).toEqual(["vda", "vdc"]);
  });
});
