import type { Logger } from "pino";
import { BoundedMap } from "../../shared/bounded-map.js";
import { describeError } from "../../shared/errors.js";
import type { RemoveDisksResult } from "../../shared/schemas/agent-api.js";
import type { MigrationRecord } from "../../shared/schemas/migration-record.js";
import type { Clock } from "./clock.js";
import type { Inventories } from "./migration-reconciler.js";
import type { MigrationTracker } from "./migration-tracker.js";

// The source copies of a local-disk VM's disks after it moved (local_disk_source). keep: they stay
// and the record lists them. remove: only once libvirt reported the migration's success (the
// agent's succeeded event, not an outcome the orchestrator read from the inventories) AND the
// destination's inventory lists the VM running while the source's no longer lists it; then the
// source agent is asked to remove exactly the files the VM's facts named at dispatch time (it
// refuses while the VM is still defined there). Whatever happens ends up in the record
// (MigrationRecord.sourceDisks) and so in `ballast history`.

/** Migrations waiting for the destination's inventory, at most (the oldest are given up on, kept). */
const MAX_WAITING = 1000;

export interface SourceDisksOptions {
  tracker: Pick<MigrationTracker, "touch">;
  inventories: Pick<Inventories, "locate">;
  /** Sends remove-disks to a host's agent; the answer is checked by the caller. */
  removeDisks: (host: string, body: { requestId: string; vm: string; paths: string[] }) => Promise<RemoveDisksResult>;
  clock: Clock;
  log: Logger;
}

export class SourceDiskHandler {
  private readonly waiting: BoundedMap<string, MigrationRecord>;

  constructor(private readonly o: SourceDisksOptions) {
    this.waiting = new BoundedMap(MAX_WAITING, {
      onEvict: (_id, r) => this.settle(r, { kept: r.sourceDisks?.paths ?? [], error: "gave up waiting for the destination to list the VM running" }),
    });
  }

  /** A migration finished: decides what becomes of its source disks, or waits for the inventories. */
  onFinished(r: MigrationRecord): void {
    const sd = r.sourceDisks;
    if (r.state !== "SUCCEEDED" || !sd || sd.kept || sd.removed || sd.error) return;
    if (sd.policy === "keep") return this.settle(r, { kept: sd.paths });
    if (r.error?.startsWith("outcome taken from inventories"))
      return this.settle(r, { kept: sd.paths, error: "not removed: libvirt's success was not reported (the outcome was taken from the inventories)" });
    this.waiting.set(r.requestId, r);
    this.check();
  }

  /** New inventories arrived: removes what can be removed now. */
  check(): void {
    for (const [id, r] of this.waiting) {
      const listed = this.o.inventories.locate(r.vm);
      const onDest = listed.some((l) => l.host === r.destination && l.info.state === "running" && !l.info.migrating);
      const onSource = listed.some((l) => l.host === r.source);
      if (!onDest || onSource) continue;
      this.waiting.delete(id);
      void this.remove(r);
    }
  }

  /**
   * A copy-storage migration that started and then failed or was aborted: libvirt leaves the disk
   * files it created on the destination (measured on the lab), and the destination's check would
   * refuse the next try (DISK_EXISTS). Those paths were free when the check passed right before
   * the migration, so what is there now is libvirt's partial copy: the destination agent removes
   * it (it refuses while the VM is defined there, should the migration have succeeded after all).
   */
  onFailedCopy(r: MigrationRecord): void {
    if ((r.state !== "FAILED" && r.state !== "CANCELLED") || r.startedAt === undefined || r.destinationDisks) return;
    if (!r.copyDisks?.length || !r.sourceDisks?.paths.length || r.checked?.result !== "ok") return;
    const paths = r.sourceDisks.paths;
    r.destinationDisks = { removed: [] };
    void this.o
      .removeDisks(r.destination, { requestId: r.requestId, vm: r.vm, paths })
      .then((res) => {
        const notRemoved = res.kept.map((k) => ({ path: k.path, reason: k.reason.slice(0, 2000) }));
        r.destinationDisks = { removed: res.removed, ...(notRemoved.length > 0 ? { notRemoved } : {}) };
        this.o.log.info(
          { requestId: r.requestId, vm: r.vm, host: r.destination, removed: res.removed, kept: notRemoved },
          "removed partial disk copies of a failed migration",
        );
      })
      .catch((e: unknown) => {
        const error = `remove-disks on ${r.destination} failed: ${describeError(e)}`.slice(0, 2000);
        this.o.log.warn({ requestId: r.requestId, vm: r.vm, host: r.destination, err: error }, "partial disk copies not removed");
        r.destinationDisks = { removed: [], error };
      })
      .finally(() => this.o.tracker.touch(r));
  }

  /** Migrations waiting (tests, status). */
  get pending(): number {
    return this.waiting.size;
  }

  private async remove(r: MigrationRecord): Promise<void> {
    const paths = r.sourceDisks!.paths;
    try {
      const res = await this.o.removeDisks(r.source, { requestId: r.requestId, vm: r.vm, paths });
      const notRemoved = res.kept.map((k) => ({ path: k.path, reason: k.reason.slice(0, 2000) }));
      this.settle(r, { removed: res.removed, ...(notRemoved.length > 0 ? { kept: notRemoved.map((k) => k.path), notRemoved } : {}) });
      this.o.log.info({ requestId: r.requestId, vm: r.vm, host: r.source, removed: res.removed, kept: notRemoved }, "removed the source copies of moved disks");
    } catch (e) {
      const error = `remove-disks on ${r.source} failed: ${describeError(e)}`.slice(0, 2000);
      this.o.log.warn({ requestId: r.requestId, vm: r.vm, host: r.source, err: error }, "source disks not removed");
      this.settle(r, { kept: paths, error });
    }
  }

  private settle(r: MigrationRecord, what: { kept?: string[]; removed?: string[]; notRemoved?: { path: string; reason: string }[]; error?: string }): void {
    if (!r.sourceDisks) return;
    r.sourceDisks = { ...r.sourceDisks, ...what };
    this.o.tracker.touch(r);
  }
}
