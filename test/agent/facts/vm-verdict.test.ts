import { describe, expect, it } from "vitest";
import { buildVmFacts } from "../../../agent/facts/collect-facts.js";
import { vmVerdict, type VmFactsDraft } from "../../../agent/facts/vm-verdict.js";
import { parseBlockStats } from "../../../agent/virsh/parse-block-stats.js";
import { parseDomainXml } from "../../../agent/virsh/parse-domain-xml.js";
import { MigrationSettings } from "../../../shared/config/agent-config.js";
import type { SharedStorage, VmDisk } from "../../../shared/schemas/facts.js";
import { lab, variant } from "./fixtures.js";

const plain = MigrationSettings.parse({});
const tls = MigrationSettings.parse({ uri_scheme: "qemu+tls" });
const SHARED: SharedStorage[] = [
  { path: "/mnt/nfs", kind: "nfs4" },
  { path: "/srv/shared", kind: "configured" },
  { path: "/srv/gfs2", kind: "gfs2" },
  { path: "/var/lib/ballast-lab/shared", kind: "configured" },
];
const host = { sharedStorage: SHARED, qemuVersion: "7.2.22" };

/** Facts of a fixture, through the collector's own assembly (no virsh). */
const facts = (xml: string, opts: { blocks?: string; migration?: MigrationSettings; qemuVersion?: string } = {}) =>
  buildVmFacts(
    parseDomainXml(xml),
    parseBlockStats(opts.blocks ?? ""),
    { ...host, ...(opts.qemuVersion ? { qemuVersion: opts.qemuVersion } : {}) },
    [],
    opts.migration ?? plain,
  );
const codes = (f: { reasons: Array<{ code: string }> }) => f.reasons.map((r) => r.code);

describe("VM verdict on captured and written definitions", () => {
  it("the lab's diskless guest is migratable", () => {
    const f = facts(lab("dumpxml-migratable-g1.xml"));
    expect(f).toMatchObject({ migratable: true, reasons: [] });
  });

  it("the lab's g2: overlay refused for its chain, local CD-ROM refused; local qcow2 and shared disk fine", () => {
    const f = facts(lab("dumpxml-migratable-g2-local-disks.xml"), { blocks: lab("domstats-block-backing-g2.txt") });
    expect(f.disks.map((d) => [d.target, d.shared, d.backingChain, d.capacityBytes])).toEqual([
      ["vda", false, false, 33554432],
      ["vdb", false, true, 67108864],
      ["vdc", true, false, 50331648],
      ["hdc", false, false, 1048576],
    ]);
    expect(f.migratable).toBe(false);
    expect(codes(f)).toEqual(["BACKING_CHAIN", "LOCAL_READONLY"]);
    expect(f.reasons[1]!.detail).toContain("cdrom hdc /var/lib/libvirt/images/cd.iso");
  });

  it("host-passthrough on NFS with an empty CD-ROM is migratable (the CPU is the destination's question)", () => {
    const f = facts(variant("dumpxml-host-passthrough.xml"));
    expect(f.disks[0]!.shared).toBe(true);
    expect(f).toMatchObject({ migratable: true, reasons: [] });
  });

  it("network disks are shared and safe whatever their cache mode, even on an old QEMU", () => {
    const f = facts(variant("dumpxml-skylake-rbd-bridge.xml"), { qemuVersion: "3.1.0" });
    expect(f.disks.every((d) => d.shared)).toBe(true);
    expect(f.migratable).toBe(true);
  });

  it("host devices: one HOSTDEV reason each", () => {
    const f = facts(variant("dumpxml-hostdev-mdev-usb.xml"));
    expect(codes(f)).toEqual(["HOSTDEV", "HOSTDEV", "HOSTDEV", "HOSTDEV"]);
    expect(f.reasons.map((r) => r.detail).join("\n")).toMatch(/pci 0000:3b:00\.0[\s\S]*mdev c2177883[\s\S]*usb 046d:c52b[\s\S]*pci 0000:5e:10\.2/);
  });

  it("vhost-user interface and disk", () => {
    const f = facts(variant("dumpxml-vhostuser.xml"));
    expect(codes(f)).toEqual(["VHOST_USER", "VHOST_USER"]);
    expect(f.reasons[0]!.detail).toContain("/var/run/openvswitch/vhu0");
  });

  it("a local raw block device: LOCAL_BLOCK", () => {
    const f = facts(variant("dumpxml-hugepages-pinning.xml"));
    expect(f).toMatchObject({ pinnedCpus: 14, hugepageKiB: 1048576 });
    expect(codes(f)).toEqual(["LOCAL_BLOCK"]);
  });

  it("mixed disks: written chain, dir and nvme refused; shareable block, shared writeback and shared CD-ROM fine on QEMU 7.2", () => {
    const f = facts(variant("dumpxml-backing-chain-mixed.xml"));
    expect(f.reasons.map((r) => `${r.code} ${r.detail.split(" ").slice(0, 2).join(" ")}`)).toEqual([
      "BACKING_CHAIN disk vda",
      "LOCAL_DISK_TYPE disk vdd",
      "LOCAL_DISK_TYPE disk vde",
    ]);
    const by = Object.fromEntries(f.disks.map((d) => [d.target, d.shared]));
    expect(by).toEqual({ vda: false, vdb: true, vdc: true, vdd: false, sdb: true, fda: false, vde: false });
  });
});

describe("UNSAFE_CACHE mirrors qemuMigrationSrcIsSafe", () => {
  const disk = (d: Partial<VmDisk>): VmDisk => ({ target: "vda", device: "disk", type: "file", readonly: false, shared: true, backingChain: false, ...d });
  const vm = (disks: VmDisk[]): VmFactsDraft => ({
    name: "v",
    domainType: "kvm",
    arch: "x86_64",
    machine: "pc",
    cpu: { mode: "none", required: [], disabled: [] },
    disks,
    interfaces: [],
    hostdevs: [],
  });
  const old = (disks: VmDisk[], extra: { shareableTargets?: string[]; qemuVersion?: string } = {}) =>
    vmVerdict({ vm: vm(disks), sharedStorage: SHARED, qemuVersion: "3.1.0", ...extra }, plain);

  it("refuses a shared writable disk with cache other than none/directsync when QEMU cannot drop caches", () => {
    expect(codes(old([disk({ source: "/mnt/nfs/a.qcow2", cache: "writeback" })]))).toEqual(["UNSAFE_CACHE"]);
    expect(codes(old([disk({ source: "/mnt/nfs/a.qcow2" })]))).toEqual(["UNSAFE_CACHE"]); // default cache
    expect(codes(old([disk({ type: "block", source: "/dev/mapper/mpatha", cache: "writethrough" })]))).toEqual(["UNSAFE_CACHE"]);
    expect(codes(old([disk({ source: "/mnt/nfs/a.qcow2", cache: "writeback" })], { qemuVersion: undefined! }))).toEqual(["UNSAFE_CACHE"]);
  });

  it("lets none, directsync, read-only, <shareable/>, cluster file systems and QEMU >= 4.0 through", () => {
    expect(codes(old([disk({ source: "/mnt/nfs/a.qcow2", cache: "none" })]))).toEqual([]);
    expect(codes(old([disk({ source: "/mnt/nfs/a.qcow2", cache: "directsync" })]))).toEqual([]);
    expect(codes(old([disk({ source: "/mnt/nfs/a.iso", device: "cdrom", readonly: true })]))).toEqual([]);
    expect(codes(old([disk({ source: "/mnt/nfs/a.qcow2", cache: "writeback" })], { shareableTargets: ["vda"] }))).toEqual([]);
    expect(codes(old([disk({ source: "/srv/gfs2/a.qcow2", cache: "writeback" })]))).toEqual([]);
    expect(codes(old([disk({ source: "/mnt/nfs/a.qcow2", cache: "writeback" })], { qemuVersion: "4.0.0" }))).toEqual([]);
  });

  it("does not apply to local disks (those are copied)", () => {
    expect(codes(old([disk({ source: "/var/lib/libvirt/images/a.qcow2", shared: false, cache: "writeback" })]))).toEqual([]);
  });
});

describe("COPY_STORAGE_TLS", () => {
  it("refuses local disks to copy when migrations use TLS (scheme or --tls)", () => {
    const xml = lab("dumpxml-migratable-g2-local-disks.xml")
      .replace(/<disk type='file' device='cdrom'>[\s\S]*?<\/disk>/, "")
      .replace(/<disk type='file' device='disk'>\s*<driver name='qemu' type='qcow2' cache='writeback'\/>[\s\S]*?<\/disk>/, "");
    expect(facts(xml).migratable).toBe(true);
    const f = facts(xml, { migration: tls });
    expect(codes(f)).toEqual(["COPY_STORAGE_TLS"]);
    expect(f.reasons[0]!.detail).toMatch(/vda.*TLS.*stall/);
    expect(codes(facts(xml, { migration: MigrationSettings.parse({ extra_args: ["--tls"] }) }))).toEqual(["COPY_STORAGE_TLS"]);
  });
  it("does not refuse a VM whose disks are all shared", () => {
    expect(facts(variant("dumpxml-host-passthrough.xml"), { migration: tls }).migratable).toBe(true);
  });
});
