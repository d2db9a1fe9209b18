import { posix } from "node:path";
import type { SharedStorage, SharedStorageKind } from "../../shared/schemas/facts.js";

// Which storage every host sees alike. Two sources: the operator's facts.shared_paths (kind
// "configured", or "block" for a shared block device under /dev), and the mount table, where a
// network or cluster file system (NFS, CephFS, GlusterFS, OCFS2, GFS2, Lustre, BeeGFS, GPFS) is
// shared by nature. Pure: the mount table comes in as text (/proc/mounts).
//
// A path is decided by its longest matching mount point, shared or not: an ext4 file system
// mounted at /srv/nfs/scratch inside an NFS mount at /srv/nfs is local. Symbolic links are not
// resolved (that needs the file system): a disk path through a link into a shared mount counts
// as local, which refuses a move rather than loses data.

/** /proc/mounts file-system types that are shared storage, and their kind. */
const SHARED_FS: Record<string, SharedStorageKind> = {
  nfs: "nfs",
  nfs4: "nfs4",
  ceph: "ceph",
  "fuse.ceph": "ceph",
  "fuse.ceph-fuse": "ceph",
  glusterfs: "glusterfs",
  "fuse.glusterfs": "glusterfs",
  ocfs2: "ocfs2",
  gfs2: "gfs2",
  lustre: "lustre",
  beegfs: "beegfs",
  gpfs: "gpfs",
};

/** Cluster file systems with coherent caches: libvirt lets any cache mode migrate on them (virFileIsClusterFS). */
export const CLUSTER_FS: ReadonlySet<SharedStorageKind> = new Set(["gfs2", "ocfs2"]);

export interface Mount {
  path: string;
  fsType: string;
}

/** /proc/mounts escapes space, tab, newline and backslash as \040 \011 \012 \134. */
const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));

/** Every mount of /proc/mounts (device, mount point, type, ...), in order. */
export function parseMounts(text: string): Mount[] {
  const out: Mount[] = [];
  for (const line of text.split(/\r?\n/)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 3) continue;
    const path = unescape(f[1]!);
    if (!path.startsWith("/")) continue;
    out.push({ path: normalize(path), fsType: f[2]! });
  }
  return out;
}

/** The shared mounts of a mount table: one entry per mount point, the last mount over a point wins. */
export function sharedMounts(mounts: readonly Mount[]): SharedStorage[] {
  const byPath = new Map<string, SharedStorageKind | null>();
  for (const m of mounts) byPath.set(m.path, SHARED_FS[m.fsType] ?? null);
  return sortStorage([...byPath].flatMap(([path, kind]) => (kind ? [{ path, kind }] : [])));
}

/** Mount points that are not shared: they hide a shared mount above them (see the header). */
export function localMountPoints(mounts: readonly Mount[]): string[] {
  const byPath = new Map<string, boolean>();
  for (const m of mounts) byPath.set(m.path, SHARED_FS[m.fsType] !== undefined);
  return [...byPath].flatMap(([path, shared]) => (shared ? [] : [path])).sort();
}

/** The operator's facts.shared_paths: "block" for a device under /dev, else "configured". */
export function configuredStorage(paths: readonly string[]): SharedStorage[] {
  return sortStorage(paths.map((p) => normalize(p)).map((path) => ({ path, kind: path.startsWith("/dev/") ? "block" : "configured" })));
}

/** Configured entries and detected mounts together, one per path (the configured kind wins), sorted. */
export function mergeStorage(configured: readonly SharedStorage[], detected: readonly SharedStorage[]): SharedStorage[] {
  const byPath = new Map<string, SharedStorage>();
  for (const s of detected) byPath.set(s.path, s);
  for (const s of configured) byPath.set(s.path, s);
  return sortStorage([...byPath.values()]);
}

const sortStorage = (xs: SharedStorage[]) => xs.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));

function normalize(p: string): string {
  const n = posix.normalize(p);
  return n.length > 1 && n.endsWith("/") ? n.slice(0, -1) : n;
}

/** Whether `path` is `dir` or below it, on whole path components (/mnt/nfs2 is not under /mnt/nfs). */
export function isUnder(path: string, dir: string): boolean {
  const p = normalize(path);
  const d = normalize(dir);
  return d === "/" || p === d || p.startsWith(`${d}/`);
}

/**
 * The shared storage entry `path` lives on: the longest matching entry, unless a longer local
 * mount point hides it. Undefined: the path is local.
 */
export function sharedStorageOf(path: string, shared: readonly SharedStorage[], localMounts: readonly string[] = []): SharedStorage | undefined {
  if (!path.startsWith("/")) return undefined;
  let best: SharedStorage | undefined;
  for (const s of shared) if (isUnder(path, s.path) && (best === undefined || s.path.length > best.path.length)) best = s;
  if (best === undefined) return undefined;
  for (const m of localMounts) if (isUnder(path, m) && normalize(m).length > best.path.length) return undefined;
  return best;
}

/** Whether a disk at `path` is on storage every host listing the same entry sees. */
export function isShared(path: string, shared: readonly SharedStorage[], localMounts: readonly string[] = []): boolean {
  return sharedStorageOf(path, shared, localMounts) !== undefined;
}
