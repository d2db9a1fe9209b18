import type { Policy } from "../../shared/config/policy.js";
import type { Decision } from "../../shared/schemas/plan.js";
import type { PowerState } from "../../shared/schemas/power.js";
import type { ClusterSnapshot, PastMove, SnapshotHost, SnapshotVm } from "../../shared/schemas/snapshot.js";
import { Compatibility, localDisksFor, type VmCompat } from "./compatibility.js";
import { sortedInputs } from "./digest.js";
import { predictCpu } from "./prediction.js";
import { compareByLoad, insertByLoad, removeByLoad } from "./load-order.js";
import { pingPongReturn } from "./vm-history.js";
import { hostSamples, isFresh } from "./windows.js";

// The planner's mutable working copy of the cluster (Watcher: plan against a copy of the model).
// Built once from the snapshot, sorted by id so that input order never matters; every chosen move
// is applied here before the next one is chosen. Loads are kept in absolute units (cores, MiB) so
// hosts of different sizes compare correctly; percentages are derived.
//
// In-flight migrations count on BOTH ends: the source still carries the VM (it is still listed
// there and its measured load includes it), and the destination has the VM's memory and CPU
// reserved, one more VM, and the VM is "present" there for placement rules.
//
// A VM that other hosts list running or paused too (SnapshotVm.alsoListedOn, or a second entry in a
// hand-written snapshot) is planned with one entry and never moved (constraints.ts); the hosts
// holding the other copies count its copy, so none of them is taken for empty.

/** Heuristic migration cost: memory to copy plus what the guest dirties meanwhile. */
export const COST_DIRTY_SECONDS = 10;
export const COST_MIB_PER_BUSY_CORE = 64;
/**
 * Weight of one MiB of local disk a move copies (local_disks: copy), against one MiB of memory.
 * The cost counts MiB sent over the migration link: memory is sent once, and what the guest
 * dirties meanwhile is sent again (the activity term above stands for those re-sends). A disk
 * block is sent once too: the NBD mirror writes the guest's new writes through to both ends
 * instead of re-sending dirty blocks. So a disk MiB weighs what a memory MiB does, 1; but a disk is
 * usually tens of times larger than the guest's memory, so such a VM is moved last anyway.
 */
export const COST_DISK_WEIGHT = 1;

/**
 * Power states of a host that is not serving (power management): switched off, being switched off,
 * or switched on and not yet reported by its agent. Such a host is neither stale nor a destination.
 */
export const DORMANT_STATES: ReadonlySet<PowerState> = new Set<PowerState>(["off", "booting", "shutting_down"]);

/** States a VM can be live-migrated in (and that hold memory and CPU on their host). */
export const LIVE_STATES: ReadonlySet<string> = new Set(["running", "paused"]);

export interface HostModel {
  readonly id: string;
  readonly cpus: number;
  /** Relative core speed (snapshot cpuSpeed, default 1). */
  readonly speed: number;
  /** CPU capacity in reference cores: cpus × speed. */
  readonly capacityCores: number;
  readonly memTotalMiB: number;
  /**
   * CPU in use, reference cores (a core of speed 1; measured, plus reservations of incoming
   * in-flight and planned moves).
   */
  usedCores: number;
  /** Physical memory in use, MiB (measured, plus reservations). */
  memUsedMiB: number;
  /**
   * Memory of the VMs this plan moves off the host, MiB. Unlike CPU, it is not freed when the move
   * is chosen but when it ends: until then the leaving VM and any VM arriving are both in the host's
   * RAM. memUsedMiB has it taken off (what the host will hold); destination checks add it back.
   */
  memLeavingMiB: number;
  /** Sum of the growth allowances (VmModel.memGrowthMiB) of the live VMs on the host, MiB. */
  memGrowthMiB: number;
  /**
   * Predicted rise of the host's CPU, reference cores (>= 0): predict_ahead seconds ahead on the
   * trend of its last predict_window seconds of samples; 0 without prediction. Destinations are
   * judged with it added.
   */
  readonly trendCores: number;
  /** Sum of the memory of live VMs on the host (incl. incoming in-flight), MiB. */
  committedMiB: number;
  /** Live VMs on the host (incl. incoming in-flight). */
  vmCount: number;
  /** Its agent reported within stale_after, and it is powered (not dormant). */
  readonly fresh: boolean;
  readonly lastSeen: number;
  /** Its power state (SnapshotHost.power; "on" when Ballast does not manage its power). */
  readonly power: PowerState;
  /**
   * Off, shutting down or booting (DORMANT_STATES): its lastSeen is old on purpose, so it is not
   * stale; it is not fresh either, so it is never relieved, never a destination, not in the
   * imbalance and never a spare.
   */
  readonly dormant: boolean;
  /** Closed to new VMs; evacuation sets it on its host in the working copy. */
  maintenance: boolean;
  readonly excluded: boolean;
  /** The agent says it cannot read its hypervisor (see SnapshotHost.collectError). */
  readonly collectError: string | undefined;
  readonly address: string | undefined;
  /** No live VM and nothing incoming when the snapshot was taken. */
  readonly emptyAtStart: boolean;
  /** Counts towards the imbalance measure (fresh, not excluded, not in maintenance at start). */
  readonly inBalance: boolean;
  inFlightIn: number;
  inFlightOut: number;
  plannedIn: number;
  plannedOut: number;
  /** Newest finished migration (any outcome) this host sent or received, ms; null if none. */
  readonly lastMoveAt: number | null;
  /** Live VMs currently on the host in the model (not incoming in-flight copies). */
  readonly vms: VmModel[];
  /**
   * Live copies of VMs that are planned with their entry on another host (the incoming side of a
   * migration nobody tracks, or split brain): such a host is never empty.
   */
  copies: number;
  /** Weighted load under which the host sits in `byLoad` and in its capacity group. */
  key: number;
  /** Compatibility class of its facts (compatibility.ts; 0: no facts). */
  readonly compatClass: number;
  /** Free huge pages by size (KiB), less those of VMs planned here; null: none (or no facts). */
  readonly hugeFree: Map<number, number> | null;
  readonly source: SnapshotHost;
}

export interface VmModel {
  readonly name: string;
  host: string;
  readonly origHost: string;
  readonly state: string;
  readonly live: boolean;
  readonly vcpus: number;
  readonly memMiB: number;
  /**
   * How far the VM's memory rose above its current use within the memory peak window, MiB
   * (SnapshotVm.memPeakMiB − memMiB, >= 0): room a destination keeps for it to grow back.
   */
  readonly memGrowthMiB: number;
  readonly cpuPercent: number | null;
  /** Cores the source is relieved of when the VM leaves (0 when not measured: we cannot count on it). */
  readonly reliefCores: number;
  /** Cores reserved on a destination (vcpus when not measured: conservative). */
  readonly loadCores: number;
  readonly cpuAssumed: boolean;
  /** Heuristic cost of the move, MiB (vmCost, plus local disks to copy). */
  readonly costMiB: number;
  /** Its migratability facts (compatibility.ts); null when neither it nor its host has facts. */
  readonly compat: VmCompat | null;
  readonly tags: readonly string[];
  /** Destination of an in-flight migration of this VM, or null. */
  readonly inFlightTo: string | null;
  /** Other hosts that list this VM running or paused too, sorted (empty normally). */
  readonly alsoListedOn: readonly string[];
  /**
   * The move that brought the VM to its host within pingpong_window (one that counts towards a
   * ping-pong): moving it back to that move's source would complete an A→B→A. Null otherwise.
   */
  readonly arrival: PastMove | null;
  /** Chosen for a move earlier in this plan. */
  planned: boolean;
}

export interface MoveToken {
  readonly vm: VmModel;
  readonly from: HostModel;
  readonly to: HostModel;
  readonly prev: readonly number[];
}

/**
 * Hosts of one capacity (CPU in reference cores, memory) and one compatibility class. A VM raises
 * the weighted load of every host in it by the same amount, so within a group the least loaded
 * host gives the lowest resulting load: a destination search visits groups' heads instead of every
 * host, and skips a group whose class cannot run the VM whole.
 */
export interface CapacityGroup {
  readonly capacityCores: number;
  readonly memTotalMiB: number;
  readonly compatClass: number;
  /** Ordered by (weighted load, id), like `byLoad`. */
  readonly hosts: HostModel[];
}

export interface Weights {
  cpu: number;
  mem: number;
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const NONE: readonly string[] = Object.freeze([]);

/** Migration cost, MiB: memory, what the guest dirties meanwhile, and `diskMiB` of local disks to copy. */
export function vmCost(v: Pick<SnapshotVm, "memMiB" | "dirtyRateMiBs" | "cpuPercent" | "vcpus">, diskMiB = 0): number {
  const activity = v.dirtyRateMiBs !== undefined ? v.dirtyRateMiBs * COST_DIRTY_SECONDS : ((v.cpuPercent ?? v.vcpus * 100) / 100) * COST_MIB_PER_BUSY_CORE;
  return v.memMiB + activity + (diskMiB > 0 ? diskMiB * COST_DISK_WEIGHT : 0);
}

export function weightsOf(policy: Pick<Policy, "cpu_weight" | "mem_weight">): Weights {
  return policy.cpu_weight + policy.mem_weight > 0 ? { cpu: policy.cpu_weight, mem: policy.mem_weight } : { cpu: 1, mem: 1 };
}

export class ClusterModel {
  readonly hosts: HostModel[];
  readonly hostById = new Map<string, HostModel>();
  readonly vms: VmModel[];
  readonly vmByName = new Map<string, VmModel>();
  /** Finished moves per VM, oldest first. */
  readonly historyByVm = new Map<string, PastMove[]>();
  readonly history: PastMove[];
  readonly weights: Weights;
  /** All hosts ordered by (weighted load, id); kept up to date by applyMove/undo. */
  readonly byLoad: HostModel[];
  /** Hosts by capacity, ordered by (capacityCores, memTotalMiB); kept up to date like `byLoad`. */
  readonly groups: CapacityGroup[];
  private readonly groupOf = new Map<HostModel, CapacityGroup>();
  /** Host classes, VM requirements and their cached verdicts. */
  readonly compat: Compatibility;
  inFlightTotal = 0;
  plannedTotal = 0;
  /** Problems in the snapshot itself (duplicate VMs, VMs on unknown hosts). */
  readonly notes: Decision[] = [];

  constructor(snapshot: ClusterSnapshot, policy: Policy, now: number) {
    this.weights = weightsOf(policy);
    this.compat = new Compatibility(snapshot.incompatible);
    const excludedHosts = new Set(policy.excluded_hosts);

    // Sorted once per snapshot and shared with the plan's digests (read-only here).
    const sorted = sortedInputs(snapshot);
    const hostsIn = sorted.hosts;
    const vmsIn = sorted.vms;
    const flights = sorted.inFlight;
    this.history = [...sorted.history];

    const lastMove = new Map<string, number>();
    for (const m of this.history) {
      for (const id of [m.source, m.destination]) lastMove.set(id, Math.max(lastMove.get(id) ?? -Infinity, m.finishedAt));
      const list = this.historyByVm.get(m.vm);
      if (list) list.push(m);
      else this.historyByVm.set(m.vm, [m]);
    }

    // Where in-flight VMs are headed (first request wins for a VM listed twice).
    const flightTo = new Map<string, string>();
    for (const f of flights) if (!flightTo.has(f.vm)) flightTo.set(f.vm, f.destination);

    this.hosts = [];
    for (const h of hostsIn) {
      if (this.hostById.has(h.id)) {
        this.notes.push({
          kind: "host",
          subject: h.id,
          code: "HOST_DUPLICATE",
          message: `host ${h.id} appears twice in the snapshot; the first entry is used`,
          numbers: {},
        });
        continue;
      }
      const power = h.power?.state ?? "on";
      const dormant = DORMANT_STATES.has(power);
      const fresh = !dormant && isFresh(h.lastSeen, now, policy);
      const excluded = excludedHosts.has(h.id);
      const maintenance = h.maintenance ?? false;
      const speed = h.cpuSpeed ?? 1;
      // The trend is read only from samples after the host's last migration: the step a VM
      // arriving or leaving makes is known, not a trend to extrapolate.
      const since = lastMove.get(h.id) ?? -Infinity;
      const predicted =
        policy.predict_window > 0
          ? predictCpu(
              hostSamples(h).filter((x) => x.ts > since),
              policy.predict_window,
              policy.predict_ahead,
            )
          : null;
      const trendCores = predicted === null ? 0 : (Math.max(0, predicted - Math.max(0, h.cpuPercent)) / 100) * h.cpus * speed;
      const hm: HostModel = {
        id: h.id,
        cpus: h.cpus,
        speed,
        capacityCores: h.cpus * speed,
        memTotalMiB: h.memTotalMiB,
        usedCores: (Math.max(0, h.cpuPercent) / 100) * h.cpus * speed,
        trendCores,
        memUsedMiB: Math.max(0, h.memTotalMiB - h.memAvailableMiB),
        memLeavingMiB: 0,
        memGrowthMiB: 0,
        committedMiB: 0,
        vmCount: 0,
        fresh,
        lastSeen: h.lastSeen,
        power,
        dormant,
        maintenance,
        excluded,
        collectError: h.collectError,
        address: h.address,
        emptyAtStart: true,
        inBalance: fresh && !excluded && !maintenance,
        inFlightIn: 0,
        inFlightOut: 0,
        plannedIn: 0,
        plannedOut: 0,
        lastMoveAt: lastMove.get(h.id) ?? null,
        vms: [],
        copies: 0,
        key: 0,
        compatClass: this.compat.classOf(h.facts),
        hugeFree: h.facts && h.facts.hugepages.length > 0 ? new Map(h.facts.hugepages.map((p) => [p.sizeKiB, p.free])) : null,
        source: h,
      };
      this.hosts.push(hm);
      this.hostById.set(h.id, hm);
    }

    this.vms = [];
    // VMs come sorted by name, so a name listed twice follows its first entry: comparing with the
    // last VM kept spares a lookup in a 200,000-entry map per VM.
    let last: VmModel | null = null;
    for (const v of vmsIn) {
      const host = this.hostById.get(v.host);
      if (last !== null && last.name === v.name) {
        this.notes.push({
          kind: "vm",
          subject: v.name,
          code: "VM_DUPLICATE",
          message: `VM ${v.name} is listed on more than one host; only its entry on ${last.host} is planned with`,
          numbers: { ignoredHost: v.host },
        });
        // A second live entry is a second live copy: the VM is listed twice, as the shell says with alsoListedOn.
        if (LIVE_STATES.has(v.state) && v.host !== last.host && !last.alsoListedOn.includes(v.host))
          (last as { alsoListedOn: readonly string[] }).alsoListedOn = [...last.alsoListedOn, v.host].sort();
        continue;
      }
      if (!host) {
        this.notes.push({
          kind: "vm",
          subject: v.name,
          code: "VM_UNKNOWN_HOST",
          message: `VM ${v.name} runs on host ${v.host}, which is not in the snapshot; it is ignored`,
          numbers: { host: v.host },
        });
        continue;
      }
      const live = LIVE_STATES.has(v.state);
      const cpuAssumed = v.cpuPercent === null;
      // cpuPercent is measured on the VM's host: in reference cores it scales with that host's speed.
      const sp = host.speed;
      const compat =
        v.facts === undefined && host.source.facts === undefined ? null : this.compat.vmCompat(v.facts, v.memMiB, host.source.facts, host.compatClass);
      const copyMiB = compat !== null && compat.localDiskMiB > 0 && localDisksFor(policy, v.name) === "copy" ? compat.localDiskMiB : 0;
      const vm: VmModel = {
        name: v.name,
        host: v.host,
        origHost: v.host,
        state: v.state,
        live,
        vcpus: v.vcpus,
        memMiB: v.memMiB,
        memGrowthMiB: live && v.memPeakMiB !== undefined ? Math.max(0, v.memPeakMiB - v.memMiB) : 0,
        cpuPercent: v.cpuPercent,
        reliefCores: live && v.cpuPercent !== null ? (v.cpuPercent / 100) * sp : 0,
        loadCores: live ? (v.cpuPercent !== null ? (v.cpuPercent / 100) * sp : v.vcpus * sp) : 0,
        cpuAssumed,
        costMiB: vmCost(v, copyMiB),
        compat,
        tags: v.tags ?? [],
        inFlightTo: flightTo.get(v.name) ?? null,
        alsoListedOn: v.alsoListedOn !== undefined && v.alsoListedOn.length > 0 ? [...new Set(v.alsoListedOn)].filter((x) => x !== v.host).sort() : NONE,
        arrival: this.history.length > 0 ? pingPongReturn(this.historyByVm.get(v.name), policy, now, v.host) : null,
        planned: false,
      };
      this.vms.push(vm);
      this.vmByName.set(v.name, vm);
      last = vm;
      if (live) {
        host.vms.push(vm);
        host.committedMiB += v.memMiB;
        host.memGrowthMiB += vm.memGrowthMiB;
        host.vmCount += 1;
        (host as { emptyAtStart: boolean }).emptyAtStart = false;
      }
    }

    // The hosts that hold the other live copies of VMs listed twice.
    for (const vm of this.vms)
      for (const id of vm.alsoListedOn) {
        const other = this.hostById.get(id);
        if (!other) continue;
        other.copies += 1;
        (other as { emptyAtStart: boolean }).emptyAtStart = false;
      }

    // In-flight migrations: concurrency on both ends, reservation on the destination.
    const seen = new Set<string>();
    for (const f of flights) {
      this.inFlightTotal += 1;
      const src = this.hostById.get(f.source);
      const dst = this.hostById.get(f.destination);
      if (src) src.inFlightOut += 1;
      if (!dst) continue;
      dst.inFlightIn += 1;
      if (seen.has(f.vm)) continue;
      seen.add(f.vm);
      const vm = this.vmByName.get(f.vm);
      if (vm && vm.host === dst.id) continue; // already listed at its destination: counted there
      dst.usedCores += (f.cpuPercent / 100) * (src ? src.speed : dst.speed);
      dst.memUsedMiB += f.memMiB;
      dst.committedMiB += f.memMiB;
      dst.vmCount += 1;
      (dst as { emptyAtStart: boolean }).emptyAtStart = false;
    }

    for (const h of this.hosts) h.key = this.weighted(h);
    this.byLoad = [...this.hosts].sort(compareByLoad);
    const groups = new Map<string, CapacityGroup>();
    for (const h of this.byLoad) {
      const k = `${h.capacityCores}/${h.memTotalMiB}/${h.compatClass}`;
      let g = groups.get(k);
      if (!g) groups.set(k, (g = { capacityCores: h.capacityCores, memTotalMiB: h.memTotalMiB, compatClass: h.compatClass, hosts: [] }));
      g.hosts.push(h);
      this.groupOf.set(h, g);
    }
    this.groups = [...groups.values()].sort((a, b) => a.capacityCores - b.capacityCores || a.memTotalMiB - b.memTotalMiB || a.compatClass - b.compatClass);
  }

  cpuLoad(h: HostModel, addCores = 0): number {
    return ((h.usedCores + addCores) / h.capacityCores) * 100;
  }

  memLoad(h: HostModel, addMiB = 0): number {
    return h.memTotalMiB > 0 ? ((h.memUsedMiB + addMiB) / h.memTotalMiB) * 100 : 100;
  }

  /** Memory while this plan's moves run, percent: what the host holds now, VMs leaving it included. */
  memLoadDuringMoves(h: HostModel, addMiB = 0): number {
    return this.memLoad(h, h.memLeavingMiB + addMiB);
  }

  /** Weighted load, percent: cpu_weight × CPU% + mem_weight × memory%, normalised by the weights. */
  weighted(h: HostModel, addCores = 0, addMiB = 0): number {
    const w = this.weights;
    return (w.cpu * this.cpuLoad(h, addCores) + w.mem * this.memLoad(h, addMiB)) / (w.cpu + w.mem);
  }

  /** Apply a move to the working copy; returns a token for `undo` (LIFO). */
  applyMove(vm: VmModel, to: HostModel): MoveToken {
    const from = this.hostById.get(vm.host)!;
    if (from === to) throw new Error(`applyMove: ${vm.name} is already on ${to.id}`);
    const prev = [
      from.usedCores,
      from.memUsedMiB,
      from.committedMiB,
      from.vmCount,
      from.plannedOut,
      from.memLeavingMiB,
      from.memGrowthMiB,
      to.usedCores,
      to.memUsedMiB,
      to.committedMiB,
      to.vmCount,
      to.plannedIn,
      to.memGrowthMiB,
      this.plannedTotal,
      vm.planned ? 1 : 0,
    ];
    this.unindex(from);
    this.unindex(to);
    from.usedCores = Math.max(0, from.usedCores - vm.reliefCores);
    from.memUsedMiB = Math.max(0, from.memUsedMiB - vm.memMiB);
    from.memLeavingMiB += vm.memMiB;
    from.memGrowthMiB = Math.max(0, from.memGrowthMiB - vm.memGrowthMiB);
    from.committedMiB = Math.max(0, from.committedMiB - vm.memMiB);
    from.vmCount = Math.max(0, from.vmCount - 1);
    from.plannedOut += 1;
    to.usedCores += vm.loadCores;
    to.memUsedMiB += vm.memMiB;
    to.memGrowthMiB += vm.memGrowthMiB;
    to.committedMiB += vm.memMiB;
    to.vmCount += 1;
    to.plannedIn += 1;
    this.plannedTotal += 1;
    const i = from.vms.indexOf(vm);
    if (i >= 0) from.vms.splice(i, 1);
    to.vms.push(vm);
    vm.host = to.id;
    vm.planned = true;
    this.moveHugepages(vm, from, to);
    this.index(from);
    this.index(to);
    return { vm, from, to, prev };
  }

  undo(t: MoveToken): void {
    const { vm, from, to, prev: p } = t;
    this.unindex(from);
    this.unindex(to);
    [from.usedCores, from.memUsedMiB, from.committedMiB, from.vmCount, from.plannedOut, from.memLeavingMiB, from.memGrowthMiB] = [
      p[0]!,
      p[1]!,
      p[2]!,
      p[3]!,
      p[4]!,
      p[5]!,
      p[6]!,
    ];
    [to.usedCores, to.memUsedMiB, to.committedMiB, to.vmCount, to.plannedIn, to.memGrowthMiB] = [p[7]!, p[8]!, p[9]!, p[10]!, p[11]!, p[12]!];
    this.plannedTotal = p[13]!;
    vm.planned = p[14] === 1;
    const i = to.vms.indexOf(vm);
    if (i >= 0) to.vms.splice(i, 1);
    from.vms.push(vm);
    from.vms.sort((a, b) => cmp(a.name, b.name));
    vm.host = from.id;
    this.moveHugepages(vm, to, from);
    this.index(from);
    this.index(to);
  }

  /** A VM backed by huge pages takes them on its destination and frees them on its source. */
  private moveHugepages(vm: VmModel, from: HostModel, to: HostModel): void {
    const c = vm.compat;
    if (c === null || c.hugePages === 0) return;
    const size = c.hugepageKiB;
    if (from.hugeFree) from.hugeFree.set(size, (from.hugeFree.get(size) ?? 0) + c.hugePages);
    if (to.hugeFree) to.hugeFree.set(size, (to.hugeFree.get(size) ?? 0) - c.hugePages);
  }

  /** Hosts in the model that hold no live VM (nor a live copy of one) and expect none. */
  isEmpty(h: HostModel): boolean {
    return h.vmCount === 0 && h.vms.length === 0 && h.copies === 0;
  }

  private unindex(h: HostModel): void {
    removeByLoad(this.byLoad, h);
    removeByLoad(this.groupOf.get(h)!.hosts, h);
  }

  private index(h: HostModel): void {
    h.key = this.weighted(h);
    insertByLoad(this.byLoad, h);
    insertByLoad(this.groupOf.get(h)!.hosts, h);
  }
}
