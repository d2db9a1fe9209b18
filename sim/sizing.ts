import { Simulation } from "./engine.js";
import type { DataCentreSpec, VmType } from "./model/datacentre.js";
import type { ConsolidationPolicy } from "./policies/policy.js";
import type { VmTrace } from "./traces/parse.js";

// VM sizings for traces that give utilisation in percent of an unknown VM size (the GCD cpu-mem
// set). Results depend on the sizing chosen, so `ballast sim sweep` runs several:
// - file-order: CloudSim's four VM types by file order (VM i of N gets type floor(i / ceil(N / 4))).
// - own-trace: each VM sized to its own peak. The percentages are read as shares of one reference
//   VM, CloudSim's largest type's numbers (2500 MIPS, 1740 MB; the GCD README: "percent of the VM
//   size you assign"): the VM gets MIPS = peak CPU × 2500 and RAM = peak memory × 1740, and its
//   utilisation is rescaled to that size (u / peak), so its absolute demand stays u × reference.
//   What changes is what a size governs: the full-MIPS request at t = 0, RAM reserved, copy time.
// - fewest-hosts: file-order types on the fewest hosts on which every compared policy's initial
//   placement places every VM (binary search; host i keeps type i mod the host types). With
//   CloudSim's types on G4/G5 hosts that is all 800 for GCD: a VM asks for its full MIPS at t = 0,
//   2000 and 2500 MIPS fit only a G5 core, two per G5, and half the hosts are G5.
// - own-trace-fewest-hosts: own-trace sizes on the fewest hosts that place every VM.

export const SIZINGS = ["file-order", "own-trace", "fewest-hosts", "own-trace-fewest-hosts"] as const;
export type Sizing = (typeof SIZINGS)[number];

export class SizingError extends Error {
  override readonly name = "SizingError";
}

export function isSizing(s: string): s is Sizing {
  return (SIZINGS as readonly string[]).includes(s);
}

/** The reference VM of the own-trace sizing. */
export const REFERENCE_VM = { mips: 2500, ramMb: 1740 } as const;

function peak(xs: Float64Array): number {
  let m = 0;
  for (const x of xs) if (x > m) m = x;
  return m;
}

function scaled(xs: Float64Array, by: number): Float64Array {
  const out = new Float64Array(xs.length);
  for (let i = 0; i < xs.length; i++) out[i] = xs[i]! / by;
  return out;
}

/** The own-trace sizing: one type per VM and the traces rescaled to those sizes (utilisation of the VM's own peak). */
export function ownTraceSizing(traces: readonly VmTrace[]): { traces: VmTrace[]; types: VmType[] } {
  const types: VmType[] = [];
  const out = traces.map((t) => {
    // a VM that never uses anything still exists: give it 1 % of the reference
    const pc = Math.max(0.01, peak(t.cpu));
    const pm = t.mem ? Math.max(0.01, peak(t.mem)) : 1;
    const mips = pc * REFERENCE_VM.mips;
    const ramMb = pm * REFERENCE_VM.ramMb;
    types.push({ name: `own-${Math.round(mips)}-${Math.round(ramMb)}`, mips, ramMb, bwKbit: 100_000 });
    return t.mem ? { name: t.name, cpu: scaled(t.cpu, pc), mem: scaled(t.mem, pm) } : { name: t.name, cpu: scaled(t.cpu, pc) };
  });
  return { traces: out, types };
}

/** VMs the policy's initial placement leaves without a host on `spec`. */
export function unplacedAt(traces: readonly VmTrace[], spec: DataCentreSpec, policy: ConsolidationPolicy): number {
  const sim = new Simulation(traces, { spec, allowUnplaced: true });
  return policy.initialPlacement(sim.view()).filter((h) => h < 0 || h >= spec.hostCount).length;
}

/**
 * The fewest hosts (at most spec.hostCount) on which each policy made by `policies` places every
 * VM at t = 0. Binary search: placement is assumed monotone in the host count (true of PABFD:
 * hosts are only added at the end).
 */
export function fewestHosts(traces: readonly VmTrace[], spec: DataCentreSpec, policies: readonly (() => ConsolidationPolicy)[]): number {
  const fits = (n: number) => policies.every((p) => unplacedAt(traces, { ...spec, hostCount: n }, p()) === 0);
  if (!fits(spec.hostCount)) throw new SizingError(`even ${spec.hostCount} hosts do not place every VM`);
  let lo = 1;
  let hi = spec.hostCount;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (fits(mid)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}
