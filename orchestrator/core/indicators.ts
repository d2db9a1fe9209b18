import type { ClusterModel, HostModel } from "./cluster-model.js";
import { r2 } from "./format.js";
import type { Indicators, PlannedMove } from "../../shared/schemas/plan.js";

// Efficacy indicators (Watcher): what the plan achieves on the working copy, before vs after.
//
// Imbalance is the weighted standard deviation of normalised host loads:
//   sqrt((cpu_weight × Var(CPU %) + mem_weight × Var(memory %)) / (cpu_weight + mem_weight))
// over hosts that are fresh, not excluded and not in maintenance at the start. Loads are percent of
// each host's own capacity, so hosts of different sizes compare.

export interface LoadSums {
  n: number;
  c1: number;
  c2: number;
  m1: number;
  m2: number;
}

export function loadSums(model: ClusterModel): LoadSums {
  const s: LoadSums = { n: 0, c1: 0, c2: 0, m1: 0, m2: 0 };
  for (const h of model.hosts) {
    if (!h.inBalance) continue;
    const c = model.cpuLoad(h);
    const m = model.memLoad(h);
    s.n += 1;
    s.c1 += c;
    s.c2 += c * c;
    s.m1 += m;
    s.m2 += m * m;
  }
  return s;
}

export function imbalanceOf(s: LoadSums, w: { cpu: number; mem: number }): number {
  if (s.n < 2) return 0;
  const vc = Math.max(0, s.c2 / s.n - (s.c1 / s.n) ** 2);
  const vm = Math.max(0, s.m2 / s.n - (s.m1 / s.n) ** 2);
  return Math.sqrt((w.cpu * vc + w.mem * vm) / (w.cpu + w.mem));
}

/** Imbalance computed afresh from the model (two-pass, numerically stable). */
export function imbalance(model: ClusterModel): number {
  const hs = model.hosts.filter((h) => h.inBalance);
  if (hs.length < 2) return 0;
  const cs = hs.map((h) => model.cpuLoad(h));
  const ms = hs.map((h) => model.memLoad(h));
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  const variance = (xs: number[]): number => {
    const mu = mean(xs);
    return xs.reduce((a, x) => a + (x - mu) * (x - mu), 0) / xs.length;
  };
  const w = model.weights;
  return Math.sqrt((w.cpu * variance(cs) + w.mem * variance(ms)) / (w.cpu + w.mem));
}

export function isOverloaded(model: ClusterModel, h: HostModel, loadThreshold: number, memThreshold: number): boolean {
  return model.cpuLoad(h) > loadThreshold || model.memLoad(h) > memThreshold;
}

export function countOverloaded(model: ClusterModel, loadThreshold: number, memThreshold: number): number {
  let n = 0;
  for (const h of model.hosts) if (h.fresh && !h.excluded && isOverloaded(model, h, loadThreshold, memThreshold)) n += 1;
  return n;
}

export interface Before {
  imbalance: number;
  overloaded: number;
  /** Hosts with live VMs (or incoming) at the start. */
  occupied: ReadonlySet<string>;
}

export function measureBefore(model: ClusterModel, loadThreshold: number, memThreshold: number): Before {
  return {
    imbalance: imbalance(model),
    overloaded: countOverloaded(model, loadThreshold, memThreshold),
    occupied: new Set(model.hosts.filter((h) => !model.isEmpty(h)).map((h) => h.id)),
  };
}

export function indicators(before: Before, model: ClusterModel, moves: readonly PlannedMove[], loadThreshold: number, memThreshold: number): Indicators {
  const sources = new Set(moves.map((m) => m.source));
  const hostsFreed = model.hosts.filter((h) => before.occupied.has(h.id) && sources.has(h.id) && model.isEmpty(h)).map((h) => h.id);
  let bytes = 0;
  for (const m of moves) bytes += Math.round((model.vmByName.get(m.vm)?.memMiB ?? 0) * 1048576);
  return {
    imbalanceBefore: r2(before.imbalance),
    imbalanceAfter: r2(imbalance(model)),
    hostsFreed,
    migrations: moves.length,
    bytesToMove: bytes,
    overloadedBefore: before.overloaded,
    overloadedAfter: countOverloaded(model, loadThreshold, memThreshold),
  };
}
