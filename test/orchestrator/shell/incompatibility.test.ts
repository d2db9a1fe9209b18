import { describe, expect, it } from "vitest";
import { classifyMigrationError, type IncompatibilityKind } from "../../../orchestrator/shell/incompatibility.js";

// libvirt's own error texts (formats from libvirt 9.x's sources and libvirt.so's strings, filled
// in as virsh prints them; the agents pass them on as the migration's error).

const CASES: [string, IncompatibilityKind | undefined][] = [
  // VIR_ERR_CPU_INCOMPATIBLE (src/cpu/cpu_x86.c)
  ["operation failed: the CPU is incompatible with host CPU: Host CPU does not provide required features: avx512f, vmx-tsc-scaling", "CPU"],
  ["the CPU is incompatible with host CPU", "CPU"],
  // qemu_process.c, after QEMU started on the destination
  ["operation failed: guest CPU doesn't match specification: missing features: invpcid", "CPU"],
  // qemu_validate.c: the machine type inside "unsupported configuration" is a MACHINE, not CONFIG
  ["unsupported configuration: Emulator '/usr/bin/qemu-system-x86_64' does not support machine type 'pc-q35-8.2'", "MACHINE"],
  // virnetdev.c: a bridge the destination lacks
  ["Cannot get interface MTU on 'br-db': No such device", "NETWORK"],
  ["Network not found: no network with matching name 'storage-net'", "NETWORK"],
  ["Storage pool not found: no storage pool with matching name 'images'", "STORAGE"],
  ["Cannot access storage file '/var/lib/libvirt/images/x.iso' (as uid:64055, gid:64055): No such file or directory", "STORAGE"],
  ["internal error: qemu unexpectedly closed the monitor: Could not open '/srv/a.qcow2': No such file or directory", "STORAGE"],
  // qemu_migration.c
  ["Requested operation is not valid: cannot migrate a domain with <hostdev mode='subsystem' type='pci'>", "DEVICE"],
  ["Requested operation is not valid: cannot migrate a domain with <interface type='vhostuser'>", "DEVICE"],
  ["Unsafe migration: Migration may lead to data corruption if disks use cache other than none or directsync", "UNSAFE"],
  ["Unsafe migration: Migration without shared storage is unsafe", "UNSAFE"],
  ["internal error: Unable to find any usable hugetlbfs mount for 1048576 KiB", "HUGEPAGES"],
  ["unsupported configuration: hugetlbfs filesystem is not mounted or disabled by administrator config", "HUGEPAGES"],
  ["unsupported configuration: USB redirection is not supported by this version of QEMU", "CONFIG"],
  // Not about the pair: the attempt went wrong.
  ["operation aborted: migration out job: canceled by client", undefined],
  ["Timed out during operation: cannot acquire state change lock (held by monitor=remoteDispatchDomainMigratePerform3Params)", undefined],
  ["operation failed: migration out job: unexpectedly failed", undefined],
  ["unable to connect to server at 'hv-b:49152': Connection refused", undefined],
  ["no outcome within 600s; web-1 is still on hv-a", undefined],
  ["", undefined],
];

describe("classifyMigrationError", () => {
  it.each(CASES)("%s -> %s", (text, kind) => {
    expect(classifyMigrationError(text)).toBe(kind);
  });

  it("reads only the head of a huge text (bounded work on what came off the wire)", () => {
    expect(classifyMigrationError(`${"x".repeat(5000)} the CPU is incompatible with host CPU`)).toBeUndefined();
    expect(classifyMigrationError(undefined)).toBeUndefined();
  });
});
