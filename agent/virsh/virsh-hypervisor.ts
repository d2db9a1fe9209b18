import type { MigrationSettings } from "../../shared/config/agent-config.js";
import type { MigrationStats } from "../../shared/schemas/agent-api.js";
import { describeError, HypervisorError } from "../../shared/errors.js";
import type { Logger } from "../../shared/logger.js";
import type { Clock } from "../ports/clock.js";
import {
  MigrationUnobservedError,
  type DomainStats,
  type Hypervisor,
  type MigrateOptions,
  type MigrationProgress,
  type MigrationTarget,
  type OutgoingMigrationState,
} from "../ports/hypervisor.js";
import { buildMigrateArgs } from "./migrate-args.js";
import { isNoSuchDomain, parseDomstate } from "./parse-domstate.js";
import { parseDomstats } from "./parse-domstats.js";
import { jobProgressPercent, migrationStatsFromJobFields, parseDomjobinfo, parseJobCompletedEvent } from "./parse-job-stats.js";
import type { VirshRunner } from "./virsh-runner.js";

export interface VirshHypervisorOptions {
  runner: VirshRunner;
  migration: MigrationSettings;
  clock: Clock;
  logger: Logger;
  /** Poll `domjobinfo` this often during a migration for progress; 0 = never. */
  progressPollMs?: number;
  /** Time the job-completed watcher gets to connect before migrate starts, ms. */
  eventSetupMs?: number;
  /** How long to wait for the job-completed event after migrate returned, ms. */
  eventGraceMs?: number;
}

/** Real libvirt through virsh: one domstats call per cycle, migrate with job statistics. */
export class VirshHypervisor implements Hypervisor {
  readonly name = "virsh";
  constructor(private readonly o: VirshHypervisorOptions) {}

  async listDomains(): Promise<DomainStats[]> {
    // One call for every domain: state, cpu.time, balloon (KiB) and vcpu counts (libvirt 9 flags).
    // --nowait: a domain busy with a job (the incoming side of a migration holds one until it
    // ends) would block the whole call; libvirt then leaves out what needs the job instead.
    const r = await this.o.runner.run(["domstats", "--raw", "--nowait", "--state", "--cpu-total", "--balloon", "--vcpu"]);
    return parseDomstats(r.stdout);
  }

  async abortMigration(vm: string): Promise<void> {
    await this.o.runner.run(["domjobabort", "--domain", vm]);
  }

  async inspectMigration(vm: string): Promise<OutgoingMigrationState> {
    const { runner } = this.o;
    let parsed;
    try {
      parsed = parseDomstate((await runner.run(["domstate", "--reason", "--domain", vm])).stdout);
    } catch (e) {
      if (e instanceof HypervisorError && isNoSuchDomain(e.message)) return { present: false };
      throw e;
    }
    const { state, reason } = parsed;
    const here = { present: true as const, state, ...(reason !== undefined ? { reason } : {}) };
    // A shut-off domain runs no job (after a migration it is "shut off (migrated)" for a moment,
    // then undefined: --undefinesource).
    if (state === "shutoff") return { ...here, jobActive: false };
    let jobType: string | undefined;
    try {
      jobType = parseDomjobinfo((await runner.run(["domjobinfo", "--domain", vm])).stdout).jobType;
    } catch (e) {
      // It left between the two calls.
      if (e instanceof HypervisorError && isNoSuchDomain(e.message)) return { present: false };
      throw e;
    }
    return { ...here, jobActive: jobType === "Unbounded" || jobType === "Bounded" };
  }

  async migrate(vm: string, target: MigrationTarget, opts: MigrateOptions, onProgress?: (p: MigrationProgress) => void): Promise<MigrationStats> {
    const { runner, clock, logger } = this.o;
    const args = buildMigrateArgs(vm, target.address, this.o.migration);
    const helpers = new AbortController();
    // Detaching (agent shutdown) ends our virsh processes but never the job: with --p2p the source
    // libvirtd drives the migration and goes on without its client (measured on the lab, see
    // deploy/README.md). Only `signal` (timeout, abort) cancels the job with domjobabort.
    const onDetach = () => helpers.abort();
    opts.detach?.addEventListener("abort", onDetach, { once: true });
    const kill = opts.detach && opts.signal ? AbortSignal.any([opts.signal, opts.detach]) : (opts.signal ?? opts.detach);
    const startedAt = clock.now();

    // The source emits job-completed with libvirt's own statistics (ms, bytes). The watcher is
    // a separate virsh process started first; it is killed once we have what we need.
    const timeoutS = Math.ceil(opts.timeoutMs / 1000) + 10;
    const event = runner
      .run(["event", "--domain", vm, "--event", "job-completed", "--timeout", String(timeoutS)], { signal: helpers.signal, timeoutMs: (timeoutS + 5) * 1000 })
      .then((r) => parseJobCompletedEvent(r.stdout))
      .catch((e: unknown) => {
        if (!helpers.signal.aborted) logger.debug({ vm, err: describeError(e) }, "job-completed watcher ended without an event");
        return undefined;
      });
    // virsh event registers within tens of ms on the local socket; a longer head start only
    // delays the migration (measured: 300 ms cost 300 ms of every migration's wall time).
    await sleepQuietly(clock, this.o.eventSetupMs ?? 100, helpers.signal);

    const poll = this.pollProgress(vm, helpers.signal, onProgress);
    // The exact command, destination URI included, so an operator can run it by hand.
    logger.info({ vm, destination: target.host, argv: runner.commandLine(args) }, "running virsh migrate");
    try {
      await runner.run(args, { timeoutMs: opts.timeoutMs, ...(kill ? { signal: kill } : {}) });
    } catch (e) {
      helpers.abort();
      await poll;
      opts.detach?.removeEventListener("abort", onDetach);
      const cancelled = opts.signal?.aborted === true || (e as { code?: string }).code === "TIMEOUT";
      if (!cancelled && opts.detach?.aborted)
        throw new MigrationUnobservedError(`stopped watching the migration of ${vm}; libvirt goes on with it`, { cause: e });
      // Killing virsh does not stop the job inside libvirtd: abort it, or it goes on unobserved.
      if (cancelled) await this.abortMigration(vm).catch(() => undefined);
      else {
        // virsh died of a signal we did not send (an OOM kill; systemd stopping the whole control
        // group): libvirt may well go on with the job, so its outcome is not known yet.
        const signal = (e as { details?: { signal?: string } }).details?.signal;
        if (e instanceof HypervisorError && signal !== undefined)
          throw new MigrationUnobservedError(`virsh migrate was killed by ${signal}; libvirt may go on with the migration of ${vm}`, { cause: e });
      }
      throw e;
    }
    const durationMs = clock.now() - startedAt;
    const fields = await Promise.race([event, sleepQuietly(clock, this.o.eventGraceMs ?? 3000, helpers.signal).then(() => undefined)]);
    helpers.abort();
    opts.detach?.removeEventListener("abort", onDetach);
    await poll;
    return migrationStatsFromJobFields(fields ?? new Map(), durationMs);
  }

  private async pollProgress(vm: string, signal: AbortSignal, onProgress?: (p: MigrationProgress) => void): Promise<void> {
    // Sparse on purpose: a domjobinfo call during the copy slowed a 2 s lab migration by ~1 s
    // (it queues behind the migration job in libvirtd); short migrations need no progress.
    const every = this.o.progressPollMs ?? 5000;
    if (!onProgress || every <= 0) return;
    while (!signal.aborted) {
      await sleepQuietly(this.o.clock, every, signal);
      if (signal.aborted) return;
      try {
        const r = await this.o.runner.run(["domjobinfo", "--domain", vm], { signal, timeoutMs: Math.max(1000, every) });
        const info = parseDomjobinfo(r.stdout);
        const percent = jobProgressPercent(info);
        if (percent !== undefined) onProgress({ percent, dataProcessedBytes: info.dataProcessedBytes, dataTotalBytes: info.dataTotalBytes });
      } catch {
        // No byte counts yet, or the domain already left: progress is best-effort.
      }
    }
  }
}

async function sleepQuietly(clock: Clock, ms: number, signal: AbortSignal): Promise<void> {
  try {
    await clock.sleep(ms, signal);
  } catch {
    /* aborted: the caller checks the signal */
  }
}
