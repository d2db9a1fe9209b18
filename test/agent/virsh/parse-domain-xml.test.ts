import { describe, expect, it } from "vitest";
import { highestCpu, parseDomainXml } from "../../../agent/virsh/parse-domain-xml.js";
import { lab, variant } from "../facts/fixtures.js";

describe("parseDomainXml (dumpxml --migratable)", () => {
  it("reads the lab's diskless guest", () => {
    const d = parseDomainXml(lab("dumpxml-migratable-g1.xml"));
    expect(d).toMatchObject({ name: "g1", domainType: "qemu", arch: "x86_64", machine: "pc-i440fx-7.2", disks: [], interfaces: [], hostdevs: [] });
    expect(d.cpu).toMatchObject({ mode: "custom", model: "qemu64", required: [], disabled: [] });
    expect(d.cpu.xml).toMatch(/^<cpu mode="custom" match="exact" check="none">/);
    expect(d.pinnedCpus).toBeUndefined();
    expect(d.hugepageKiB).toBeUndefined();
  });

  it("reads the lab's local disks, CD-ROM and network; backingStore said or not", () => {
    const d = parseDomainXml(lab("dumpxml-migratable-g2-local-disks.xml"));
    expect(d.disks).toEqual([
      {
        target: "vda",
        device: "disk",
        type: "file",
        source: "/var/lib/libvirt/images/d2.qcow2",
        format: "qcow2",
        cache: "none",
        readonly: false,
        shareable: false,
        backingChain: false,
      },
      // a running overlay: --migratable drops the detected chain, so the XML does not say
      {
        target: "vdb",
        device: "disk",
        type: "file",
        source: "/var/lib/libvirt/images/d1.qcow2",
        format: "qcow2",
        cache: "writeback",
        readonly: false,
        shareable: false,
      },
      {
        target: "vdc",
        device: "disk",
        type: "file",
        source: "/var/lib/ballast-lab/shared/s1.qcow2",
        format: "qcow2",
        cache: "none",
        readonly: false,
        shareable: false,
        backingChain: false,
      },
      {
        target: "hdc",
        device: "cdrom",
        type: "file",
        source: "/var/lib/libvirt/images/cd.iso",
        format: "raw",
        readonly: true,
        shareable: false,
        backingChain: false,
      },
    ]);
    expect(d.interfaces).toEqual([{ type: "network", source: "onlya" }]);
  });

  it("reads host-passthrough and an empty CD-ROM", () => {
    const d = parseDomainXml(variant("dumpxml-host-passthrough.xml"));
    expect(d).toMatchObject({ domainType: "kvm", machine: "pc-q35-7.2", cpu: { mode: "host-passthrough", required: [], disabled: [] } });
    expect(d.cpu.model).toBeUndefined();
    expect(d.disks[1]).toEqual({ target: "sda", device: "cdrom", type: "file", format: "raw", readonly: true, shareable: false });
  });

  it("reads a custom Skylake CPU's required and disabled features, network disks and every interface kind", () => {
    const d = parseDomainXml(variant("dumpxml-skylake-rbd-bridge.xml"));
    expect(d.cpu).toMatchObject({
      mode: "custom",
      model: "Skylake-Client-IBRS",
      required: ["hypervisor", "md-clear", "pcid", "ss", "ssbd", "vmx"],
      disabled: ["hle", "mpx", "rtm"], // optional avx512f is neither
    });
    expect(d.cpu.xml).toContain("<topology");
    expect(d.disks.map((k) => [k.target, k.type, k.source, k.protocol, k.cache])).toEqual([
      ["vda", "network", "rbd:vms/db-2-root", "rbd", "writeback"],
      ["vdb", "network", "iscsi:iqn.2013-06.com.example:storage/1", "iscsi", "none"],
    ]);
    expect(d.interfaces).toEqual([
      { type: "bridge", source: "br-db" },
      { type: "network", source: "backend" },
      { type: "bridge", source: "ovsbr0" },
      { type: "direct", source: "eno2" },
    ]);
  });

  it("names PCI, mdev, USB and SR-IOV host devices", () => {
    const d = parseDomainXml(variant("dumpxml-hostdev-mdev-usb.xml"));
    expect(d.hostdevs).toEqual(["pci 0000:3b:00.0", "mdev c2177883-f1bb-47f0-914d-32a22e3a8804", "usb 046d:c52b", "pci 0000:5e:10.2"]);
    expect(d.cpu.mode).toBe("host-model");
    expect(d.interfaces).toEqual([{ type: "hostdev" }]);
  });

  it("finds vhost-user interfaces and disks, and default huge pages", () => {
    const d = parseDomainXml(variant("dumpxml-vhostuser.xml"));
    expect(d.vhostUserInterfaces).toEqual(["/var/run/openvswitch/vhu0"]);
    expect(d.interfaces).toEqual([{ type: "vhostuser" }]);
    expect(d.disks[0]).toMatchObject({ type: "vhostuser", source: "/tmp/vhost-blk.sock" });
    expect(d.hugepageKiB).toBe(2048);
    expect(d.cpu).toMatchObject({ model: "Icelake-Server", disabled: ["hle", "rtm"] });
  });

  it("reads pinning (highest CPU + 1, ^ excluded) and the largest huge page in KiB", () => {
    const d = parseDomainXml(variant("dumpxml-hugepages-pinning.xml"));
    expect(d.pinnedCpus).toBe(14); // vcpupin 10-14,^14 -> 13
    expect(d.hugepageKiB).toBe(1048576);
    expect(d.disks[0]).toMatchObject({ type: "block", source: "/dev/mapper/vg0-rt1", cache: "none" });
  });

  it("reads a written backing chain, shareable, dir, nvme and empty floppy disks", () => {
    const d = parseDomainXml(variant("dumpxml-backing-chain-mixed.xml"));
    const by = Object.fromEntries(d.disks.map((k) => [k.target, k]));
    expect(by.vda).toMatchObject({ backingChain: true, source: "/var/lib/libvirt/images/ci-runner-overlay.qcow2" });
    expect(by.vdc).toMatchObject({ type: "block", shareable: true, cache: "writethrough" });
    expect(by.vdd).toMatchObject({ type: "dir", source: "/var/lib/ci/artifacts" });
    expect(by.vde).toMatchObject({ type: "nvme", source: "nvme 0000:01:00.0" });
    expect(by.fda).toEqual({ target: "fda", device: "floppy", type: "file", format: "raw", readonly: false, shareable: false });
    expect(d.cpu.model).toBe("Nehalem");
  });

  it("has mode none without a <cpu>, and refuses a document that is no domain", () => {
    const d = parseDomainXml("<domain type='qemu'><name>x</name><os><type arch='x86_64' machine='pc'>hvm</type></os></domain>");
    expect(d.cpu).toEqual({ mode: "none", required: [], disabled: [] });
    expect(() => parseDomainXml("<network><name>x</name></network>")).toThrow(/no <domain><name>/);
  });
});

describe("highestCpu", () => {
  it("reads cpusets", () => {
    expect(highestCpu("0-3")).toBe(3);
    expect(highestCpu("0-3,^3")).toBe(2);
    expect(highestCpu("1,5,9-11")).toBe(11);
    expect(highestCpu("^0")).toBeUndefined();
    expect(highestCpu("")).toBeUndefined();
    expect(highestCpu(undefined)).toBeUndefined();
    expect(highestCpu("0-999999999")).toBe(65_536); // a hostile range is bounded, not expanded
  });
});
