import type { Policy } from "../../shared/config/policy.js";
import type { Numbers } from "../../shared/schemas/plan.js";
import type { ClusterModel, HostModel } from "./cluster-model.js";
import { f1, r2 } from "./format.js";
import { widened } from "./headroom.js";

// The reserve the powered hosts keep (standby_capacity). CPU is counted up to each host's hot-spot
// trigger (load_threshold, widened for a bursty host): the load it may carry before hot-spot relief
// has to move anything. Memory is counted the way the planner measures a destination: within
// max_mem_candidate, physical memory less mem_reserve_mib with growth back to peaks, and
// mem_overcommit's cap on committed memory. Pure arithmetic on the working copy; power.ts decides
// what to do with it.
//
// largest_host: the powered hosts' spare CPU and spare memory must each reach the room of the
// largest powered host when empty. Then any one host's failure is absorbed in aggregate: a host X
// holds used_X = room_X − spare_X, and the others keep Σspare − spare_X ≥ room_max − spare_X ≥
// used_X, none of them past its trigger. (Aggregate room: one VM may still not fit anywhere whole;
// the hot-spot path handles that.) CPU was counted at max_load_candidate until the boot-model
// replays showed what that costs: consolidation packs hosts to about that level and their loads
// drift between it and the trigger, so the spare below it is small and the reserve was mostly one
// empty host kept on (about 2 kWh a PlanetLab day), while the spare below the trigger, spread over
// the packed hosts, absorbs the same failure without relief having to act.

const EPS = 1e-9;

export interface Room {
  cores: number;
  mib: number;
}

/** One host as the reserve counts it. */
export interface Member {
  readonly id: string;
  /** CPU capacity, reference cores (cpu_percent counts shares of it). */
  readonly capacityCores: number;
  readonly memTotalMiB: number;
  /**
   * Room the host offers when empty (reserveRoom): CPU up to its hot-spot trigger (load_threshold,
   * widened as for a bursty host), the load it may carry before relief must move VMs off it, and
   * memory as a destination.
   */
  readonly room: Room;
  /** Room left on it as the plan leaves it (coming hosts: room less what waits for them). */
  readonly spare: Room;
  /** Holds no VM and expects none (a `{ hosts: N }` reserve counts these). */
  readonly empty: boolean;
}

/** What the room measures need from a plan's context (PlanContext has them). */
export interface RoomContext {
  readonly model: ClusterModel;
  readonly policy: Policy;
  readonly headroomScale: ReadonlyMap<string, number>;
}

/** The room `h` offers when empty, by the destination limits. */
export function usableRoom(ctx: RoomContext, h: HostModel): Room {
  const p = ctx.policy;
  const cores = (widened(p.max_load_candidate, ctx.headroomScale.get(h.id)) / 100) * h.capacityCores;
  return { cores: Math.max(0, cores), mib: destinationMiB(p, h) };
}

/** The reserve's room of `h` when empty: CPU up to its hot-spot trigger, memory as a destination. */
export function reserveRoom(ctx: RoomContext, h: HostModel): Room {
  return { cores: triggerCores(ctx, h), mib: destinationMiB(ctx.policy, h) };
}

function destinationMiB(p: Policy, h: HostModel): number {
  const total = h.memTotalMiB;
  return Math.max(0, Math.min((p.max_mem_candidate / 100) * total, total - p.mem_reserve_mib, p.mem_overcommit * total - p.mem_reserve_mib));
}

/** CPU at `h`'s hot-spot trigger, reference cores. */
export function triggerCores(ctx: RoomContext, h: HostModel): number {
  return Math.max(0, (widened(ctx.policy.load_threshold, ctx.headroomScale.get(h.id)) / 100) * h.capacityCores);
}

/** A powered host as the plan leaves it. */
export function poweredMember(ctx: RoomContext, h: HostModel): Member {
  const p = ctx.policy;
  const room = reserveRoom(ctx, h);
  const total = h.memTotalMiB;
  const mib = Math.min(
    (p.max_mem_candidate / 100) * total - h.memUsedMiB,
    total - p.mem_reserve_mib - h.memUsedMiB - h.memGrowthMiB,
    p.mem_overcommit * total - p.mem_reserve_mib - h.committedMiB,
  );
  return {
    id: h.id,
    capacityCores: h.capacityCores,
    memTotalMiB: total,
    room,
    spare: { cores: Math.max(0, room.cores - h.usedCores), mib: Math.max(0, mib) },
    empty: ctx.model.isEmpty(h),
  };
}

/** A host that is booting or switched on by this plan: empty but for `taken`, on its last known capacity. */
export function comingMember(ctx: RoomContext, h: HostModel, taken: Room = { cores: 0, mib: 0 }): Member {
  const room = reserveRoom(ctx, h);
  return {
    id: h.id,
    capacityCores: h.capacityCores,
    memTotalMiB: h.memTotalMiB,
    room,
    spare: { cores: Math.max(0, room.cores - taken.cores), mib: Math.max(0, room.mib - taken.mib) },
    empty: taken.cores <= 0 && taken.mib <= 0,
  };
}

export interface ReserveVerdict {
  holds: boolean;
  /** One clause with the numbers, for messages. */
  text: string;
  numbers: Numbers;
}

/** Larger room first (CPU, then memory), ties by id: the order "the largest host" is read in. */
const bySizeDesc = (a: Member, b: Member): number => b.room.cores - a.room.cores || b.room.mib - a.room.mib || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** Whether `members` keep policy.standby_capacity now. */
export function reserveVerdict(policy: Policy, members: readonly Member[]): ReserveVerdict {
  const sc = policy.standby_capacity;
  const n = members.length;
  if (typeof sc === "object" && "hosts" in sc) {
    const empty = members.filter((m) => m.empty).length;
    return {
      holds: empty >= sc.hosts,
      text: `${empty} empty of ${n} powered hosts, standby_capacity ${sc.hosts} empty host(s)`,
      numbers: { standby: "hosts", emptyHosts: empty, needHosts: sc.hosts, poweredHosts: n },
    };
  }
  const spare = sum(members, (m) => m.spare);
  const need = needRoom(policy, members);
  const holds = spare.cores + EPS >= need.room.cores && spare.mib + EPS >= need.room.mib;
  return {
    holds,
    text: `spare ${f1(spare.cores)} cores / ${f1(spare.mib)} MiB on ${n} powered host(s) ${holds ? "≥" : "<"} ${f1(need.room.cores)} cores / ${f1(need.room.mib)} MiB (${need.what})`,
    numbers: {
      standby: typeof sc === "string" ? sc : "percent",
      spareCores: r2(spare.cores),
      spareMiB: r2(spare.mib),
      needCores: r2(need.room.cores),
      needMiB: r2(need.room.mib),
      poweredHosts: n,
      ...(need.largest !== null ? { largestHost: need.largest } : {}),
    },
  };
}

/**
 * Whether the reserve still holds once the CPU predicted `riseCores` ahead has come: the powered
 * hosts' spare CPU (each up to its hot-spot trigger, as reserveVerdict counts it) less the rise
 * covers the reserve in cores (the largest host's room for largest_host, the N largest hosts'
 * for hosts: N, cpu_percent of the capacity). The reserve judged on predicted load, with the
 * measure reserveVerdict uses on the load now: with no rise predicted it holds whenever the
 * reserve does. (It was Σ used + rise ≤ Σ trigger − reserve: a host over its trigger counted its
 * excess against the others' spare, so a hot spot that relief was about to move, or that had
 * just been moved, woke a host "for demand" with no rise predicted at all; on the PlanetLab
 * boot-model replays these were most demand wakes, each host then idle for min_on_time.)
 */
export function demandVerdict(policy: Policy, members: readonly Member[], riseCores: number, aheadSeconds: number): ReserveVerdict {
  const spare = members.reduce((a, m) => a + m.spare.cores, 0);
  const sc = policy.standby_capacity;
  const reserve =
    typeof sc === "object" && "hosts" in sc
      ? [...members]
          .sort(bySizeDesc)
          .slice(0, sc.hosts)
          .reduce((a, m) => a + m.room.cores, 0)
      : needRoom(policy, members).room.cores;
  const after = spare - riseCores;
  const holds = after + EPS >= reserve;
  return {
    holds,
    text: `spare CPU ${f1(spare)} cores − a predicted rise of ${f1(riseCores)} in ${aheadSeconds} s = ${f1(after)} ${holds ? "≥" : "<"} ${f1(reserve)} cores of reserve`,
    numbers: {
      spareCores: r2(spare),
      riseCores: r2(riseCores),
      spareAfterCores: r2(after),
      reserveCores: r2(reserve),
      boot_time: aheadSeconds,
    },
  };
}

function needRoom(policy: Policy, members: readonly Member[]): { room: Room; what: string; largest: string | null } {
  const sc = policy.standby_capacity;
  if (typeof sc === "object" && "cpu_percent" in sc) {
    const cap = members.reduce((a, m) => a + m.capacityCores, 0);
    const mem = members.reduce((a, m) => a + m.memTotalMiB, 0);
    return {
      room: { cores: (sc.cpu_percent / 100) * cap, mib: (sc.mem_percent / 100) * mem },
      what: `standby_capacity ${sc.cpu_percent} % CPU / ${sc.mem_percent} % memory`,
      largest: null,
    };
  }
  let largest: Member | null = null;
  for (const m of members) if (largest === null || bySizeDesc(m, largest) < 0) largest = m;
  return largest === null
    ? { room: { cores: 0, mib: 0 }, what: "no powered host", largest: null }
    : { room: largest.room, what: `the room of the largest powered host, ${largest.id}`, largest: largest.id };
}

function sum(members: readonly Member[], f: (m: Member) => Room): Room {
  const r = { cores: 0, mib: 0 };
  for (const m of members) {
    const x = f(m);
    r.cores += x.cores;
    r.mib += x.mib;
  }
  return r;
}
