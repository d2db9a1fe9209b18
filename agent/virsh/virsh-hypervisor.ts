import type { MigrationSettings } from "../../shared/config/agent-config.js";
import type { CheckIncomingRequest, CpuBaselineResult, MigrationStats, RemoveDisksResult } from "../../shared/schemas/agent-api.js";
import { BallastError, describeError, HypervisorError, TimeoutError } from "../../shared/errors.js";
import { isLocalWritable } from "../../shared/schemas/facts.js";
import type { Logger } from "../../shared/logger.js";
import type { Clock } from "../ports/clock.js";
import {
  MigrationUnobservedError,
  type DomainStats,
  type GuestStateAnswer,
  type Hypervisor,
  type IncomingRefusal,
  type MigrateOptions,
  type MigrationProgress,
  type MigrationTarget,
  type OutgoingMigrationState,
  type PauseAnswer,
  type ProbeAnswer,
} from "../ports/hypervisor.js";
import { cpuCompareWords, cpuElement, parseCpuCompare, withTempFile } from "./cpu-xml.js";
import { parseCpuBaseline } from "./parse-cpu-baseline.js";
import { parseNameList } from "./parse-name-list.js";
import { buildMigrateArgs, destinationUri } from "./migrate-args.js";
import { domstateWords, isNoSuchDomain, parseDomstate } from "./parse-domstate.js";
import { parseGuestAgent } from "./parse-guest-agent.js";
import { parseDomstats } from "./parse-domstats.js";
import { jobProgressPercent, migrationStatsFromJobFields, parseDomjobinfo, parseJobCompletedEvent } from "./parse-job-stats.js";
import { StoragePools } from "./storage-pools.js";
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
  private readonly pools: StoragePools;
  constructor(private readonly o: VirshHypervisorOptions) {
    this.pools = new StoragePools(o.runner);
  }

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
    const args = buildMigrateArgs(vm, target.address, this.o.migration, {
      ...(opts.copyDisks ? { copyDisks: opts.copyDisks } : {}),
      ...(opts.postcopy ? { postcopy: true } : {}),
    });
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

  async startPostcopy(vm: string): Promise<void> {
    await this.o.runner.run(["migrate-postcopy", "--domain", vm]);
  }

  /**
   * This host's libvirt judges the VM: its CPU (hypervisor-cpu-compare, libvirt's own words), its
   * networks (net-info), its shared disks (visible here through a storage pool), and the disks it
   * would copy (their paths free here; a pool covering each directory, so libvirt precreates them).
   */
  async checkIncoming(req: CheckIncomingRequest): Promise<IncomingRefusal[]> {
    const { facts } = req;
    const out: IncomingRefusal[] = [];
    const failed = (what: string, e: unknown): IncomingRefusal => ({ code: "CHECK_FAILED", message: `${what}: ${describeError(e)}`.slice(0, 2000) });
    if (facts.cpu.xml !== undefined && facts.cpu.mode !== "none") {
      const xml = facts.cpu.xml;
      try {
        const r = await withTempFile("cpu.xml", xml, (file) =>
          this.o.runner.run(["hypervisor-cpu-compare", "--file", file, "--virttype", facts.domainType, "--arch", facts.arch, "--error"]),
        );
        const verdict = parseCpuCompare(r.stdout);
        if (verdict === "incompatible") out.push({ code: "CPU", message: `libvirt: ${r.stdout.trim()}` });
      } catch (e) {
        // --error: an incompatible CPU fails with libvirt's reasons ("Host CPU does not provide
        // required features: ..."); so does a model this libvirt does not know.
        const words = e instanceof HypervisorError ? cpuCompareWords(e.message) : describeError(e);
        if (e instanceof HypervisorError && /incompatible|Unknown CPU model|unsupported|does not provide/i.test(words))
          out.push({ code: "CPU", message: `hypervisor-cpu-compare: ${words}`.slice(0, 2000) });
        else out.push(failed("hypervisor-cpu-compare failed", e));
      }
    }
    const networks = [...new Set(facts.interfaces.filter((i) => i.type === "network" && i.source !== undefined).map((i) => i.source!))];
    for (const net of networks) {
      try {
        const info = (await this.o.runner.run(["net-info", "--network", net])).stdout;
        if (!/^Active:\s+yes\s*$/m.test(info)) out.push({ code: "NETWORK", message: `network ${net} exists but is not active` });
      } catch (e) {
        if (e instanceof HypervisorError && /Network not found|no network with matching name/i.test(e.message))
          out.push({ code: "NETWORK", message: `network ${net}: ${e.message}` });
        else out.push(failed(`net-info ${net}`, e));
      }
    }
    for (const d of facts.disks) {
      if (d.source === undefined || !d.source.startsWith("/")) continue;
      if (d.shared) {
        // Only files: a shared block device or network disk has no directory to look in.
        if (d.type !== "file") continue;
        try {
          const { exists } = await this.pools.fileExists(d.source);
          if (!exists) out.push({ code: "STORAGE", message: `shared disk ${d.target}: ${d.source} is not there on this host` });
        } catch (e) {
          out.push({ code: "STORAGE", message: `shared disk ${d.target}: cannot look up ${d.source}: ${describeError(e)}`.slice(0, 2000) });
        }
        continue;
      }
      if (!req.copyStorage || !isLocalWritable(d)) continue;
      // A local disk to copy: libvirt precreates only files, in a pool covering their directory.
      if (d.type !== "file") {
        out.push({ code: "STORAGE", message: `local disk ${d.target} is of type ${d.type}: libvirt can precreate only files` });
        continue;
      }
      if (d.format !== undefined && d.format !== "qcow2" && d.format !== "raw") {
        out.push({ code: "STORAGE", message: `local disk ${d.target} is ${d.format}: Ballast copies qcow2 and raw disks only` });
        continue;
      }
      if (d.backingChain) {
        out.push({ code: "STORAGE", message: `local disk ${d.target} has a backing chain: the copy would not recreate it` });
        continue;
      }
      try {
        const dir = d.source.slice(0, d.source.lastIndexOf("/")) || "/";
        const pool = await this.pools.ensure(dir, { build: true });
        if (pool.created) this.o.logger.info({ vm: req.vm, pool: pool.name, dir }, "created a transient storage pool so libvirt can precreate copied disks");
        await this.pools.refresh(pool.name);
        if (await this.pools.volumeExists(pool.name, d.source.slice(d.source.lastIndexOf("/") + 1)))
          out.push({ code: "DISK_EXISTS", message: `local disk ${d.target}: ${d.source} already exists on this host; a copy would overwrite it` });
      } catch (e) {
        out.push({ code: "STORAGE", message: `local disk ${d.target}: cannot prepare ${d.source}: ${describeError(e)}`.slice(0, 2000) });
      }
    }
    return out;
  }

  async cpuBaseline(cpus: readonly string[]): Promise<CpuBaselineResult> {
    // The <cpu> elements one after the other, no wrapper: virsh looks for top-level <cpu> elements
    // (measured: a <cpus> wrapper is "not any <cpu> element").
    const text = `${cpus.map(cpuElement).join("\n")}\n`;
    const r = await withTempFile("cpus.xml", text, (file) => this.o.runner.run(["hypervisor-cpu-baseline", "--file", file]));
    const xml = cpuElement(r.stdout);
    const { model, features } = parseCpuBaseline(xml);
    return { xml, ...(model !== undefined ? { model } : {}), features };
  }

  async removeDisks(vm: string, paths: readonly string[]): Promise<RemoveDisksResult> {
    const defined = parseNameList((await this.o.runner.run(["list", "--all", "--name"])).stdout);
    if (defined.includes(vm))
      throw new BallastError("VM_STILL_DEFINED", `VM ${vm} is still defined on this host; its disks are not removed`, { details: { vm } });
    const removed: string[] = [];
    const kept: RemoveDisksResult["kept"] = [];
    for (const path of paths) {
      try {
        if (await this.pools.deleteFile(path)) removed.push(path);
        else kept.push({ path, reason: "not there" });
      } catch (e) {
        kept.push({ path, reason: describeError(e).slice(0, 500) });
      }
    }
    return { vm, removed, kept };
  }

  async probeHost(address: string, timeoutMs: number): Promise<ProbeAnswer> {
    // The URI migrations use (uri_scheme, uri_path): the same network, the same libvirtd, the same
    // transport (TLS, SSH keys) a migration to that host would use.
    const uri = destinationUri(address, this.o.migration);
    try {
      const r = await this.o.runner.run(["version"], { uri, timeoutMs });
      const line = r.stdout.split(/\r?\n/).find((l) => /running hypervisor/i.test(l)) ?? r.stdout.trim().split(/\r?\n/)[0] ?? "";
      return { ok: true, timedOut: false, detail: `${uri}: ${line.trim()}`.slice(0, 2000) };
    } catch (e) {
      return { ok: false, timedOut: e instanceof TimeoutError, detail: `${uri}: ${describeError(e)}`.slice(0, 2000) };
    }
  }

  async startRecorded(vm: string, xml: string): Promise<{ started: boolean; detail: string }> {
    const { runner } = this.o;
    try {
      const { state, reason } = parseDomstate((await runner.run(["domstate", "--reason", "--domain", vm])).stdout);
      return { started: false, detail: `a domain ${vm} is already defined here (${state}${reason ? `, ${reason}` : ""}): nothing changed` };
    } catch (e) {
      if (!(e instanceof HypervisorError && isNoSuchDomain(e.message))) throw e;
    }
    await withTempFile("domain.xml", xml, (path) => runner.run(["define", "--file", path]));
    try {
      await runner.run(["start", "--domain", vm]);
    } catch (e) {
      // Not started (a lease held elsewhere, a missing network): undefined again, so that nothing
      // is left here and the restart can be tried on another host.
      await runner
        .run(["undefine", "--domain", vm])
        .catch((u: unknown) => this.o.logger.warn({ vm, err: describeError(u) }, "cannot undefine a VM that did not start"));
      throw e;
    }
    return { started: true, detail: `defined and started ${vm}` };
  }

  async autostartDomains(): Promise<string[]> {
    return parseNameList((await this.o.runner.run(["list", "--all", "--autostart", "--name"])).stdout);
  }

  async disableAutostart(vm: string): Promise<void> {
    await this.o.runner.run(["autostart", "--disable", "--domain", vm]);
  }

  async startDefined(vm: string): Promise<void> {
    await this.o.runner.run(["start", "--domain", vm]);
  }

  async pause(vm: string): Promise<PauseAnswer> {
    const state = async () => {
      try {
        return parseDomstate((await this.o.runner.run(["domstate", "--reason", "--domain", vm])).stdout).state;
      } catch (e) {
        throw asUnknownVm(e, vm);
      }
    };
    const before = await state();
    if (before !== "running") return { paused: false, state: before, detail: `${vm} is ${before} here, not running: nothing done` };
    await this.o.runner.run(["suspend", "--domain", vm]);
    const after = await state();
    return { paused: after === "paused", state: after, detail: `virsh suspend ${vm}: now ${after}` };
  }

  async guestState(vm: string): Promise<GuestStateAnswer> {
    try {
      const state = domstateWords((await this.o.runner.run(["domstate", "--domain", vm])).stdout).words;
      // The live XML (never --inactive): only it carries the channel's state; a shut-off domain's
      // is its definition, whose channel has none (disconnected).
      const xml = (await this.o.runner.run(["dumpxml", "--domain", vm])).stdout;
      return { state, guestAgent: parseGuestAgent(xml) };
    } catch (e) {
      throw asUnknownVm(e, vm);
    }
  }

  async definitionXml(vm: string): Promise<string> {
    try {
      // --migratable: what libvirt would send to another host (no host-specific runtime parts);
      // never --security-info, so libvirt itself leaves graphics passwords out.
      return (await this.o.runner.run(["dumpxml", "--migratable", "--domain", vm])).stdout;
    } catch (e) {
      throw asUnknownVm(e, vm);
    }
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

/** libvirt's "no such domain" as the port's UNKNOWN_VM (with libvirt's error as its cause); any other error as it is. */
function asUnknownVm(e: unknown, vm: string): unknown {
  if (e instanceof HypervisorError && isNoSuchDomain(e.message))
    return new BallastError("UNKNOWN_VM", `VM ${vm} is not defined on this host`, { cause: e, details: { vm } });
  return e;
}
