import { SimConfig, SimVm, type SimConfigInput, type SimCpu, type SimVmFacts, type SimVmInput } from "../../shared/config/agent-config.js";
import { BallastError, HypervisorError, ValidationError } from "../../shared/errors.js";
import type { CheckIncomingRequest, CpuBaselineResult, MigrationStats, RemoveDisksResult } from "../../shared/schemas/agent-api.js";
import { localWritableDisks, type HostFacts, type VmFacts } from "../../shared/schemas/facts.js";
import type { VmState } from "../../shared/schemas/vm.js";
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
import { cpuAt } from "./cpu-pattern.js";
import { planMigration, seededRandom } from "./migration-model.js";
import type { SimFabric } from "./sim-fabric.js";
import { simHostFacts, simIncomingRefusals, simVmFacts } from "./sim-facts.js";
import { parseCpuBaseline } from "../virsh/parse-cpu-baseline.js";
import { simDefinitionSize, simDefinitionXml } from "./sim-definition.js";

// A simulated hypervisor: a product feature (demo, simulator, scale tests), not a test double.
// All timing comes from the injected Clock, all chance from a seeded PRNG, so a run is
// reproducible. A VM is defined on exactly one host at any moment: it stays on the source
// while its memory is copied and moves in one synchronous step at the switch-over. As in
// libvirt with --p2p, a migration job goes on when its caller stops watching (detach); only an
// abort (or the host stopping) ends it early.

/** How `virsh domstate` words each state (the sim keeps only the coarse VmState). */
const VIRSH_STATE_WORDS: Record<VmState, string> = {
  running: "running",
  paused: "paused",
  shutoff: "shut off",
  crashed: "crashed",
  suspended: "pmsuspended",
  other: "no state",
};

interface VmRecord {
  name: string;
  vcpus: number;
  memMiB: number;
  cpu: SimCpu;
  dirtyRateMiBs: number;
  state: VmState;
  /** Origin of the CPU pattern's time axis; kept across migrations. */
  patternStartMs: number;
  cpuTimeNs: number;
  cpuReadAtMs: number;
  facts?: SimVmFacts;
  autostart: boolean;
  migration?: { abort: AbortController; aborted: boolean; postcopy: boolean; switched: boolean };
}

/** What `vms()` shows of a simulated VM. */
export interface SimVmView {
  name: string;
  vcpus: number;
  memMiB: number;
  state: VmState;
  /** CPU now, percent of one core. */
  cpuPercent: number;
  migrating: boolean;
}

export interface SimHypervisorOptions {
  host: string;
  config?: SimConfigInput | SimConfig;
  clock: Clock;
  fabric?: SimFabric;
}

const MiB = 1024 * 1024;
/** libvirtd's TCP port, for error texts that read like libvirt's. */
const LIBVIRT_PORT = 16509;

export class SimHypervisor implements Hypervisor {
  readonly name = "sim";
  readonly host: string;
  readonly config: SimConfig;
  private readonly clock: Clock;
  private readonly fabric: SimFabric | undefined;
  private readonly vmsByName = new Map<string, VmRecord>();
  private readonly random: () => number;
  private running = false;
  /** Disk files on this host (local disks of its VMs, copies that arrived, sources left behind). */
  private readonly files = new Set<string>();
  private readonly hostFactsNow: HostFacts;

  constructor(o: SimHypervisorOptions) {
    this.host = o.host;
    this.config = SimConfig.parse(o.config ?? {});
    this.clock = o.clock;
    this.fabric = o.fabric;
    this.random = seededRandom(this.config.seed);
    this.hostFactsNow = simHostFacts(this.config.facts);
    for (const vm of this.config.vms) this.addVm(vm);
  }

  /** Joins the fabric under the host id and configured addresses: now a migration destination. */
  start(): void {
    if (this.running) return;
    this.running = true;
    if (this.fabric) for (const a of new Set([this.host, ...this.config.addresses])) this.fabric.register(a, this);
  }

  /** Leaves the fabric: incoming migrations fail as if libvirtd were down; running ones abort. */
  stop(): void {
    this.running = false;
    this.fabric?.unregister(this);
    for (const vm of this.vmsByName.values()) vm.migration?.abort.abort(new Error("host stopped"));
  }

  get isRunning(): boolean {
    return this.running;
  }

  // --- programmatic control (tests, demo) -------------------------------------------------

  addVm(input: SimVmInput): void {
    const vm = SimVm.parse(input);
    if (this.vmsByName.has(vm.name)) throw new ValidationError("BAD_REQUEST", `sim host ${this.host}: VM '${vm.name}' already exists`);
    const now = this.clock.now();
    this.vmsByName.set(vm.name, {
      name: vm.name,
      vcpus: vm.vcpus,
      memMiB: vm.mem_mib,
      cpu: vm.cpu,
      dirtyRateMiBs: vm.dirty_rate_mibs,
      state: vm.state,
      patternStartMs: now,
      cpuTimeNs: 0,
      cpuReadAtMs: now,
      autostart: vm.autostart,
      ...(vm.facts ? { facts: vm.facts } : {}),
    });
    // Only VMs configured with facts can have disks (scale tests add many VMs without).
    if (vm.facts) for (const d of simVmFacts(vm.name, vm.facts, this.hostFactsNow).disks) if (!d.shared && d.source !== undefined) this.files.add(d.source);
  }

  removeVm(name: string): boolean {
    const vm = this.vmsByName.get(name);
    if (!vm) return false;
    vm.migration?.abort.abort(new Error("VM removed"));
    return this.vmsByName.delete(name);
  }

  setVmCpu(name: string, cpu: SimCpu): void {
    const vm = this.vmsByName.get(name);
    if (!vm) throw new ValidationError("UNKNOWN_VM", `sim host ${this.host}: no VM '${name}'`);
    this.accrueCpu(vm);
    vm.cpu = cpu;
    vm.patternStartMs = this.clock.now();
  }

  setVmState(name: string, state: VmState): void {
    const vm = this.vmsByName.get(name);
    if (!vm) throw new ValidationError("UNKNOWN_VM", `sim host ${this.host}: no VM '${name}'`);
    this.accrueCpu(vm);
    vm.state = state;
  }

  /** Sets libvirt's autostart flag of a VM (tests, demo: an operator's `virsh autostart`). */
  setAutostart(name: string, on: boolean): void {
    const vm = this.vmsByName.get(name);
    if (!vm) throw new ValidationError("UNKNOWN_VM", `sim host ${this.host}: no VM '${name}'`);
    vm.autostart = on;
  }

  autostartOf(name: string): boolean | undefined {
    return this.vmsByName.get(name)?.autostart;
  }

  hasVm(name: string): boolean {
    return this.vmsByName.has(name);
  }

  vms(): SimVmView[] {
    return [...this.vmsByName.values()].map((vm) => ({
      name: vm.name,
      vcpus: vm.vcpus,
      memMiB: vm.memMiB,
      state: vm.state,
      cpuPercent: this.cpuNow(vm),
      migrating: vm.migration !== undefined,
    }));
  }

  // --- Hypervisor ---------------------------------------------------------------------------

  async listDomains(): Promise<DomainStats[]> {
    return [...this.vmsByName.values()].map((vm) => {
      this.accrueCpu(vm);
      const active = vm.state === "running" || vm.state === "paused";
      return {
        name: vm.name,
        state: vm.state,
        vcpus: vm.vcpus,
        memMiB: vm.memMiB,
        maxMemMiB: vm.memMiB,
        cpuTimeNs: active ? vm.cpuTimeNs : null,
      };
    });
  }

  async abortMigration(vmName: string): Promise<void> {
    const vm = this.vmsByName.get(vmName);
    if (!vm) throw new HypervisorError(`failed to get domain '${vmName}'`);
    if (!vm.migration) throw new HypervisorError("Requested operation is not valid: no job is active on the domain");
    vm.migration.aborted = true;
    vm.migration.abort.abort(new Error("canceled by client"));
  }

  async inspectMigration(vmName: string): Promise<OutgoingMigrationState> {
    const vm = this.vmsByName.get(vmName);
    if (!vm) return { present: false };
    return { present: true, state: vm.state, jobActive: vm.migration !== undefined };
  }

  async migrate(vmName: string, target: MigrationTarget, opts: MigrateOptions, onProgress?: (p: MigrationProgress) => void): Promise<MigrationStats> {
    const startedAt = this.clock.now();
    const vm = this.vmsByName.get(vmName);
    if (!vm) throw new HypervisorError(`failed to get domain '${vmName}'`);
    if (vm.state !== "running") throw new HypervisorError("Requested operation is not valid: domain is not running");
    if (vm.migration) throw new HypervisorError(`Requested operation is not valid: domain '${vmName}' has a migration job running`);
    this.destinationFor(target, vmName);
    const local = vm.facts ? localWritableDisks(simVmFacts(vm.name, vm.facts, this.hostFactsNow)) : [];
    const copy = new Set(opts.copyDisks ?? []);
    const uncopied = local.find((d) => !copy.has(d.target));
    // As libvirt: without the copy, the destination QEMU cannot open a disk that is not there.
    if (uncopied) throw new HypervisorError(`Cannot access storage file '${uncopied.source}': No such file or directory`);
    const copyBytes = local.reduce((sum, d) => sum + (d.allocationBytes ?? 0), 0);

    const memPlan = planMigration({ memMiB: vm.memMiB, dirtyRateMiBs: vm.dirtyRateMiBs, speedMiBs: this.config.migration_mibs });
    // Disks are copied (mirrored) before the memory's pre-copy ends: their bytes add to the copy time.
    const diskMs = (copyBytes / MiB / this.config.migration_mibs) * 1000;
    const plan = { ...memPlan, precopyMs: memPlan.precopyMs + diskMs, totalMs: memPlan.totalMs + diskMs, bytesSent: memPlan.bytesSent + copyBytes };
    // Decide up front (one draw per migration) so the sequence of outcomes depends on the seed only.
    const failAt = this.random() < this.config.migration_fail_rate ? 0.1 + 0.8 * this.random() : undefined;
    const abort = new AbortController();
    const onOuterAbort = () => abort.abort(opts.signal?.reason);
    opts.signal?.addEventListener("abort", onOuterAbort, { once: true });
    vm.migration = { abort, aborted: false, postcopy: opts.postcopy === true, switched: false };
    let watching = true;
    const copied = local.map((d) => d.source!);
    const job = this.copy(vm, target, plan, copied, failAt, abort, startedAt, (p) => {
      if (watching) onProgress?.(p);
    }).finally(() => {
      opts.signal?.removeEventListener("abort", onOuterAbort);
      if (vm.migration?.abort === abort) vm.migration = undefined;
    });
    const { detach } = opts;
    if (!detach) return job;
    return new Promise<MigrationStats>((resolve, reject) => {
      const onDetach = () => {
        watching = false;
        // The caller's abort no longer reaches the job, as it no longer reaches libvirt once
        // the agent's virsh is gone; the job ends by itself (or by abortMigration).
        opts.signal?.removeEventListener("abort", onOuterAbort);
        reject(new MigrationUnobservedError(`stopped watching the migration of ${vmName}; the simulated job goes on`));
      };
      if (detach.aborted) onDetach();
      else detach.addEventListener("abort", onDetach, { once: true });
      job.then(resolve, reject).finally(() => detach.removeEventListener("abort", onDetach));
    });
  }

  /** The job itself: pre-copy, downtime, switch-over. Runs to its end whether or not anyone waits. */
  private async copy(
    vm: VmRecord,
    target: MigrationTarget,
    plan: ReturnType<typeof planMigration>,
    /** Disk files copied: they exist on the destination afterwards. */
    copied: readonly string[],
    failAt: number | undefined,
    abort: AbortController,
    startedAt: number,
    onProgress: (p: MigrationProgress) => void,
  ): Promise<MigrationStats> {
    const vmName = vm.name;
    try {
      await this.clock.sleep(this.config.start_delay_s * 1000, abort.signal);
      const steps = Math.max(1, Math.min(100, Math.ceil(plan.precopyMs / 1000)));
      for (let i = 1; i <= steps; i++) {
        // Switched to post-copy: the guest runs on the destination at once; the rest follows.
        if (vm.migration?.switched) break;
        await this.clock.sleep(plan.precopyMs / steps, abort.signal);
        const fraction = i / steps;
        if (failAt !== undefined && fraction >= failAt) throw new HypervisorError("operation failed: job 'migration out' unexpectedly failed");
        if (!this.destinationUp(target)) throw new HypervisorError("operation failed: job 'migration out' unexpectedly failed");
        onProgress({
          percent: Math.min(99, fraction * 100),
          dataProcessedBytes: Math.round(plan.bytesSent * fraction),
          dataTotalBytes: Math.round(vm.memMiB * MiB),
        });
      }
      await this.clock.sleep(plan.downtimeMs, abort.signal);
      // Switch-over: one synchronous step, so no observer sees the VM on both hosts or on none.
      const dest = this.destinationFor(target, vmName);
      this.accrueCpu(vm);
      this.vmsByName.delete(vmName);
      vm.migration = undefined;
      // The copies now exist on the destination; the source files stay (as with libvirt) until removeDisks.
      for (const f of copied) dest.files.add(f);
      dest.receive(vm);
      return {
        durationMs: this.clock.now() - startedAt,
        elapsedMs: Math.round(plan.totalMs),
        downtimeMs: Math.round(plan.downtimeMs),
        dataTotalBytes: Math.round(vm.memMiB * MiB),
        dataProcessedBytes: plan.bytesSent,
        memoryBps: Math.round(this.config.migration_mibs * MiB),
        memoryIterations: plan.iterations,
      };
    } catch (e) {
      if (abort.signal.aborted) {
        if (vm.migration?.aborted) throw new HypervisorError("operation aborted: job 'migration out' canceled by client");
        throw new HypervisorError(
          `operation aborted: job 'migration out' was interrupted: ${(abort.signal.reason as Error | undefined)?.message ?? "aborted"}`,
        );
      }
      throw e;
    }
  }

  async startPostcopy(vmName: string): Promise<void> {
    const vm = this.vmsByName.get(vmName);
    if (!vm) throw new HypervisorError(`failed to get domain '${vmName}'`);
    if (!vm.migration) throw new HypervisorError("Requested operation is not valid: no job is active on the domain");
    if (!vm.migration.postcopy)
      throw new HypervisorError("Requested operation is not valid: switching to post-copy requires migration to be started with VIR_MIGRATE_POSTCOPY flag");
    vm.migration.switched = true;
  }

  async checkIncoming(req: CheckIncomingRequest): Promise<IncomingRefusal[]> {
    return simIncomingRefusals(req, this.hostFactsNow, this.files);
  }

  /** Features every given CPU offers; the model when they all name the same one, else qemu64. */
  async cpuBaseline(cpus: readonly string[]): Promise<CpuBaselineResult> {
    const parsed = cpus.map(parseCpuBaseline);
    const models = new Set(parsed.map((p) => p.model));
    const model = models.size === 1 ? (parsed[0]?.model ?? "qemu64") : "qemu64";
    const features = (parsed[0]?.features ?? []).filter((f) => parsed.every((p) => p.features.includes(f)));
    const xml = [
      `<cpu mode='custom' match='exact'>`,
      `  <model fallback='forbid'>${model}</model>`,
      ...features.map((f) => `  <feature policy='require' name='${f}'/>`),
      `</cpu>`,
    ].join("\n");
    return { xml, model, features };
  }

  async removeDisks(vmName: string, paths: readonly string[]): Promise<RemoveDisksResult> {
    if (this.vmsByName.has(vmName)) throw new BallastError("VM_STILL_DEFINED", `VM ${vmName} is still defined on ${this.host}; its disks are not removed`);
    const removed: string[] = [];
    const kept: RemoveDisksResult["kept"] = [];
    for (const p of paths) {
      if (this.files.delete(p)) removed.push(p);
      else kept.push({ path: p, reason: "not there" });
    }
    return { vm: vmName, removed, kept };
  }

  async definitionXml(vmName: string): Promise<string> {
    const vm = this.vmsByName.get(vmName);
    if (!vm) throw new BallastError("UNKNOWN_VM", `VM ${vmName} is not defined on ${this.host}`, { details: { vm: vmName } });
    return simDefinitionXml(vm, simVmFacts(vmName, vm.facts, this.hostFactsNow));
  }

  async probeHost(address: string): Promise<ProbeAnswer> {
    // The fabric is the migration network: a hypervisor stopped (powered off) has left it.
    const peer = this.fabric?.resolve(address);
    if (peer && peer.running) return { ok: true, timedOut: false, detail: `qemu+tcp://${address}/system: Running hypervisor: QEMU (sim ${peer.host})` };
    return {
      ok: false,
      timedOut: false,
      detail: `qemu+tcp://${address}/system: unable to connect to server at '${address}:${LIBVIRT_PORT}': Connection refused`,
    };
  }

  async startRecorded(vmName: string, xml: string): Promise<{ started: boolean; detail: string }> {
    const here = this.vmsByName.get(vmName);
    if (here) return { started: false, detail: `a domain ${vmName} is already defined here (${here.state}): nothing changed` };
    const size = simDefinitionSize(xml);
    if (size.name !== vmName) throw new HypervisorError(`operation failed: the definition names domain '${size.name ?? ""}', not '${vmName}'`);
    if (size.memMiB === undefined || size.vcpus === undefined) throw new HypervisorError(`XML error: the definition of '${vmName}' gives no memory or vCPUs`);
    this.addVm({ name: vmName, vcpus: size.vcpus, mem_mib: size.memMiB, state: "running" });
    return { started: true, detail: `defined and started ${vmName} (sim)` };
  }

  async autostartDomains(): Promise<string[]> {
    return [...this.vmsByName.values()]
      .filter((v) => v.autostart)
      .map((v) => v.name)
      .sort();
  }

  async disableAutostart(vmName: string): Promise<void> {
    const vm = this.vmsByName.get(vmName);
    if (!vm) throw new HypervisorError(`failed to get domain '${vmName}'`);
    vm.autostart = false;
  }

  async startDefined(vmName: string): Promise<void> {
    const vm = this.vmsByName.get(vmName);
    if (!vm) throw new HypervisorError(`failed to get domain '${vmName}'`);
    if (vm.state === "running" || vm.state === "paused") throw new HypervisorError("Requested operation is not valid: domain is already running");
    this.accrueCpu(vm);
    vm.state = "running";
  }

  async pause(vmName: string): Promise<PauseAnswer> {
    const vm = this.vmsByName.get(vmName);
    if (!vm) throw new BallastError("UNKNOWN_VM", `VM ${vmName} is not defined on this host`, { details: { vm: vmName } });
    if (vm.state !== "running") return { paused: false, state: vm.state, detail: `${vmName} is ${vm.state} here, not running: nothing done` };
    this.accrueCpu(vm);
    vm.state = "paused";
    return { paused: true, state: "paused", detail: `suspended ${vmName} (sim)` };
  }

  async guestState(vmName: string): Promise<GuestStateAnswer> {
    const vm = this.vmsByName.get(vmName);
    if (!vm) throw new BallastError("UNKNOWN_VM", `VM ${vmName} is not defined on this host`, { details: { vm: vmName } });
    // A simulated VM runs no guest, so nothing could open a guest agent channel: "none" is what
    // libvirt says of a domain without one, and tells the caller it cannot learn when the guest is up.
    return { state: VIRSH_STATE_WORDS[vm.state], guestAgent: "none" };
  }

  /** This host's facts (the simulated CPU generation, networks, storage). */
  async hostFacts(): Promise<HostFacts> {
    return structuredClone(this.hostFactsNow);
  }

  /** Facts of the named VMs that are here. */
  async vmFacts(names: readonly string[]): Promise<VmFacts[]> {
    return names.flatMap((n) => {
      const vm = this.vmsByName.get(n);
      return vm ? [simVmFacts(n, vm.facts, this.hostFactsNow)] : [];
    });
  }

  /** Is this disk file on this host? (tests, demo) */
  hasFile(path: string): boolean {
    return this.files.has(path);
  }

  // --- host-level numbers (SimMetricsSource) --------------------------------------------------

  /** Sum of the running VMs' CPU now, percent of one core. */
  totalVmCpuPercent(): number {
    let sum = 0;
    for (const vm of this.vmsByName.values()) sum += this.cpuNow(vm);
    return sum;
  }

  /** Memory of the VMs that occupy RAM (running or paused), MiB. */
  totalVmMemMiB(): number {
    let sum = 0;
    for (const vm of this.vmsByName.values()) if (vm.state === "running" || vm.state === "paused") sum += vm.memMiB;
    return sum;
  }

  // --- internals ----------------------------------------------------------------------------

  /** A VM arriving by migration: a new QEMU process, so cpu.time starts again at 0. */
  private receive(vm: VmRecord): void {
    const now = this.clock.now();
    this.vmsByName.set(vm.name, { ...vm, migration: undefined, cpuTimeNs: 0, cpuReadAtMs: now });
  }

  private destinationUp(target: MigrationTarget): boolean {
    const d = this.fabric?.resolve(target.address);
    return d !== undefined && d.running;
  }

  private destinationFor(target: MigrationTarget, vmName: string): SimHypervisor {
    const dest = this.fabric?.resolve(target.address);
    if (!dest || !dest.running) throw new HypervisorError(`unable to connect to server at '${target.address}:${LIBVIRT_PORT}': Connection refused`);
    if (dest === this) throw new HypervisorError(`internal error: Attempt to migrate guest to the same host ${this.host}`);
    if (dest.hasVm(vmName)) throw new HypervisorError(`operation failed: domain '${vmName}' already exists on ${dest.host}`);
    return dest;
  }

  private cpuNow(vm: VmRecord): number {
    if (vm.state !== "running") return 0;
    return cpuAt(vm.cpu, this.clock.now() - vm.patternStartMs);
  }

  /** Adds the CPU used since the last reading to cpu.time, at the current rate. */
  private accrueCpu(vm: VmRecord): void {
    const now = this.clock.now();
    const dt = now - vm.cpuReadAtMs;
    if (dt > 0) vm.cpuTimeNs += (this.cpuNow(vm) / 100) * dt * 1e6;
    vm.cpuReadAtMs = now;
  }
}
