import { WindowMax } from "../../shared/window-max.js";
import type { HostMetrics, Heartbeat } from "../../shared/schemas/host-metrics.js";
import type { VmInfo } from "../../shared/schemas/vm.js";
import type { Policy } from "../../shared/config/policy.js";
import type { ClusterSnapshot, HostSample, IncompatiblePair, SnapshotHost, SnapshotVm, InFlightMigration, PastMove } from "../../shared/schemas/snapshot.js";
import type { HostStatus } from "../../shared/schemas/orchestrator-api.js";
import type { HostPower } from "../../shared/schemas/power.js";
import { isFresh, longEnough, overStreak, r2 } from "../core/index.js";
import type { HostMapping } from "./host-mapping.js";
import type { FactsView } from "./facts-store.js";

// What the orchestrator knows of each host, fed by agent messages. Times are the orchestrator's
// receive times, so agents' clock skew cannot make a host look fresh or stale.

interface HostEntry {
  metrics: HostMetrics;
  /** Index into metrics.vms by VM name; shared with the entry's earlier messages while the names and their order stay the same. */
  vmIndex: Map<string, number>;
  metricsAt: number;
  heartbeatAt: number;
  heartbeat?: Heartbeat;
  samples: HostSample[];
}

export class ClusterState {
  private hosts = new Map<string, HostEntry>();
  /** VM name -> hosts whose newest inventory lists it: locate() stays cheap on large clusters. */
  // A VM is nearly always listed by one host: a plain string then, a Set only while two or more
  // hosts list it (a migration's two ends), so indexing a new host allocates nothing per VM.
  private vmHosts = new Map<string, string | Set<string>>();
  /**
   * Each VM's memory peak over mem_peak_window, by name (it follows the VM across hosts): the
   * planner keeps room on a destination for the VM to grow back to it.
   */
  private memPeaks = new Map<string, WindowMax>();

  /** Records a metrics message; returns false when it is older than what we have (reordered). */
  ingestMetrics(m: HostMetrics, receivedAt: number, policy: Policy): boolean {
    const prev = this.hosts.get(m.host);
    // Agent sequence numbers restart with the agent; its sample time does not go backwards.
    if (prev && m.ts < prev.metrics.ts) return false;
    const memPct = memPercent(m);
    const samples = prev ? prev.samples : [];
    samples.push({ ts: receivedAt, cpu: r2(m.cpuPercent), mem: r2(memPct) });
    // Enough history for max_over (with a gap allowance) and for the destination load trend.
    const keepMs = Math.max(policy.max_over + 3 * policy.interval + policy.stale_after, policy.predict_window) * 1000;
    while (samples.length > 0 && samples[0]!.ts < receivedAt - keepMs) samples.shift();
    if (samples.length > 2000) samples.splice(0, samples.length - 2000);
    if (policy.mem_peak_window > 0)
      for (const v of m.vms) {
        if (v.state !== "running" && v.state !== "paused") continue;
        let w = this.memPeaks.get(v.name);
        if (!w) this.memPeaks.set(v.name, (w = new WindowMax(policy.mem_peak_window * 1000)));
        w.push(receivedAt, v.memMiB);
      }
    // Most messages list the same VMs in the same order as the one before: then the index (and the
    // VM -> hosts index) stay as they are, and nothing per VM is allocated.
    if (prev && sameNames(prev.metrics.vms, m.vms)) {
      prev.metrics = m;
      prev.metricsAt = receivedAt;
      prev.heartbeatAt = Math.max(prev.heartbeatAt, receivedAt);
      return true;
    }
    const vmIndex = new Map<string, number>();
    m.vms.forEach((v, i) => vmIndex.set(v.name, i));
    this.reindex(m.host, prev?.vmIndex, vmIndex);
    this.hosts.set(m.host, {
      metrics: m,
      vmIndex,
      metricsAt: receivedAt,
      heartbeatAt: Math.max(prev?.heartbeatAt ?? 0, receivedAt),
      ...(prev?.heartbeat ? { heartbeat: prev.heartbeat } : {}),
      samples,
    });
    return true;
  }

  /**
   * Whether the host's newest samples keep it over a trigger threshold for max_over (the planner's
   * hot-spot test, windows.ts), so that a plan need not wait for the next cycle.
   */
  overloaded(host: string, policy: Pick<Policy, "stale_after" | "max_over" | "load_threshold" | "mem_threshold" | "interval">): boolean {
    const e = this.hosts.get(host);
    if (!e) return false;
    const staleMs = policy.stale_after * 1000;
    const cpu = overStreak(e.samples, "cpu", policy.load_threshold, staleMs);
    const mem = overStreak(e.samples, "mem", policy.mem_threshold, staleMs);
    return (cpu.over && longEnough(cpu.overMs, policy)) || (mem.over && longEnough(mem.overMs, policy));
  }

  /** A heartbeat keeps a host fresh only if we have its metrics; a host is known by its metrics. */
  ingestHeartbeat(h: Heartbeat, receivedAt: number): void {
    const e = this.hosts.get(h.host);
    if (!e) return;
    e.heartbeat = h;
    e.heartbeatAt = receivedAt;
  }

  forget(host: string): boolean {
    const e = this.hosts.get(host);
    if (e) this.reindex(host, e.vmIndex, new Map());
    return this.hosts.delete(host);
  }

  private reindex(host: string, before: ReadonlyMap<string, number> | undefined, after: ReadonlyMap<string, number>): void {
    for (const name of before?.keys() ?? []) {
      if (after.has(name)) continue;
      const at = this.vmHosts.get(name);
      if (at === host) this.vmHosts.delete(name);
      else if (typeof at === "object") {
        at.delete(host);
        if (at.size === 1) this.vmHosts.set(name, at.values().next().value!);
      }
    }
    for (const name of after.keys()) {
      // Most messages list the same VMs as the one before: those are indexed already.
      if (before?.has(name)) continue;
      const at = this.vmHosts.get(name);
      if (at === undefined) this.vmHosts.set(name, host);
      else if (typeof at === "object") at.add(host);
      else if (at !== host) this.vmHosts.set(name, new Set([at, host]));
    }
  }

  /** The agent's own error when its newest heartbeat (newer than its metrics) says collection fails. */
  collectFailure(host: string): string | undefined {
    const e = this.hosts.get(host);
    if (!e?.heartbeat || e.heartbeat.collectOk || e.heartbeatAt <= e.metricsAt) return undefined;
    return e.heartbeat.collectError ?? "no error text";
  }

  knows(host: string): boolean {
    return this.hosts.has(host);
  }

  hostIds(): string[] {
    return [...this.hosts.keys()].sort();
  }

  /** When the host's newest metrics arrived (orchestrator clock). */
  metricsAt(host: string): number | undefined {
    return this.hosts.get(host)?.metricsAt;
  }

  lastSeen(host: string): number | undefined {
    const e = this.hosts.get(host);
    return e ? Math.max(e.metricsAt, e.heartbeatAt) : undefined;
  }

  /** The facts digest of the host's newest heartbeat (absent: an older agent, or none collected yet). */
  factsDigest(host: string): string | undefined {
    return this.hosts.get(host)?.heartbeat?.factsDigest;
  }

  agentStartedAt(host: string): number | undefined {
    return this.hosts.get(host)?.heartbeat?.startedAt;
  }

  metrics(host: string): HostMetrics | undefined {
    return this.hosts.get(host)?.metrics;
  }

  /** Where the newest inventories place a VM (all hosts that list it, running or not). */
  locate(vm: string): { host: string; info: VmInfo }[] {
    const out: { host: string; info: VmInfo }[] = [];
    const at = this.vmHosts.get(vm);
    for (const host of at === undefined ? [] : typeof at === "string" ? [at] : at) {
      const e = this.hosts.get(host);
      const i = e?.vmIndex.get(vm);
      const info = i === undefined ? undefined : e!.metrics.vms[i];
      if (info) out.push({ host, info });
    }
    return out.sort((a, b) => a.host.localeCompare(b.host));
  }

  /**
   * Fresh = recent metrics. A heartbeat alone (agent alive, collection failing: libvirtd down,
   * virsh hanging) proves the agent lives but not what the host carries, so it does not count.
   */
  isFresh(host: string, now: number, policy: Policy): boolean {
    const e = this.hosts.get(host);
    return e !== undefined && isFresh(e.metricsAt, now, policy);
  }

  statuses(now: number, policy: Policy, mapping: HostMapping, maintenance: ReadonlySet<string>): Omit<HostStatus, "power">[] {
    return this.hostIds().map((id) => {
      const e = this.hosts.get(id)!;
      const m = e.metrics;
      return {
        host: id,
        fresh: this.isFresh(id, now, policy),
        agentAlive: isFresh(Math.max(e.metricsAt, e.heartbeatAt), now, policy),
        lastSeen: Math.max(e.metricsAt, e.heartbeatAt),
        lastMetrics: e.metricsAt,
        cpus: m.cpus,
        cpuPercent: r2(m.cpuPercent),
        memPercent: r2(memPercent(m)),
        memTotalMiB: m.memTotalMiB,
        memAvailableMiB: m.memAvailableMiB,
        loadSource: m.loadSource,
        vms: m.vms.length,
        runningVms: m.vms.filter((v) => v.state === "running").length,
        address: mapping.get(id) ?? null,
        maintenance: maintenance.has(id),
        collectOk: e.heartbeat?.collectOk ?? true,
        ...(e.heartbeat?.collectError ? { collectError: e.heartbeat.collectError } : {}),
        ...(e.heartbeat ? { agentStartedAt: e.heartbeat.startedAt } : {}),
      };
    });
  }

  /**
   * The planner's input. Each VM appears once: where it runs (a migration's incoming copy is
   * skipped), with the other hosts that list it running or paused in `alsoListedOn` (the planner
   * never moves such a VM). Only keys of the snapshot schema are set: it is strict.
   */
  snapshot(args: {
    now: number;
    mapping: HostMapping;
    maintenance: ReadonlySet<string>;
    inFlight: InFlightMigration[];
    history: PastMove[];
    frozenVms: string[];
    /** Each host's facts; a VM's facts are those its placed host published. Absent: none known. */
    facts?: FactsView;
    /** (VM, destination) pairs libvirt refused, while neither's facts changed. */
    incompatible?: IncompatiblePair[];
    /** Power management: the hosts with a power record and what the planner is told of each. */
    power?: PowerView;
  }): ClusterSnapshot {
    const facts = args.facts;
    const hosts: SnapshotHost[] = [];
    const placed = new Map<string, SnapshotVm>();
    /** Hosts listing each VM in a live state, for the VMs that more than one host lists at all (rare). */
    const live = new Map<string, string[]>();
    const power = args.power;
    // A switched-off host no agent reported since this instance started (a new leader) is still
    // a host: it stays in the snapshot with the capacity its power record kept.
    const ids = power ? [...new Set([...this.hostIds(), ...power.hosts().filter((h) => power.capacity(h) !== undefined)])].sort() : this.hostIds();
    for (const id of ids) {
      const e = this.hosts.get(id);
      const p = power?.of(id);
      const address = args.mapping.get(id);
      const dark = p !== undefined && (p.state === "off" || p.state === "booting" || p.state === "shutting_down");
      const cap = e ? { cpus: e.metrics.cpus, memTotalMiB: e.metrics.memTotalMiB } : power!.capacity(id)!;
      hosts.push({
        id,
        cpus: cap.cpus,
        memTotalMiB: cap.memTotalMiB,
        // Off or booting: its last known capacity, all of it free, no load (its agent is silent).
        memAvailableMiB: dark || !e ? cap.memTotalMiB : e.metrics.memAvailableMiB,
        cpuPercent: dark || !e ? 0 : r2(e.metrics.cpuPercent),
        // The planner judges freshness on metrics only (see isFresh).
        lastSeen: e?.metricsAt ?? 0,
        samples: dark || !e ? [] : e.samples.slice(),
        ...(address !== undefined ? { address } : {}),
        maintenance: args.maintenance.has(id),
        ...collectErrorOf(this.collectFailure(id)),
        tags: [],
        ...factsOf(facts?.hostFacts(id)),
        ...(p !== undefined ? { power: p } : {}),
      });
      if (!e) continue;
      const m = e.metrics;
      for (const v of m.vms) {
        const candidate: SnapshotVm = {
          name: v.name,
          host: id,
          state: v.state,
          vcpus: v.vcpus,
          memMiB: v.memMiB,
          cpuPercent: v.cpuPercent,
          tags: [],
        };
        const existing = placed.get(v.name);
        if (!existing || rank(candidate) > rank(existing)) placed.set(v.name, candidate);
        // Only the VMs another host lists too need their live listings (vmHosts knows which).
        if (rank(candidate) > 0 && typeof this.vmHosts.get(v.name) === "object") {
          const hostsOf = live.get(v.name);
          if (hostsOf) hostsOf.push(id);
          else live.set(v.name, [id]);
        }
      }
    }
    // Two live listings are either a migration's two ends (the planner knows it from inFlight) or
    // split brain; either way the planner must see both hosts to leave the VM alone.
    for (const [name, hostsOf] of live) {
      const v = placed.get(name)!;
      const others = [...new Set(hostsOf)].filter((h) => h !== v.host);
      if (others.length > 0) placed.set(name, { ...v, alsoListedOn: others.sort() });
    }
    // Peaks of VMs no host lists any more are forgotten; a VM above its current use gets its peak.
    for (const name of this.memPeaks.keys()) if (!placed.has(name)) this.memPeaks.delete(name);
    for (const [name, v] of placed) {
      const peak = this.memPeaks.get(name)?.max(args.now) ?? null;
      if (peak !== null && peak > v.memMiB) placed.set(name, { ...v, memPeakMiB: peak });
    }
    let vms = [...placed.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    // A VM's facts are its host's agent's: where the snapshot places it (the running copy).
    if (facts) vms = vms.map((v) => ({ ...v, ...factsOf(facts.vmFacts(v.host, v.name)) }));
    return {
      v: 1,
      takenAt: args.now,
      hosts,
      vms,
      inFlight: args.inFlight,
      history: args.history,
      frozenVms: args.frozenVms.slice().sort(),
      incompatible: args.incompatible ?? [],
    };
  }
}

/** What the snapshot needs of the power manager. */
export interface PowerView {
  /** Hosts with a power record. */
  hosts(): string[];
  of(host: string): HostPower | undefined;
  /** The last capacity the host reported (kept in its power record), if any. */
  capacity(host: string): { cpus: number; memTotalMiB: number } | undefined;
}

// A running copy wins over a paused one (the incoming side of a live migration is paused).
const rank = (v: SnapshotVm): number => (v.state === "running" ? 2 : v.state === "paused" ? 1 : 0);

export function memPercent(m: Pick<HostMetrics, "memTotalMiB" | "memAvailableMiB">): number {
  return m.memTotalMiB > 0 ? (100 * (m.memTotalMiB - m.memAvailableMiB)) / m.memTotalMiB : 0;
}

const factsOf = <T>(f: T | undefined): { facts?: T } => (f === undefined ? {} : { facts: f });

const collectErrorOf = (e: string | undefined): { collectError?: string } => (e === undefined ? {} : { collectError: e.slice(0, 1000) });

/** The same VM names in the same order (duplicate names included: the index maps the last of each). */
function sameNames(a: readonly VmInfo[], b: readonly VmInfo[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i]!.name !== b[i]!.name) return false;
  return true;
}
