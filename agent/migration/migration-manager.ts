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
import { err, ok, type ErrorCode, type Reply } from "../../shared/schemas/envelope.js";
import type { Clock } from "../ports/clock.js";
import type { Hypervisor, MigrationProgress } from "../ports/hypervisor.js";

// The agent's executor for outgoing migrations. Every safety rule of the agent lives here, in
// one place: validation, the concurrency cap, idempotency by requestId, leadership epochs, the
// timeout. A request is answered at once (accepted or refused); the migration then runs in the
// background and reports through MigrationEvents.

export interface MigrationManagerOptions {
  host: string;
  hypervisor: Hypervisor;
  clock: Clock;
  logger: Logger;
  /** Outgoing migrations at once; more are refused with BUSY. */
  maxConcurrent: number;
  /** Default time limit of one migration, ms (a request may override it with timeoutS). */
  timeoutMs: number;
  /** Receives every MigrationEvent (the NATS side publishes them). */
  onEvent: (e: MigrationEvent) => void;
  /** Answers remembered for idempotency. */
  answersCapacity?: number;
  /** Finished migrations kept for status. */
  recentCapacity?: number;
  /** Minimum time between two progress events of one migration, ms. */
  progressEveryMs?: number;
}

interface Running {
  info: MigrationInfo;
  abortRequested: boolean;
  done: Promise<void>;
}

/**
 * Refusals that depend on the moment (a slot or the VM may be free later) are not remembered, so
 * the same requestId can be retried; every other answer, accepted or not, is given again as is.
 */
const TRANSIENT: ReadonlySet<ErrorCode> = new Set(["BUSY", "ALREADY_MIGRATING", "HYPERVISOR_ERROR", "TIMEOUT", "INTERNAL"]);

export class MigrationManager {
  private readonly answers: BoundedMap<string, Reply<MigrateAccepted>>;
  private readonly pending = new Map<string, Promise<Reply<MigrateAccepted>>>();
  private readonly recent: BoundedMap<string, MigrationInfo>;
  /** Outgoing migrations by VM name (validating or running): the cap and the one-per-VM rule. */
  private readonly active = new Map<string, Running | "validating">();
  private newestEpoch: number | undefined;

  constructor(private readonly o: MigrationManagerOptions) {
    this.answers = new BoundedMap(o.answersCapacity ?? 10_000);
    this.recent = new BoundedMap(o.recentCapacity ?? 200);
  }

  /** Answers a migrate request: accepted (the migration then runs in the background) or refused. */
  request(req: MigrateRequest): Promise<Reply<MigrateAccepted>> {
    const known = this.answers.get(req.requestId);
    if (known) return Promise.resolve(known);
    const inFlight = this.pending.get(req.requestId);
    if (inFlight) return inFlight;
    const p = this.decide(req).finally(() => this.pending.delete(req.requestId));
    this.pending.set(req.requestId, p);
    return p;
  }

  private async decide(req: MigrateRequest): Promise<Reply<MigrateAccepted>> {
    const answer = await this.validateAndStart(req);
    if (answer.ok || !TRANSIENT.has(answer.error.code)) this.answers.set(req.requestId, answer);
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
    const info: MigrationInfo = {
      requestId: req.requestId,
      vm: req.vm,
      source: host,
      destination: req.destination,
      destinationAddress: req.destinationAddress,
      phase: "accepted",
      startedAt: this.o.clock.now(),
    };
    const run: Running = { info, abortRequested: false, done: Promise.resolve() };
    this.active.set(req.vm, run);
    this.recent.set(req.requestId, info);
    this.noteEpoch(req.epoch);
    run.done = this.execute(run, (req.timeoutS !== undefined ? req.timeoutS * 1000 : undefined) ?? this.o.timeoutMs);
    return ok({ requestId: req.requestId, vm: req.vm, source: host, destination: req.destination, accepted: true as const });
  }

  /**
   * Epochs only grow: anything older than the newest seen comes from a deposed leader. Only a
   * command that is carried out advances the epoch (noteEpoch), so a refused request, even one
   * with a huge epoch, cannot lock the real leader out.
   */
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
    this.emit("migration.started", info);
    const stop = new AbortController();
    let lastProgress = -Infinity;
    const onProgress = (p: MigrationProgress) => {
      const now = clock.now();
      if (p.percent === undefined || now - lastProgress < (this.o.progressEveryMs ?? 1000)) return;
      lastProgress = now;
      this.emit("migration.progress", info, { progress: Math.min(100, Math.max(0, p.percent)) });
    };
    let timedOut = false;
    const timer = clock.sleep(timeoutMs, stop.signal).then(
      () => {
        timedOut = true;
        stop.abort(new Error("timeout"));
      },
      () => undefined,
    );
    try {
      const stats = await hypervisor.migrate(
        info.vm,
        { host: info.destination, address: info.destinationAddress },
        { timeoutMs, signal: stop.signal },
        onProgress,
      );
      this.finish(run, "succeeded", { stats: { ...stats, durationMs: stats.durationMs ?? clock.now() - t0 } });
    } catch (e) {
      if (timedOut) {
        await hypervisor.abortMigration(info.vm).catch(() => undefined);
        this.finish(run, "failed", { error: `migration did not finish within ${Math.round(timeoutMs / 1000)} s and was aborted (${describeError(e)})` });
      } else if (run.abortRequested) {
        this.finish(run, "aborted", { error: describeError(e) });
      } else {
        this.finish(run, "failed", { error: describeError(e) });
      }
      logger.warn({ vm: info.vm, requestId: info.requestId, err: describeError(e) }, "migration did not succeed");
    } finally {
      stop.abort(new Error("finished"));
      await timer;
    }
  }

  private finish(run: Running, phase: "succeeded" | "failed" | "aborted", extra: { stats?: MigrationStats; error?: string }): void {
    const { info } = run;
    info.phase = phase;
    info.finishedAt = this.o.clock.now();
    if (extra.stats) info.stats = extra.stats;
    if (extra.error !== undefined) info.error = extra.error;
    this.active.delete(info.vm);
    this.emit(`migration.${phase}`, info, extra);
  }

  private emit(type: MigrationEvent["type"], info: MigrationInfo, extra: { progress?: number; stats?: MigrationStats; error?: string } = {}): void {
    const e: MigrationEvent = {
      v: 1,
      type,
      ts: this.o.clock.now(),
      requestId: info.requestId,
      vm: info.vm,
      source: info.source,
      destination: info.destination,
      ...extra,
    };
    try {
      this.o.onEvent(e);
    } catch (x) {
      this.o.logger.error({ err: describeError(x), type }, "migration event handler failed");
    }
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

  /** Resolves when every running migration has finished (used on shutdown and in tests). */
  async idle(): Promise<void> {
    const runs = [...this.active.values()].filter((r): r is Running => r !== "validating");
    await Promise.all(runs.map((r) => r.done));
  }

  /** Aborts every running migration (shutdown) and waits for them to end. */
  async abortAll(): Promise<void> {
    for (const r of this.active.values()) {
      if (r === "validating") continue;
      r.abortRequested = true;
      await this.o.hypervisor.abortMigration(r.info.vm).catch(() => undefined);
    }
    await this.idle();
  }
}
