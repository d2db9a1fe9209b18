import { describe, expect, it } from "vitest";
import {
  configuredStorage,
  isShared,
  isUnder,
  localMountPoints,
  mergeStorage,
  parseMounts,
  sharedMounts,
  sharedStorageOf,
} from "../../../agent/facts/shared-storage.js";
import { SharedStorage } from "../../../shared/schemas/facts.js";
import { variant } from "./fixtures.js";

describe("shared storage from /proc/mounts", () => {
  const mounts = parseMounts(variant("mounts-mixed.txt"));

  it("finds every shared file system with its kind, and only those", () => {
    expect(sharedMounts(mounts)).toEqual([
      { path: "/gpfs/fs0", kind: "gpfs" },
      { path: "/lustre", kind: "lustre" },
      { path: "/mnt/beegfs", kind: "beegfs" },
      { path: "/mnt/ceph-fuse", kind: "ceph" },
      { path: "/mnt/cephfs", kind: "ceph" },
      { path: "/mnt/nfs", kind: "nfs4" },
      { path: "/mnt/nfs space", kind: "nfs4" },
      { path: "/mnt/nfs3", kind: "nfs" },
      { path: "/srv/gfs2", kind: "gfs2" },
      { path: "/srv/ocfs2", kind: "ocfs2" },
      { path: "/var/lib/libvirt/gluster", kind: "glusterfs" },
    ]);
    for (const s of sharedMounts(mounts)) expect(SharedStorage.safeParse(s).success).toBe(true);
  });

  it("decides by whole path components", () => {
    const shared = sharedMounts(mounts);
    expect(isShared("/mnt/nfs/vms/a.qcow2", shared)).toBe(true);
    expect(isShared("/mnt/nfs2/a.qcow2", shared)).toBe(false);
    expect(isShared("/mnt/nfs3/a.qcow2", shared)).toBe(true);
    expect(isShared("/mnt/nfs", shared)).toBe(true);
    expect(isShared("/mnt/nfs space/x.img", shared)).toBe(true);
    expect(isShared("/mnt/nfs/../local/a.qcow2", shared)).toBe(false);
    expect(isShared("relative/a.qcow2", shared)).toBe(false);
    expect(isUnder("/a/b", "/")).toBe(true);
    expect(isUnder("/a/bc", "/a/b/")).toBe(false);
  });

  it("counts a local file system mounted inside a shared one as local", () => {
    const shared = sharedMounts(mounts);
    const local = localMountPoints(mounts);
    expect(isShared("/mnt/nfs/scratch/a.qcow2", shared, local)).toBe(false);
    expect(isShared("/mnt/nfs/vms/a.qcow2", shared, local)).toBe(true);
    expect(sharedStorageOf("/srv/gfs2/x.img", shared, local)).toEqual({ path: "/srv/gfs2", kind: "gfs2" });
  });

  it("a mount over a shared one hides it (the last mount of a point wins)", () => {
    const m = parseMounts("nas:/a /data nfs4 rw 0 0\n/dev/sdc /data ext4 rw 0 0\n");
    expect(sharedMounts(m)).toEqual([]);
    expect(localMountPoints(m)).toEqual(["/data"]);
  });
});

describe("configured shared paths", () => {
  it("are 'configured', or 'block' under /dev, and win over a detected mount at the same path", () => {
    const configured = configuredStorage(["/srv/shared/", "/dev/mapper/mpatha", "/mnt/nfs"]);
    expect(configured).toEqual([
      { path: "/dev/mapper/mpatha", kind: "block" },
      { path: "/mnt/nfs", kind: "configured" },
      { path: "/srv/shared", kind: "configured" },
    ]);
    const merged = mergeStorage(configured, [
      { path: "/mnt/nfs", kind: "nfs4" },
      { path: "/lustre", kind: "lustre" },
    ]);
    expect(merged.map((s) => `${s.path}=${s.kind}`)).toEqual(["/dev/mapper/mpatha=block", "/lustre=lustre", "/mnt/nfs=configured", "/srv/shared=configured"]);
    expect(isShared("/dev/mapper/mpatha", merged)).toBe(true);
    expect(isShared("/dev/mapper/mpathb", merged)).toBe(false);
    // a configured directory on a local mount stays shared: the operator says so
    expect(isShared("/srv/shared/x.qcow2", merged, ["/", "/srv"])).toBe(true);
  });
});
