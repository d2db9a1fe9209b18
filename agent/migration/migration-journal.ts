import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { describeError } from "../../shared/errors.js";
import type { Logger } from "../../shared/logger.js";
import { MigrationEvent } from "../../shared/schemas/agent-api.js";
import { HostId, MigrationAddress, RequestId, VmName } from "../../shared/schemas/ids.js";

// The agent's memory of its outgoing migrations across a restart. A migration is written down
// when it is accepted, gets its outcome event when it ends, and is crossed out once that event has
// reached NATS. What is still written down at start-up is what the previous run left: the next
// start settles it from libvirt and publishes its outcome (MigrationManager.recover).
//
// Why: stopping the agent does not stop a migration. With --p2p the source libvirtd runs the job
// and goes on when the agent's virsh is killed (measured on the lab: deploy/README.md), so the
// outcome of a migration running at shutdown can only be told by the agent that starts next.

/** One outgoing migration as written down. */
export const JournalEntry = z
  .object({
    requestId: RequestId,
    vm: VmName,
    destination: HostId,
    destinationAddress: MigrationAddress,
    /** The request's own time limit, as sent (part of the request's identity). */
    timeoutS: z.number().int().positive().optional(),
    /** The request's copyStorage, when true (part of the request's identity). */
    copyStorage: z.boolean().optional(),
    /** Started with post-copy allowed: at the deadline it is switched to post-copy before it is aborted. */
    postcopy: z.boolean().optional(),
    /** Local disks copied with the VM, and their bytes (for the accepted answer given again after a restart). */
    copyDisks: z.array(z.string()).max(64).optional(),
    copyPaths: z.array(z.string()).max(64).optional(),
    diskBytes: z.number().int().min(0).optional(),
    /** When the agent accepted it, ms since the epoch. */
    startedAt: z.number(),
    /** Past this (ms since the epoch) a job still running is aborted, as migration.timeout says. */
    deadline: z.number(),
    /** The outcome event, once known; the entry goes when the event has been published. */
    outcome: MigrationEvent.optional(),
  })
  .strict();
export type JournalEntry = z.infer<typeof JournalEntry>;

const JournalFile = z.object({ v: z.literal(1), host: HostId, migrations: z.array(JournalEntry) }).strict();

export interface MigrationJournal {
  /** What the previous run left (read once, at start). */
  load(): JournalEntry[];
  /** Writes an entry down (a new one, or the same request id with its outcome). */
  put(e: JournalEntry): void;
  remove(requestId: string): void;
  /** Where it is kept, for logs. */
  readonly where: string;
}

/** Keeps nothing across restarts (no state directory). */
export class MemoryMigrationJournal implements MigrationJournal {
  readonly where = "memory";
  private readonly entries = new Map<string, JournalEntry>();
  load(): JournalEntry[] {
    return [...this.entries.values()];
  }
  put(e: JournalEntry): void {
    this.entries.set(e.requestId, e);
  }
  remove(requestId: string): void {
    this.entries.delete(requestId);
  }
}

/**
 * `<dir>/agent-<host>-migrations.json`, rewritten whole on every change (a temporary file, fsync,
 * rename): a crash leaves the old version or the new one, never half a file. A few entries at
 * most (migration.max_concurrent plus outcomes not yet published), written a few times per
 * migration. A write that fails is logged and the migration goes on: the orchestrator still
 * settles it from the inventories.
 */
export class FileMigrationJournal implements MigrationJournal {
  readonly where: string;
  private readonly entries = new Map<string, JournalEntry>();

  constructor(
    dir: string,
    private readonly host: string,
    private readonly log: Logger,
  ) {
    this.where = join(dir, `agent-${host}-migrations.json`);
    mkdirSync(dir, { recursive: true });
  }

  load(): JournalEntry[] {
    let text: string;
    try {
      text = readFileSync(this.where, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
      this.log.error({ file: this.where, err: describeError(e) }, "cannot read the migration journal; migrations of the previous run are not settled");
      return [];
    }
    let parsed: z.infer<typeof JournalFile>;
    try {
      parsed = JournalFile.parse(JSON.parse(text));
    } catch (e) {
      // Kept for a person to read, out of the way of the next writes.
      const aside = `${this.where}.bad-${Date.now()}`;
      try {
        renameSync(this.where, aside);
      } catch {
        /* left in place; overwritten by the next write */
      }
      this.log.error({ file: this.where, keptAs: aside, err: describeError(e).slice(0, 500) }, "the migration journal does not parse; ignored");
      return [];
    }
    if (parsed.host !== this.host) {
      this.log.error({ file: this.where, journalHost: parsed.host }, "the migration journal belongs to another host; ignored");
      return [];
    }
    for (const e of parsed.migrations) this.entries.set(e.requestId, e);
    return parsed.migrations;
  }

  put(e: JournalEntry): void {
    this.entries.set(e.requestId, e);
    this.write();
  }

  remove(requestId: string): void {
    if (this.entries.delete(requestId)) this.write();
  }

  private write(): void {
    try {
      if (this.entries.size === 0) {
        rmSync(this.where, { force: true });
        return;
      }
      const tmp = `${this.where}.tmp`;
      const fd = openSync(tmp, "w", 0o600);
      try {
        writeSync(fd, `${JSON.stringify({ v: 1, host: this.host, migrations: [...this.entries.values()] }, null, 1)}\n`);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, this.where);
    } catch (e) {
      this.log.error({ file: this.where, err: describeError(e) }, "cannot write the migration journal");
    }
  }
}
