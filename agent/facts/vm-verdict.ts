import type { MigrationSettings } from "../../shared/config/agent-config.js";
import { compareVersions, type SharedStorage, type UnmigratableReason, type VmDisk, type VmFacts } from "../../shared/schemas/facts.js";
import { CLUSTER_FS, sharedStorageOf } from "./shared-storage.js";

// Whether anything in a VM's definition rules out every live migration, whatever the destination,
// and why. Pure: the VM's facts and the agent's migration settings in, a verdict out. What depends
// on the destination (CPU, machine type, networks, huge pages) is the planner's business; whether
// local disks may be copied at all is the local_disks policy's (a local qcow2 disk is migratable
// here: --copy-storage-all moves it).
//
// The disk rules mirror libvirt 9's qemuMigrationSrcIsSafe (src/qemu/qemu_migration.c) and
// qemuMigrationAnyCopyDisk, which decide what `virsh migrate` refuses:
// - A disk without medium, or read-only, is never checked by libvirt; but --copy-storage-all does
//   not copy read-only disks either, so a read-only disk (a CD-ROM) on local storage needs its
//   file on the destination, where it is not: LOCAL_READONLY.
// - Network disks (rbd, iscsi, nbd, gluster, ...) are safe whatever their cache mode.
// - A local disk is copied by --copy-storage-all (NBD): fine for a plain image file. Refused here:
//   a raw block device (the destination needs a device at the same path: LOCAL_BLOCK), disk types
//   a copy cannot recreate (dir, nvme, volume: LOCAL_DISK_TYPE), and a file with a backing chain
//   (BACKING_CHAIN). libvirt 9.0 does move the latter (measured on the lab: with a pool on the
//   destination it precreates the top image without backing file and copies the whole chain into
//   it, 64 MiB virtual -> 64.25 MiB allocated), but the guest then loses its shared base image and
//   the copy costs the full virtual size, not the overlay's; --copy-storage-inc would need the
//   chain on the destination. Refusing is the plain, explainable rule.
// - A shared writable disk whose cache mode is not none/directsync: libvirt refuses "Migration may
//   lead to data corruption if disks use cache other than none or directsync", unless the disk is
//   <shareable/>, the file is on a cluster file system (GFS2, OCFS2: virFileIsClusterFS), or QEMU
//   can drop the page cache on the destination (QEMU_CAPS_MIGRATION_FILE_DROP_CACHE, probed from
//   blockdev-add's file driver "drop-cache" option, which QEMU has had since 4.0). So libvirt 9
//   with QEMU >= 4.0 never refuses for the cache mode; the lab's QEMU 7.2 has the capability
//   (seen in its capability cache as "migration-file-drop-cache"). UNSAFE_CACHE is therefore only
//   raised for an older QEMU, or when the QEMU version is unknown.
// - --copy-storage-all over TLS (qemu+tls, or --tls in extra_args) can stall in some QEMU versions
//   (the NBD stream and the TLS migration channel): a VM with local disks to copy is refused.

/** A VM's facts before the verdict. */
export type VmFactsDraft = Omit<VmFacts, "migratable" | "reasons">;

export interface VerdictInput {
  vm: VmFactsDraft;
  /** The host's shared storage (HostFacts.sharedStorage), to find the file system under a shared disk. */
  sharedStorage: readonly SharedStorage[];
  /** The host's QEMU version (HostFacts.qemuVersion). */
  qemuVersion?: string;
  /** Socket paths of the VM's vhost-user interfaces, for the reasons' wording. */
  vhostUserInterfaces?: readonly string[];
  /** Targets of disks marked <shareable/> (VmDisk.shared folds that in; libvirt's cache rule skips them). */
  shareableTargets?: readonly string[];
}

export type VerdictSettings = Pick<MigrationSettings, "uri_scheme" | "extra_args">;

export interface Verdict {
  migratable: boolean;
  reasons: UnmigratableReason[];
}

/** QEMU from which libvirt finds any cache mode safe to migrate (see the header). */
export const QEMU_DROP_CACHE_VERSION = "4.0.0";
const SAFE_CACHE = new Set(["none", "directsync"]);
const MAX_REASONS = 64;
const MAX_DETAIL = 1000;

/** Whether the agent's migrations run over TLS. */
export function migratesOverTls(m: VerdictSettings): boolean {
  return m.uri_scheme === "qemu+tls" || m.extra_args.includes("--tls");
}

export function vmVerdict(input: VerdictInput, settings: VerdictSettings): Verdict {
  const { vm } = input;
  const reasons: UnmigratableReason[] = [];
  const add = (code: UnmigratableReason["code"], detail: string) => reasons.push({ code, detail: detail.slice(0, MAX_DETAIL) });

  for (const h of vm.hostdevs) add("HOSTDEV", `host device ${h} is passed through`);
  const vhost = vm.interfaces.filter((i) => i.type === "vhostuser");
  if (vhost.length > 0) {
    const names = input.vhostUserInterfaces?.length ? input.vhostUserInterfaces.join(", ") : `${vhost.length}`;
    add("VHOST_USER", `vhost-user interface ${names}: the destination needs the same vhost-user backend`);
  }

  const cacheChecked = input.qemuVersion === undefined || compareVersions(input.qemuVersion, QEMU_DROP_CACHE_VERSION) < 0;
  const copied: VmDisk[] = [];
  for (const d of vm.disks) {
    const what = `${d.device} ${d.target}${d.source ? ` ${d.source}` : ""}`;
    if (d.type === "vhostuser") {
      add("VHOST_USER", `${what}: a vhost-user disk`);
      continue;
    }
    if (d.source === undefined || d.type === "network") continue;
    if (d.readonly) {
      if (!d.shared) add("LOCAL_READONLY", `${what} is read-only and local: --copy-storage-all does not copy read-only disks, the destination lacks the file`);
      continue;
    }
    if (d.shared) {
      const shareable = input.shareableTargets?.includes(d.target) ?? false;
      if (cacheChecked && !shareable && !SAFE_CACHE.has(d.cache ?? "default") && !onClusterFs(d, input.sharedStorage))
        add(
          "UNSAFE_CACHE",
          `${what} is shared with cache=${d.cache ?? "default"}: libvirt refuses "Unsafe migration" unless the cache is none or directsync (QEMU ${input.qemuVersion ?? "of unknown version"} cannot drop the destination's page cache)`,
        );
      continue;
    }
    // A local, writable disk: copied by --copy-storage-all, if it can be.
    if (d.type === "block") add("LOCAL_BLOCK", `${what} is a local block device: a copy needs the same device on the destination`);
    else if (d.type !== "file") add("LOCAL_DISK_TYPE", `${what}: a local disk of type ${d.type} cannot be copied by --copy-storage-all`);
    else if (d.backingChain)
      add(
        "BACKING_CHAIN",
        `${what} has a backing chain: a copy would flatten it into one image of the full virtual size (and lose the shared base), so it is not copied`,
      );
    else copied.push(d);
  }
  if (copied.length > 0 && migratesOverTls(settings))
    add(
      "COPY_STORAGE_TLS",
      `local disk${copied.length > 1 ? "s" : ""} ${copied.map((d) => d.target).join(", ")} would be copied over TLS: --copy-storage-all with TLS can stall in some QEMU versions, so it is refused`,
    );

  const kept = reasons.slice(0, MAX_REASONS);
  return { migratable: kept.length === 0, reasons: kept };
}

function onClusterFs(d: VmDisk, shared: readonly SharedStorage[]): boolean {
  if (d.type !== "file" || d.source === undefined) return false;
  const s = sharedStorageOf(d.source, shared);
  return s !== undefined && CLUSTER_FS.has(s.kind);
}
