import { createHash } from "node:crypto";
import { posix } from "node:path";
import { HypervisorError } from "../../shared/errors.js";
import { parseNameList } from "./parse-name-list.js";
import type { VirshRunner } from "./virsh-runner.js";

// Disk files through libvirt's storage pools, never through the agent's own file system: the
// agent may not see libvirtd's mount namespace (the lab's hypervisors each have a private
// /var/lib/libvirt), and libvirt is what precreates a copied disk on the destination. libvirt
// 9.0 (qemuMigrationDstPrecreateDisk) looks a missing disk file up by an ACTIVE pool whose
// target path is the file's directory, and fails at once without one ("Storage pool not found:
// no storage pool with matching target path"); a pool therefore has to cover each directory.
// The pools Ballast creates are transient (`pool-create-as`): they go away with libvirtd and
// never show up in the operator's persistent configuration.

/** The name of the transient pool Ballast creates for a directory: stable, so checks reuse it. */
export function poolNameFor(dir: string): string {
  return `ballast-${createHash("sha256").update(dir).digest("hex").slice(0, 12)}`;
}

/** The pool's target path in `virsh pool-dumpxml` output; undefined for pools without one (rbd, iscsi-direct). */
export function parsePoolTargetPath(xml: string): string | undefined {
  const target = /<target>([\s\S]*?)<\/target>/.exec(xml)?.[1];
  const path = target !== undefined ? /<path>([^<]*)<\/path>/.exec(target)?.[1] : undefined;
  return path !== undefined ? unescapeXml(path.trim()) : undefined;
}

const unescapeXml = (s: string) => s.replace(/&(lt|gt|quot|apos|amp);/g, (_, e: string) => ({ lt: "<", gt: ">", quot: '"', apos: "'", amp: "&" })[e] ?? "");

/** Is this libvirt's "no such volume" (lookup by path or name)? */
export const isNoSuchVolume = (message: string) => /Storage volume not found|no storage vol with matching/i.test(message);

export interface PoolRef {
  name: string;
  active: boolean;
  /** Created by this call (a transient pool named poolNameFor(dir)). */
  created: boolean;
}

/**
 * Storage pools of one libvirtd, by target directory. Calls are serialised: two checks of the
 * same directory at once must not both try to create its pool.
 */
export class StoragePools {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly runner: VirshRunner) {}

  private serial<T>(f: () => Promise<T>): Promise<T> {
    const p = this.queue.then(f, f);
    this.queue = p.catch(() => undefined);
    return p;
  }

  /** The pool whose target path is `dir`, active or not; undefined when none. */
  async find(dir: string): Promise<PoolRef | undefined> {
    const want = posix.normalize(dir);
    const [all, active] = await Promise.all([this.runner.run(["pool-list", "--all", "--name"]), this.runner.run(["pool-list", "--name"])]);
    const activeNames = new Set(parseNameList(active.stdout));
    for (const name of parseNameList(all.stdout)) {
      let xml: string;
      try {
        xml = (await this.runner.run(["pool-dumpxml", "--pool", name])).stdout;
      } catch {
        continue; // undefined meanwhile
      }
      const path = parsePoolTargetPath(xml);
      if (path !== undefined && posix.normalize(path) === want) return { name, active: activeNames.has(name), created: false };
    }
    return undefined;
  }

  /**
   * An active pool covering `dir`: an existing one (started when it was defined but inactive),
   * else a transient `dir` pool Ballast creates. With `build`, a missing directory is created too
   * (`--build`; only tried when the plain create says the directory does not exist, because
   * building an existing directory would reset its mode).
   */
  ensure(dir: string, o: { build?: boolean } = {}): Promise<PoolRef> {
    return this.serial(async () => {
      const had = await this.find(dir);
      if (had?.active) return had;
      if (had) {
        await this.runner.run(["pool-start", "--pool", had.name]);
        return { ...had, active: true };
      }
      const name = poolNameFor(dir);
      const args = ["pool-create-as", "--name", name, "--type", "dir", "--target", dir];
      try {
        await this.runner.run(args);
      } catch (e) {
        if (!(o.build && e instanceof HypervisorError && /No such file or directory/.test(e.message))) throw e;
        await this.runner.run([...args, "--build"]);
      }
      return { name, active: true, created: true };
    });
  }

  /** Re-reads the pool's directory: libvirt lists a file created since the pool started only after this. */
  async refresh(pool: string): Promise<void> {
    await this.runner.run(["pool-refresh", "--pool", pool]);
  }

  /** Does the volume exist (by file name, in `pool`)? */
  async volumeExists(pool: string, file: string): Promise<boolean> {
    try {
      await this.runner.run(["vol-info", "--pool", pool, "--vol", file]);
      return true;
    } catch (e) {
      if (e instanceof HypervisorError && isNoSuchVolume(e.message)) return false;
      throw e;
    }
  }

  /** Ensures a pool covers the file's directory, refreshes it, and says whether the file is there. */
  async fileExists(path: string): Promise<{ exists: boolean; pool: PoolRef }> {
    const pool = await this.ensure(posix.dirname(path));
    await this.refresh(pool.name);
    return { exists: await this.volumeExists(pool.name, posix.basename(path)), pool };
  }

  /** Deletes the file through a pool covering its directory. Resolves false when it was not there. */
  async deleteFile(path: string): Promise<boolean> {
    const { exists, pool } = await this.fileExists(path);
    if (!exists) return false;
    await this.runner.run(["vol-delete", "--pool", pool.name, "--vol", posix.basename(path)]);
    return true;
  }
}
