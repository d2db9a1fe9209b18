import { BoundedMap } from "../../shared/bounded-map.js";
import { BallastError, describeError } from "../../shared/errors.js";
import type { Logger } from "../../shared/logger.js";
import type {
  AbortRequest,
  AbortResult,
  MigrateAccepted,
  MigrateRequest,
  MigrationEvent,
  MigrationInfo,
  MigrationStats,
} from "../../shared/schemas/agent-api.js";
import { err, ok, type Err, type ErrorCode, type Reply } from "../../shared/schemas/envelope.js";
import { localWritableDisks, type VmFacts } from "../../shared/schemas/facts.js";
import type { Clock } from "../ports/clock.js";
import { MigrationUnobservedError, type Hypervisor, type MigrationProgress, type OutgoingMigrationState } from "../ports/hypervisor.js";
import type { JournalEntry, MigrationJournal } from "./migration-journal.js";

// The agent's executor for outgoing migrations. Every safety rule of the agent lives here, in
// one place: validation, the concurrency cap, idempotency by requestId, leadership epochs, the
// timeout. A request is answered at once (accepted or refused); the migration then runs in the
// background and reports through MigrationEvents.
//
// Stopping the agent does not stop its migrations: with --p2p the source libvirtd runs the job
// and goes on without virsh. So on stop the manager lets go of them (detachAll) without aborting
// and without reporting; they stay in the journal, and the next start settles them from the
// hypervisor and reports their outcome (recover).

export interface MigrationManagerOptions {
  host: string;
  hypervisor: Hypervisor;
  clock: Clock;
  logger: Logger;
  /** Outgoing migrations at once; more are refused with BUSY. */
  maxConcurrent: number;
  /**
   * Time limit of one migration, ms (a request may override it with timeoutS). With `limits`,
   * the fixed part (migration.timeout) to which the scaled copy time is added.
   */
  timeoutMs: number;
  /**
   * How the time limit scales and what happens at it (migration.bandwidth_mibs, timeout_factor,
   * on_timeout). Absent: a fixed limit of `timeoutMs`, aborted when exceeded.
   */
  limits?: MigrationLimits;
  /**
   * The source VM's facts (disks, verdict), read before a migration is accepted. Absent: no
   * facts checks (every disk taken for shared), as before facts existed.
   */
  vmFacts?: (vm: string) => Promise<VmFacts | undefined>;
  /** Receives every MigrationEvent (the NATS side publishes them). */
  onEvent: (e: MigrationEvent) => void;
  /**
   * Where running migrations and unpublished outcomes are written down, so the next start can
   * settle and report them. Absent: nothing survives a restart (the orchestrator then settles
   * them from the inventories).
   */
  journal?: MigrationJournal;
  /** Answers remembered for idempotency. */
  answersCapacity?: number;
  /** Finished migrations kept for status. */
  recentCapacity?: number;
  /** Minimum time between two progress events of one migration, ms. */
  progressEveryMs?: number;
  /** How often a migration nobody watches (after a restart, or a killed virsh) is looked at in the hypervisor, ms. */
  settlePollMs?: number;
}

export interface MigrationLimits {
  bandwidthMibs: number;
  timeoutFactor: number;
  onTimeout: "abort" | "postcopy";
}

/**
 * A migration's time limit, seconds: the fixed part plus `factor` times the ideal copy time of
 * its memory and the local disk bytes it copies at the configured bandwidth (pre-copy sends busy
 * memory more than once, and the disks' dirty blocks again).
 */
export function scaledTimeoutS(fixedS: number, l: Pick<MigrationLimits, "bandwidthMibs" | "timeoutFactor">, memMiB: number, diskBytes: number): number {
  return Math.ceil(fixedS + (l.timeoutFactor * (memMiB + diskBytes / MiB)) / l.bandwidthMibs);
}

const MiB = 1024 * 1024;

interface Running {
  info: MigrationInfo;
  /** What the accepted answer says of the copy and the limit. */
  plan: MovePlan;
  entry: JournalEntry;
  abortRequested: boolean;
  /** Aborted on stop: stop watching, leave the job to the hypervisor. */
  detach: AbortController;
  done: Promise<void>;
}

/**
 * Refusals that depend on the moment (a slot or the VM may be free later) are not remembered, so
 * the same requestId can be retried; every other answer, accepted or not, is given again as is.
 */
const TRANSIENT: ReadonlySet<ErrorCode> = new Set(["BUSY", "ALREADY_MIGRATING", "HYPERVISOR_ERROR", "TIMEOUT", "INTERNAL"]);

/**
 * The fields that make two migrate requests with one requestId the same request: what is moved,
 * where to, and for how long it may run. Not `epoch`: it names the sender's leadership term, not
 * the command, and a new leader (higher epoch) sending a command again must get the first answer,
 * not a conflict. `timeoutS` counts (absent is a value of its own, "the agent's default"): a
 * different time limit is a different command, and answering it with the earlier one would
 * silently drop the new limit.
 */
const IDENTITY = ["vm", "destination", "destinationAddress", "timeoutS", "copyStorage"] as const;
type RequestIdentity = Pick<MigrateRequest, (typeof IDENTITY)[number]>;

/** copyStorage false and absent are one value ("do not copy"); true is another command. */
const identityOf = (r: RequestIdentity): RequestIdentity => ({
  vm: r.vm,
  destination: r.destination,
  destinationAddress: r.destinationAddress,
  ...(r.timeoutS !== undefined ? { timeoutS: r.timeoutS } : {}),
  ...(r.copyStorage === true ? { copyStorage: true } : {}),
});

/** How an accepted migration runs: its limit, the disks it copies, post-copy allowed. */
interface MovePlan {
  timeoutMs: number;
  copyDisks: string[];
  /** Their files on this host, as the domain's XML said right before the migration. */
  copyPaths: string[];
  diskBytes: number;
  postcopy: boolean;
}

/** What differs between the request first seen under an id and a later one, by field. */
function differences(was: RequestIdentity, now: RequestIdentity): Record<string, { was: unknown; now: unknown }> {
  const out: Record<string, { was: unknown; now: unknown }> = {};
  for (const k of IDENTITY) if (was[k] !== now[k]) out[k] = { was: was[k] ?? null, now: now[k] ?? null };
  return out;
}

function conflict(requestId: string, diff: Record<string, { was: unknown; now: unknown }>): Err {
  const show = (v: unknown) => (v === null ? "absent" : JSON.stringify(v));
  const text = Object.entries(diff)
    .map(([k, d]) => `${k} was ${show(d.was)}, now ${show(d.now)}`)
    .join("; ");
  return err("IDEMPOTENCY_CONFLICT", `request id ${requestId} was already used for a different migrate request (${text}); send a new id for a new request`, {
    requestId,
    differences: diff,
  });
}

export class MigrationManager {
  private readonly answers: BoundedMap<string, { req: RequestIdentity; answer: Reply<MigrateAccepted> }>;
  private readonly pending = new Map<string, { req: RequestIdentity; answer: Promise<Reply<MigrateAccepted>> }>();
  private readonly recent: BoundedMap<string, MigrationInfo>;
  /** Outgoing migrations by VM name (validating or running): the cap and the one-per-VM rule. */
  private readonly active = new Map<string, Running | "validating">();
  private newestEpoch: number | undefined;
  private detached = false;

  constructor(private readonly o: MigrationManagerOptions) {
    this.answers = new BoundedMap(o.answersCapacity ?? 10_000);
    this.recent = new BoundedMap(o.recentCapacity ?? 200);
  }

  /** Answers a migrate request: accepted (the migration then runs in the background) or refused. */
  request(req: MigrateRequest): Promise<Reply<MigrateAccepted>> {
    const known = this.answers.get(req.requestId) ?? this.pending.get(req.requestId);
    if (known) {
      const diff = differences(known.req, identityOf(req));
      if (Object.keys(diff).length > 0) {
        this.o.logger.warn({ requestId: req.requestId, differences: diff }, "request id reused for a different migrate request, refused");
        return Promise.resolve(conflict(req.requestId, diff));
      }
      return Promise.resolve(known.answer);
    }
    const p = this.decide(req).finally(() => this.pending.delete(req.requestId));
    this.pending.set(req.requestId, { req: identityOf(req), answer: p });
    return p;
  }

  private async decide(req: MigrateRequest): Promise<Reply<MigrateAccepted>> {
    const answer = await this.validateAndStart(req);
    if (answer.ok || !TRANSIENT.has(answer.error.code)) this.answers.set(req.requestId, { req: identityOf(req), answer });
    return answer;
  }

  private async validateAndStart(req: MigrateRequest): Promise<Reply<MigrateAccepted>> {
    const { host } = this.o;
    const epochErr = this.checkEpoch(req.epoch);
    if (epochErr) return epochErr;
    if (req.destination === host) return err("SAME_HOST", `VM ${req.vm} is already on ${host}; destination must be another host`);
    if (this.active.has(req.vm)) return err("ALREADY_MIGRATING", `VM ${req.vm} is already being migrated from ${host}`);
    if (this.active.size >= this.o.maxConcurrent)
      return err("BUSY", `${host} is already running ${this.active.size} outgoing migration(s) (max_concurrent ${this.o.maxConcurrent})`);
    // Hold the VM's slot while we look it up, so a concurrent request cannot pass the same checks.
    this.active.set(req.vm, "validating");
    let domains;
    try {
      domains = await this.o.hypervisor.listDomains();
    } catch (e) {
      this.active.delete(req.vm);
      return err(e instanceof BallastError ? e.code : "HYPERVISOR_ERROR", `cannot list domains on ${host}: ${describeError(e)}`);
    }
    const dom = domains.find((d) => d.name === req.vm);
    if (!dom) {
      this.active.delete(req.vm);
      return err("UNKNOWN_VM", `no VM named ${req.vm} on ${host}`);
    }
    if (dom.state !== "running") {
      this.active.delete(req.vm);
      return err("VM_NOT_RUNNING", `VM ${req.vm} on ${host} is ${dom.state}, not running`);
    }
    const planned = await this.planMove(req, dom.memMiB);
    if (!planned.ok) {
      this.active.delete(req.vm);
      return planned;
    }
    const plan = planned.data;
    if (this.detached) {
      this.active.delete(req.vm);
      return err("BUSY", `the agent of ${host} is stopping; send the request again once it is back`);
    }
    const { timeoutMs } = plan;
    const startedAt = this.o.clock.now();
    const info: MigrationInfo = {
      requestId: req.requestId,
      vm: req.vm,
      source: host,
      destination: req.destination,
      destinationAddress: req.destinationAddress,
      phase: "accepted",
      startedAt,
    };
    const entry: JournalEntry = {
      requestId: req.requestId,
      ...identityOf(req),
      ...(plan.postcopy ? { postcopy: true } : {}),
      ...(plan.copyDisks.length > 0 ? { copyDisks: plan.copyDisks, copyPaths: plan.copyPaths, diskBytes: plan.diskBytes } : {}),
      startedAt,
      deadline: startedAt + timeoutMs,
    };
    const run: Running = { info, plan, entry, abortRequested: false, detach: new AbortController(), done: Promise.resolve() };
    this.active.set(req.vm, run);
    this.recent.set(req.requestId, info);
    this.noteEpoch(req.epoch);
    // Written down before virsh starts: whatever happens to this process from now on, the next
    // start knows a migration of this VM may be under way.
    this.o.journal?.put(entry);
    run.done = this.execute(run, timeoutMs);
    return ok(this.accepted(info, plan));
  }

  /**
   * What the VM's facts allow and how it moves: refused when not migratable, or when it has
   * local disks and the request does not allow copying them; else its copied disks, its time
   * limit (the request's, or scaled from memory and disk bytes) and whether post-copy is allowed.
   */
  private async planMove(req: MigrateRequest, memMiB: number): Promise<Reply<MovePlan>> {
    const { limits } = this.o;
    let facts: VmFacts | undefined;
    if (this.o.vmFacts) {
      // Without facts the VM moves as before facts existed (every disk taken for shared): a local
      // disk then makes libvirt refuse at once, which costs a failed migration, never data.
      try {
        facts = await this.o.vmFacts(req.vm);
        if (!facts) this.o.logger.warn({ vm: req.vm }, "no facts of the VM; migrating it without disk copy");
      } catch (e) {
        this.o.logger.warn({ vm: req.vm, err: describeError(e) }, "cannot read the VM's facts; migrating it without disk copy");
      }
    }
    if (facts && !facts.migratable)
      return err("NOT_MIGRATABLE", `VM ${req.vm} cannot be live-migrated: ${facts.reasons.map((r) => `${r.code} ${r.detail}`).join("; ")}`, {
        reasons: facts.reasons,
      });
    const local = facts ? localWritableDisks(facts) : [];
    if (local.length > 0 && req.copyStorage !== true)
      return err(
        "LOCAL_DISKS",
        `VM ${req.vm} has local disks (${local.map((d) => `${d.target} ${d.source ?? ""}`.trim()).join(", ")}) and the request does not allow copying them`,
        { disks: local.map((d) => ({ target: d.target, source: d.source })) },
      );
    const diskBytes = local.reduce((sum, d) => sum + (d.allocationBytes ?? d.capacityBytes ?? 0), 0);
    const postcopy = limits?.onTimeout === "postcopy" && local.length === 0;
    const timeoutMs =
      req.timeoutS !== undefined ? req.timeoutS * 1000 : limits ? scaledTimeoutS(this.o.timeoutMs / 1000, limits, memMiB, diskBytes) * 1000 : this.o.timeoutMs;
    return ok({
      timeoutMs,
      copyDisks: local.map((d) => d.target),
      copyPaths: local.flatMap((d) => (d.source !== undefined ? [d.source] : [])),
      diskBytes,
      postcopy,
    });
  }

  private accepted(info: MigrationInfo, plan?: MovePlan): MigrateAccepted {
    return {
      requestId: info.requestId,
      vm: info.vm,
      source: info.source,
      destination: info.destination,
      accepted: true as const,
      ...(plan
        ? {
            timeoutS: Math.ceil(plan.timeoutMs / 1000),
            ...(plan.copyDisks.length > 0 ? { copyDisks: plan.copyDisks, copyPaths: plan.copyPaths, diskBytes: plan.diskBytes } : {}),
            ...(plan.postcopy ? { postcopy: true } : {}),
          }
        : {}),
    };
  }

  /**
   * Epochs only grow: anything older than the newest seen comes from a deposed leader. Only a
   * command that is carried out advances the epoch (noteEpoch), so a refused request, even one
   * with a huge epoch, cannot lock the real leader out.
   */
  /**
   * Another command's epoch (start-recorded-vm): refused with STALE_EPOCH when older than the
   * newest this agent has seen, else noted. One newest epoch per agent, whatever the command.
   */
  acceptEpoch(epoch: number): void {
    const e = this.checkEpoch(epoch);
    if (e) throw new BallastError(e.error.code, e.error.message);
    this.noteEpoch(epoch);
  }

  private checkEpoch(epoch: number | undefined) {
    if (epoch === undefined) return undefined;
    if (this.newestEpoch !== undefined && epoch < this.newestEpoch)
      return err("STALE_EPOCH", `epoch ${epoch} is older than ${this.newestEpoch}, the newest this agent has seen`);
    return undefined;
  }

  private noteEpoch(epoch: number | undefined): void {
    if (epoch !== undefined && (this.newestEpoch === undefined || epoch > this.newestEpoch)) this.newestEpoch = epoch;
  }

  private async execute(run: Running, timeoutMs: number): Promise<void> {
    // Let the accepted answer go out before the first event.
    await Promise.resolve();
    const { info } = run;
    const { clock, hypervisor, logger } = this.o;
    const t0 = clock.now();
    info.phase = "running";
    this.emit(this.event("migration.started", info));
    const stop = new AbortController();
    let lastProgress = -Infinity;
    const onProgress = (p: MigrationProgress) => {
      const now = clock.now();
      if (p.percent === undefined || now - lastProgress < (this.o.progressEveryMs ?? 1000)) return;
      lastProgress = now;
      this.emit(this.event("migration.progress", info, { progress: Math.min(100, Math.max(0, p.percent)) }));
    };
    let timedOut = false;
    let switched = false;
    const { plan } = run;
    const timer = clock.sleep(timeoutMs, stop.signal).then(
      async () => {
        // on_timeout: postcopy. The guest then runs on the destination and fetches the rest of
        // its memory from here: the migration ends for sure, instead of being aborted.
        if (plan.postcopy) {
          try {
            await hypervisor.startPostcopy(info.vm);
            switched = true;
            logger.warn(
              { vm: info.vm, requestId: info.requestId, timeoutS: Math.round(timeoutMs / 1000) },
              "migration past its time limit; switched to post-copy",
            );
            return;
          } catch (e) {
            logger.warn({ vm: info.vm, requestId: info.requestId, err: describeError(e) }, "switch to post-copy failed; aborting the migration");
          }
        }
        timedOut = true;
        stop.abort(new Error("timeout"));
      },
      () => undefined,
    );
    let unobserved: MigrationUnobservedError | undefined;
    try {
      const stats = await hypervisor.migrate(
        info.vm,
        { host: info.destination, address: info.destinationAddress },
        {
          // With post-copy allowed the limit is ours (timer above): the driver's own hard limit
          // leaves the post-copy phase room to finish.
          timeoutMs: plan.postcopy ? timeoutMs * 2 + 60_000 : timeoutMs,
          signal: stop.signal,
          detach: run.detach.signal,
          ...(plan.copyDisks.length > 0 ? { copyDisks: plan.copyDisks } : {}),
          ...(plan.postcopy ? { postcopy: true } : {}),
        },
        onProgress,
      );
      this.finish(run, "succeeded", { stats: { ...stats, durationMs: stats.durationMs ?? clock.now() - t0, ...(switched ? { postcopy: true } : {}) } });
    } catch (e) {
      if (e instanceof MigrationUnobservedError && !timedOut && !run.abortRequested) {
        unobserved = e;
      } else {
        if (timedOut) {
          await hypervisor.abortMigration(info.vm).catch(() => undefined);
          this.finish(run, "failed", { error: `migration did not finish within ${Math.round(timeoutMs / 1000)} s and was aborted (${describeError(e)})` });
        } else if (run.abortRequested) {
          this.finish(run, "aborted", { error: describeError(e) });
        } else {
          this.finish(run, "failed", { error: describeError(e) });
        }
        logger.warn({ vm: info.vm, requestId: info.requestId, err: describeError(e) }, "migration did not succeed");
      }
    } finally {
      stop.abort(new Error("finished"));
      await timer;
    }
    if (!unobserved) return;
    if (run.detach.signal.aborted) {
      logger.info(
        { vm: info.vm, requestId: info.requestId, destination: info.destination, journal: this.o.journal?.where ?? null },
        this.o.journal
          ? "stopping: the migration goes on in libvirt; the next start reports its outcome"
          : "stopping: the migration goes on in libvirt; without a state directory its outcome is not reported by this agent (the orchestrator settles it from the inventories)",
      );
      return;
    }
    logger.warn({ vm: info.vm, requestId: info.requestId, err: unobserved.message }, "lost sight of the migration; asking libvirt how it ends");
    await this.watch(run, unobserved.message);
  }

  /**
   * Follows a migration nobody watches (its virsh died, or the previous run of the agent started
   * it) in the hypervisor until it ends, enforcing its deadline, and reports the outcome. The VM
   * gone from this host (or shut off with reason "migrated") is a success: --undefinesource
   * removes it here only once it runs on the destination. The VM still here with no job is a
   * failure, once seen twice in a row (a switch-over passes through short states). Stops when
   * detached (a stop again): the journal keeps it for the next start.
   */
  private async watch(run: Running, why: string): Promise<void> {
    const { hypervisor, clock, logger, host } = this.o;
    const { info, entry } = run;
    info.phase = "running";
    const every = this.o.settlePollMs ?? 2000;
    let timedOut = false;
    let switched = false;
    let quiet = 0;
    let lastErr: string | undefined;
    for (;;) {
      if (run.detach.signal.aborted) return;
      let s: OutgoingMigrationState | undefined;
      try {
        s = await hypervisor.inspectMigration(info.vm);
        lastErr = undefined;
      } catch (e) {
        // libvirtd down or restarting: ask again, and say so once per distinct error.
        const text = describeError(e);
        if (text !== lastErr) logger.warn({ vm: info.vm, requestId: info.requestId, err: text }, "cannot ask the hypervisor about the migration; asking again");
        lastErr = text;
      }
      if (run.detach.signal.aborted) return;
      if (s && (!s.present || (s.state === "shutoff" && s.reason === "migrated"))) {
        this.finish(run, "succeeded", switched ? { stats: { durationMs: clock.now() - entry.startedAt, postcopy: true } } : {});
        return;
      }
      if (s?.present && s.jobActive) {
        quiet = 0;
        if (!timedOut && !switched && clock.now() > entry.deadline) {
          if (entry.postcopy) {
            try {
              await hypervisor.startPostcopy(info.vm);
              switched = true;
              logger.warn({ vm: info.vm, requestId: info.requestId }, "migration past its time limit; switched to post-copy");
            } catch (e) {
              logger.warn({ vm: info.vm, requestId: info.requestId, err: describeError(e) }, "switch to post-copy failed; aborting the migration");
            }
          }
          if (!switched) {
            timedOut = true;
            logger.warn({ vm: info.vm, requestId: info.requestId }, "migration past its time limit; aborting it");
            await hypervisor.abortMigration(info.vm).catch((e: unknown) => logger.warn({ vm: info.vm, err: describeError(e) }, "abort failed"));
          }
        }
      } else if (s?.present && ++quiet >= 2) {
        const where = `${info.vm} is still on ${host} (${s.state}${s.reason ? `, ${s.reason}` : ""})`;
        if (timedOut)
          this.finish(run, "failed", {
            error: `migration did not finish within ${Math.round((entry.deadline - entry.startedAt) / 1000)} s and was aborted; ${where}`,
          });
        else if (run.abortRequested) this.finish(run, "aborted", { error: `migration aborted; ${where}` });
        else this.finish(run, "failed", { error: `${why}; libvirt's job has ended and ${where}` });
        return;
      }
      await sleepQuietly(clock, every, run.detach.signal);
    }
  }

  private finish(run: Running, phase: "succeeded" | "failed" | "aborted", extra: { stats?: MigrationStats; error?: string }): void {
    const { info } = run;
    info.phase = phase;
    info.finishedAt = this.o.clock.now();
    if (extra.stats) info.stats = extra.stats;
    if (extra.error !== undefined) info.error = extra.error;
    this.active.delete(info.vm);
    const e = this.event(`migration.${phase}`, info, extra);
    // Kept until the NATS side has it on the server (outcomeDelivered).
    this.o.journal?.put({ ...run.entry, outcome: e });
    this.emit(e);
  }

  /** The outcome event of `requestId` reached NATS: it need not survive a restart any more. */
  outcomeDelivered(requestId: string): void {
    this.o.journal?.remove(requestId);
  }

  private event(type: MigrationEvent["type"], info: MigrationInfo, extra: { progress?: number; stats?: MigrationStats; error?: string } = {}): MigrationEvent {
    return {
      v: 1,
      type,
      ts: this.o.clock.now(),
      requestId: info.requestId,
      vm: info.vm,
      source: info.source,
      destination: info.destination,
      ...extra,
    };
  }

  private emit(e: MigrationEvent): void {
    try {
      this.o.onEvent(e);
    } catch (x) {
      this.o.logger.error({ err: describeError(x), type: e.type }, "migration event handler failed");
    }
  }

  /**
   * Takes over what the previous run left in the journal: outcomes not yet published are sent
   * again; migrations that were running are followed in the hypervisor until they end, then
   * reported with their original request id. Their request ids answer as accepted (a command
   * sent again never starts a second migration), and their VMs count as migrating. Call once,
   * at start, before requests are served. Returns how many entries it took over.
   */
  recover(): number {
    const { journal, logger, host } = this.o;
    if (!journal) return 0;
    const entries = journal.load();
    for (const entry of entries) {
      const info: MigrationInfo = {
        requestId: entry.requestId,
        vm: entry.vm,
        source: host,
        destination: entry.destination,
        destinationAddress: entry.destinationAddress,
        phase: "running",
        startedAt: entry.startedAt,
      };
      const plan: MovePlan = {
        timeoutMs: entry.deadline - entry.startedAt,
        copyDisks: entry.copyDisks ?? [],
        copyPaths: entry.copyPaths ?? [],
        diskBytes: entry.diskBytes ?? 0,
        postcopy: entry.postcopy === true,
      };
      this.answers.set(entry.requestId, { req: identityOf(entry), answer: ok(this.accepted(info, plan)) });
      this.recent.set(entry.requestId, info);
      const out = entry.outcome;
      if (out) {
        info.phase = out.type === "migration.succeeded" ? "succeeded" : out.type === "migration.aborted" ? "aborted" : "failed";
        info.finishedAt = out.ts;
        if (out.stats) info.stats = out.stats;
        if (out.error !== undefined) info.error = out.error;
        logger.info({ vm: entry.vm, requestId: entry.requestId, type: out.type }, "publishing the outcome the previous run could not");
        this.emit(out);
        continue;
      }
      const run: Running = { info, plan, entry, abortRequested: false, detach: new AbortController(), done: Promise.resolve() };
      this.active.set(entry.vm, run);
      logger.info(
        { vm: entry.vm, requestId: entry.requestId, destination: entry.destination, journal: journal.where },
        "a migration of the previous run was not settled; following it in the hypervisor",
      );
      run.done = this.watch(run, "the agent restarted during the migration");
    }
    return entries.length;
  }

  /** Aborts the running migration named by vm or requestId. */
  async abort(req: AbortRequest): Promise<AbortResult> {
    const epochErr = this.checkEpoch(req.epoch);
    if (epochErr) throw new BallastError(epochErr.error.code, epochErr.error.message);
    const run = this.findRunning(req);
    if (!run) {
      const past = req.requestId !== undefined ? this.recent.get(req.requestId) : undefined;
      if (past && (req.vm === undefined || past.vm === req.vm)) return { requestId: past.requestId, vm: past.vm, aborted: false };
      throw new BallastError(
        "UNKNOWN_VM",
        `no migration ${req.requestId !== undefined ? `with requestId ${req.requestId}` : `of VM ${req.vm}`} is running on ${this.o.host}`,
      );
    }
    this.noteEpoch(req.epoch);
    run.abortRequested = true;
    try {
      await this.o.hypervisor.abortMigration(run.info.vm);
    } catch (e) {
      // The job may have ended just now; the outcome event tells which way it went.
      run.abortRequested = run.info.phase === "running" || run.info.phase === "accepted";
      this.o.logger.warn({ vm: run.info.vm, err: describeError(e) }, "abort failed");
      throw new BallastError("HYPERVISOR_ERROR", `could not abort the migration of ${run.info.vm}: ${describeError(e)}`);
    }
    return { requestId: run.info.requestId, vm: run.info.vm, aborted: true };
  }

  private findRunning(req: AbortRequest): Running | undefined {
    for (const r of this.active.values()) {
      if (r === "validating") continue;
      if (req.requestId !== undefined && r.info.requestId !== req.requestId) continue;
      if (req.vm !== undefined && r.info.vm !== req.vm) continue;
      return r;
    }
    return undefined;
  }

  isMigrating(vm: string): boolean {
    const r = this.active.get(vm);
    return r !== undefined && r !== "validating";
  }

  get runningCount(): number {
    let n = 0;
    for (const r of this.active.values()) if (r !== "validating") n++;
    return n;
  }

  /** Recent migrations, newest last (copies). */
  migrations(): MigrationInfo[] {
    return [...this.recent.values()].map((m) => ({ ...m }));
  }

  /** Resolves when every running migration has finished or been let go (used in tests). */
  async idle(): Promise<void> {
    const runs = [...this.active.values()].filter((r): r is Running => r !== "validating");
    await Promise.all(runs.map((r) => r.done));
  }

  /**
   * Shutdown: stops watching every migration without aborting it (libvirt goes on with it) and
   * without reporting; each stays in the journal for the next start. Refuses new requests from
   * now on. Resolves once nothing of this process runs for them (virsh processes ended).
   */
  async detachAll(): Promise<number> {
    this.detached = true;
    const runs = [...this.active.values()].filter((r): r is Running => r !== "validating");
    for (const r of runs) r.detach.abort(new Error("agent stopping"));
    await Promise.all(runs.map((r) => r.done));
    return runs.length;
  }
}

async function sleepQuietly(clock: Clock, ms: number, signal: AbortSignal): Promise<void> {
  try {
    await clock.sleep(ms, signal);
  } catch {
    /* aborted: the caller checks the signal */
  }
}
