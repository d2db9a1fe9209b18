import type { MigrationSettings } from "../../shared/config/agent-config.js";
import type { MigrationStats } from "../../shared/schemas/agent-api.js";
import { describeError } from "../../shared/errors.js";
import type { Logger } from "../../shared/logger.js";
import type { Clock } from "../ports/clock.js";
import type { DomainStats, Hypervisor, MigrateOptions, MigrationProgress, MigrationTarget } from "../ports/hypervisor.js";
import { buildMigrateArgs } from "./migrate-args.js";
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

  async migrate(vm: string, target: MigrationTarget, opts: MigrateOptions, onProgress?: (p: MigrationProgress) => void): Promise<MigrationStats> {
    const { runner, clock, logger } = this.o;
    const args = buildMigrateArgs(vm, target.address, this.o.migration);
    const helpers = new AbortController();
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
    try {
      await runner.run(args, { timeoutMs: opts.timeoutMs, signal: opts.signal });
    } catch (e) {
      helpers.abort();
      await poll;
      // Killing virsh does not stop the job inside libvirtd: abort it, or it goes on unobserved.
      if (opts.signal?.aborted || (e as { code?: string }).code === "TIMEOUT") {
        await this.abortMigration(vm).catch(() => undefined);
      }
      throw e;
    }
    const durationMs = clock.now() - startedAt;
    const fields = await Promise.race([event, sleepQuietly(clock, this.o.eventGraceMs ?? 3000, helpers.signal).then(() => undefined)]);
    helpers.abort();
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
