import { basename, join } from "node:path";
import type { PolicyInput } from "../shared/config/policy.js";
import { simulate, type PowerMetrics, type RunMetrics } from "./engine.js";
import { DEFAULT_BOOT_TIME_S, DEFAULT_SHUTDOWN_TIME_S, type BootModel, type BootModelOptions } from "./model/host-power.js";
import { CLOUDSIM_DATACENTRE, HOST_G4, HOST_G5, type DataCentreSpec, type HostType, type VmType } from "./model/datacentre.js";
import { ballastPolicy, type MemoryModel } from "./policies/ballast.js";
import { CLOUDSIM_BASELINES, CloudSimPolicy } from "./policies/cloudsim/policy.js";
import type { CloudSimVariant } from "./policies/cloudsim/pabfd.js";
import type { ConsolidationPolicy } from "./policies/policy.js";
import type { RunRecord } from "./report/metrics-json.js";
import { loadTraceDirs } from "./traces/load.js";
import type { TraceFormat, VmTrace } from "./traces/parse.js";

// One simulator run by name, and the Ballast-vs-baselines comparison (tables, medians, goals).
// The entry point of `bin/ballast sim` (runSim) and of sim/compare.ts.

/** The comparison target of issue 5: LR-MMT-1.2, pre-fix variant, median over the ten days. */
export const TARGET = { policy: "LR-MMT-1.2 (pre-fix)", energyKWh: 111.1, migrations: 14_071, esv: 2.3e-3 } as const;

export const HOST_TYPES: Readonly<Record<string, HostType>> = { g4: HOST_G4, g5: HOST_G5 };

export interface SimRunOptions {
  /** Trace folder. */
  dir: string;
  /** More folders after `dir` (days in order): one continuous run, VMs joined by file name. */
  moreDirs?: readonly string[];
  /** With several folders, keep only the VMs present in all of them (else an error when the sets differ). */
  commonVms?: boolean;
  format: TraceFormat;
  /** "ballast" or a CloudSim baseline: thr-mmt-0.8, lr-mmt-1.2, iqr-mmt-1.5, mad-mmt-2.5; a "+mem" suffix (thr-mmt-0.8+mem) makes it two-resource (memory threshold = the CPU one for THR, else 0.8). */
  policy: string;
  /** CloudSim variant of the baselines, and Ballast's initial placement. Default "prefix". */
  variant?: CloudSimVariant;
  /** Step length (scheduling/decision interval), seconds. Default 300. */
  step?: number;
  /** Spacing of the trace's samples, seconds. Default 300 (PlanetLab and GCD). */
  sampleInterval?: number;
  /**
   * CloudSim's rule: a VM whose CPU demand is exactly 0 is finished and removed for good. Default:
   * on for planetlab (it is what CloudSim does, so calibration needs it), off for cpu-mem (a VM at
   * 0 % CPU still holds its memory; GCD's CPU never reaches 0, so it changes nothing there).
   */
  removeIdleVms?: boolean;
  /** Run even if some VMs fit on no host at t = 0 (they are counted, not simulated). */
  allowUnplaced?: boolean;
  /** One VM type per VM (overrides vmTypes), e.g. from sizing.ts. */
  vmTypesPerVm?: readonly VmType[];
  /** Number of hosts. Default 800. */
  hosts?: number;
  /** Host types by name (g4, g5), host i gets type i mod n. Default g4,g5. */
  hostTypes?: readonly string[];
  /** VM types as MIPS:RAM-MB pairs; VM i gets type floor(i / ceil(N / n)). Default CloudSim's four. */
  vmTypes?: readonly string[];
  /** Ballast policy keys on top of the simulator's mapping of the production defaults. */
  ballastPolicy?: PolicyInput;
  /** Ballast's memory model. Default "ignore" for planetlab, "model" for cpu-mem. */
  memory?: MemoryModel;
  /** Keep only the first N trace files. */
  limit?: number;
  /** Stop after N steps. */
  maxSteps?: number;
  /** Power model: instant (CloudSim's, the default) or boot (model/host-power.ts). */
  bootModel?: BootModel;
  /** Boot model: power-on to able to receive VMs, seconds. Default 300. */
  bootTimeS?: number;
  /** Boot model: power-off to drawing nothing, seconds. Default 30. */
  shutdownTimeS?: number;
}

/** The run's power model with its defaults filled in. */
export function bootModelOf(o: Pick<SimRunOptions, "bootModel" | "bootTimeS" | "shutdownTimeS">): BootModelOptions {
  if ((o.bootModel ?? "instant") === "instant") return { model: "instant", bootTimeS: 0, shutdownTimeS: 0 };
  return { model: "boot", bootTimeS: o.bootTimeS ?? DEFAULT_BOOT_TIME_S, shutdownTimeS: o.shutdownTimeS ?? DEFAULT_SHUTDOWN_TIME_S };
}

export function parseVmTypes(list: readonly string[]): VmType[] {
  return list.map((s, i) => {
    const m = /^(\d+(?:\.\d+)?):(\d+(?:\.\d+)?)$/.exec(s.trim());
    if (!m) throw new Error(`VM type "${s}": expected MIPS:RAM_MB, e.g. 2500:870`);
    return { name: `vm-${i}-${m[1]}-${m[2]}`, mips: Number(m[1]), ramMb: Number(m[2]), bwKbit: 100_000 };
  });
}

export function specOf(o: Pick<SimRunOptions, "hosts" | "hostTypes" | "vmTypes" | "vmTypesPerVm">): DataCentreSpec {
  const hostTypes = (o.hostTypes ?? ["g4", "g5"]).map((n) => {
    const t = HOST_TYPES[n.toLowerCase()];
    if (!t) throw new Error(`host type ${n}: known ${Object.keys(HOST_TYPES).join(", ")}`);
    return t;
  });
  return {
    hostCount: o.hosts ?? CLOUDSIM_DATACENTRE.hostCount,
    hostTypes,
    vmTypes: o.vmTypes ? parseVmTypes(o.vmTypes) : CLOUDSIM_DATACENTRE.vmTypes,
    ...(o.vmTypesPerVm ? { vmTypesPerVm: o.vmTypesPerVm } : {}),
  };
}

/** Builds the named policy. */
export function policyByName(
  name: string,
  o: Partial<Pick<SimRunOptions, "variant" | "step" | "sampleInterval" | "ballastPolicy" | "memory" | "format" | "bootModel" | "bootTimeS" | "shutdownTimeS">>,
): ConsolidationPolicy {
  const variant = o.variant ?? "prefix";
  const step = o.step ?? 300;
  const n = name.toLowerCase();
  if (n === "ballast")
    return ballastPolicy(step, {
      policy: o.ballastPolicy ?? {},
      memory: o.memory ?? (o.format === "cpu-mem" ? "model" : "ignore"),
      initialPlacement: variant,
      bootModel: bootModelOf(o),
      sampleIntervalS: o.sampleInterval ?? 300,
    });
  const [base, extra] = n.split("+");
  const b = CLOUDSIM_BASELINES[base ?? ""];
  if (!b) throw new Error(`unknown policy ${name}; known: ballast, ${Object.keys(CLOUDSIM_BASELINES).join(", ")} (+mem for two resources)`);
  if (extra !== undefined && extra !== "mem") throw new Error(`unknown policy suffix +${extra} (only +mem)`);
  return new CloudSimPolicy({
    ...b,
    variant,
    interval: step,
    ...(extra === "mem" ? { memoryThreshold: b.detector === "thr" ? b.parameter : 0.8 } : {}),
  });
}

/** The traces of a run: one folder, or several joined into one continuous trace per VM. */
export function loadRunTraces(o: Pick<SimRunOptions, "dir" | "moreDirs" | "format" | "limit" | "commonVms">): VmTrace[] {
  return loadTraceDirs([o.dir, ...(o.moreDirs ?? [])], o.format, {
    ...(o.limit !== undefined ? { limit: o.limit } : {}),
    ...(o.commonVms ? { commonVms: true } : {}),
  }).traces;
}

/** The workload label of a run: the folder name, or the folder names joined by "+". */
export function workloadOf(o: Pick<SimRunOptions, "dir" | "moreDirs">): string {
  return [o.dir, ...(o.moreDirs ?? [])].map((d) => basename(d)).join("+");
}

/** One run: the function behind `bin/ballast sim`. */
export function runSim(o: SimRunOptions, traces?: readonly VmTrace[]): RunRecord {
  const t = traces ?? loadRunTraces(o);
  const policy = policyByName(o.policy, o);
  const metrics = simulate(t, policy, {
    interval: o.step ?? 300,
    sampleInterval: o.sampleInterval ?? 300,
    removeIdleVms: o.removeIdleVms ?? o.format === "planetlab",
    allowUnplaced: o.allowUnplaced ?? false,
    spec: specOf(o),
    ...(o.maxSteps !== undefined ? { maxSteps: o.maxSteps } : {}),
    ...powerOptions(bootModelOf(o)),
  });
  return { workload: workloadOf(o), policy: policy.name, metrics };
}

function powerOptions(b: BootModelOptions): { bootModel: BootModel; bootTimeS?: number; shutdownTimeS?: number } {
  return b.model === "instant" ? { bootModel: "instant" } : { bootModel: "boot", bootTimeS: b.bootTimeS, shutdownTimeS: b.shutdownTimeS };
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export interface Summary {
  policy: string;
  runs: number;
  energyKWh: number;
  migrations: number;
  slatah: number;
  pdm: number;
  slav: number;
  esv: number;
  hostShutdowns: number;
  /** Absent unless every run simulated memory. */
  memOverCapacityShare?: number;
  meanHostCpuStdDev: number;
  meanHostMemStdDev?: number;
  cpuS: number;
}

/** Medians over runs of one policy. */
export function summarise(policy: string, ms: readonly RunMetrics[]): Summary {
  const m = (f: (x: RunMetrics) => number) => median(ms.map(f));
  const withMem = ms.length > 0 && ms.every((x) => x.memorySimulated);
  return {
    policy,
    runs: ms.length,
    energyKWh: m((x) => x.energyKWh),
    migrations: m((x) => x.migrations),
    slatah: m((x) => x.slatah),
    pdm: m((x) => x.pdm),
    slav: m((x) => x.slav),
    esv: m((x) => x.esv),
    hostShutdowns: m((x) => x.hostShutdowns),
    ...(withMem ? { memOverCapacityShare: m((x) => x.memOverCapacityShare ?? 0), meanHostMemStdDev: m((x) => x.meanHostMemStdDev ?? 0) } : {}),
    meanHostCpuStdDev: m((x) => x.meanHostCpuStdDev),
    cpuS: m((x) => x.cpuMs / 1000),
  };
}

export interface GoalVerdict {
  esv: { value: number; limit: number; met: boolean };
  migrations: { value: number; limit: number; met: boolean };
  energy: { value: number; limit: number; met: boolean };
}

/** Issue 5's PlanetLab goal for a policy's medians. */
export function planetLabGoal(s: Summary): GoalVerdict {
  const limits = { esv: TARGET.esv, migrations: TARGET.migrations / 2, energy: TARGET.energyKWh * 1.1 };
  return {
    esv: { value: s.esv, limit: limits.esv, met: s.esv <= limits.esv },
    migrations: { value: s.migrations, limit: limits.migrations, met: s.migrations <= limits.migrations },
    energy: { value: s.energyKWh, limit: limits.energy, met: s.energyKWh <= limits.energy },
  };
}

const pct = (x: number, d = 2) => `${(x * 100).toFixed(d)} %`;
const e2 = (x: number) => x.toExponential(2);
/** A metric that may not apply (memory on a CPU-only trace): "-" rather than a misleading number. */
const pctOpt = (x: number | undefined, d = 2) => (x === undefined ? "-" : pct(x, d));
const hoursOpt = (s: number | undefined, d: number) => (s === undefined ? "-" : `${(s / 3600).toFixed(d)} host-h`);

export function metricsRow(
  label: string,
  m: Pick<RunMetrics, "energyKWh" | "migrations" | "slatah" | "pdm" | "slav" | "esv" | "hostShutdowns">,
  extra: string[] = [],
): string {
  return `| ${label} | ${m.energyKWh.toFixed(2)} | ${Math.round(m.migrations)} | ${pct(m.slatah)} | ${pct(m.pdm, 4)} | ${e2(m.slav)} | ${e2(m.esv)} | ${Math.round(m.hostShutdowns)} |${extra.map((x) => ` ${x} |`).join("")}`;
}

export const METRICS_HEAD = "| kWh | migrations | SLATAH | PDM | SLAV | ESV | host shutdowns |";

/** Per-day and median table of several policies on the same days. */
export function comparisonTable(runs: readonly RunRecord[], policies: readonly string[]): string {
  const days = [...new Set(runs.map((r) => r.workload))];
  const lines = [`| day | policy ${METRICS_HEAD} CPU s |`, `|---|---|---|---|---|---|---|---|---|---|`];
  for (const d of days)
    for (const p of policies) {
      const r = runs.find((x) => x.workload === d && x.policy === p);
      if (r) lines.push(metricsRow(`${d} | ${p}`, r.metrics, [(r.metrics.cpuMs / 1000).toFixed(1)]));
    }
  for (const p of policies) {
    const s = summarise(
      p,
      runs.filter((r) => r.policy === p).map((r) => r.metrics),
    );
    lines.push(metricsRow(`**median** | **${p}**`, s, [s.cpuS.toFixed(1)]));
  }
  return lines.join("\n");
}

export function goalTable(s: Summary): string {
  const g = planetLabGoal(s);
  const yes = (b: boolean) => (b ? "**met**" : "**not met**");
  return [
    `| goal (median over the days, vs ${TARGET.policy}) | Ballast | limit | verdict |`,
    `|---|---|---|---|`,
    `| ESV at most LR's (${e2(TARGET.esv)}) | ${e2(g.esv.value)} | ≤ ${e2(g.esv.limit)} | ${yes(g.esv.met)} |`,
    `| at most half its migrations (${TARGET.migrations}) | ${Math.round(g.migrations.value)} | ≤ ${Math.round(g.migrations.limit)} | ${yes(g.migrations.met)} |`,
    `| energy at most 10 % above (${TARGET.energyKWh} kWh) | ${g.energy.value.toFixed(1)} kWh (${((g.energy.value / TARGET.energyKWh - 1) * 100).toFixed(1)} %) | ≤ ${g.energy.limit.toFixed(1)} kWh | ${yes(g.energy.met)} |`,
  ].join("\n");
}

/** Two-resource table: overload (memory over capacity) time, migrations, energy, load spread. */
export function twoResourceTable(runs: readonly RunRecord[]): string {
  const lines = [
    `| workload | policy | kWh | migrations | memory over capacity (host time) | SLATAH | SLAV | std-dev host CPU | std-dev host memory | host shutdowns |`,
    `|---|---|---|---|---|---|---|---|---|---|`,
  ];
  for (const r of runs) {
    const m = r.metrics;
    lines.push(
      `| ${r.workload} | ${r.policy} | ${m.energyKWh.toFixed(2)} | ${m.migrations} | ${pctOpt(m.memOverCapacityShare, 4)} (${hoursOpt(m.memOverCapacityHostS, 3)}) | ${pct(m.slatah)} | ${e2(m.slav)} | ${pct(m.meanHostCpuStdDev, 1)} | ${pctOpt(m.meanHostMemStdDev, 1)} | ${m.hostShutdowns} |`,
    );
  }
  return lines.join("\n");
}

/** Overload time on either resource: `a`'s upper bound (the sum) is below `b`'s lower bound (the larger share). */
export function twoResourceOverloadLess(
  a: Pick<RunMetrics, "slatah" | "memOverCapacityShare">,
  b: Pick<RunMetrics, "slatah" | "memOverCapacityShare">,
): boolean {
  return a.slatah + (a.memOverCapacityShare ?? 0) < Math.max(b.slatah, b.memOverCapacityShare ?? 0);
}

/** Issue 5's two-resource goal against THR-MMT with a memory threshold: less overload time, fewer migrations, no more energy. */
export function twoResourceGoalTable(ballast: RunMetrics, thr: RunMetrics, thrName: string): string {
  const yes = (b: boolean) => (b ? "**met**" : "**not met**");
  const over = (m: RunMetrics) =>
    `SLATAH ${pct(m.slatah)}, memory over capacity ${pctOpt(m.memOverCapacityShare, 4)} (${Math.round(m.memOverCapacityHostS ?? 0)} host-s)`;
  // Overload time is the share of active host time a host is overloaded on either resource: CPU
  // at 100 % (SLATAH) or memory over capacity. Per host and second the two may overlap, so the
  // sum is an upper bound of it and the larger one a lower bound: Ballast's bound must be below
  // the baseline's, whichever way the overlaps fall.
  const less = twoResourceOverloadLess(ballast, thr);
  return [
    `| goal (GCD, vs ${thrName}) | Ballast | ${thrName} | verdict |`,
    `|---|---|---|---|`,
    `| less overload time (CPU at 100 % or memory over capacity, share of active host time) | ${over(ballast)} | ${over(thr)} | ${yes(less)} |`,
    `| fewer migrations | ${ballast.migrations} | ${thr.migrations} | ${yes(ballast.migrations < thr.migrations)} |`,
    `| no more energy | ${ballast.energyKWh.toFixed(1)} kWh (${((ballast.energyKWh / thr.energyKWh - 1) * 100).toFixed(1)} %) | ${thr.energyKWh.toFixed(1)} kWh | ${yes(ballast.energyKWh <= thr.energyKWh)} |`,
  ].join("\n");
}

export const planetLabDir = (data: string, day: string) => join(data, "planetlab", day);

/** How many VMs ran, were never placed, and were removed as finished (and whether that rule was on). */
export function vmLine(m: Pick<RunMetrics, "vms" | "vmsUnplaced" | "vmsRemoved" | "removeIdleVms">): string {
  const unplaced = m.vmsUnplaced ?? 0;
  const placed = m.vms - unplaced;
  const head = unplaced > 0 ? `${placed} of ${m.vms} VMs placed (${unplaced} fit on no host at t = 0 and were not simulated)` : `${m.vms} VMs placed`;
  const rule =
    m.removeIdleVms === false
      ? "VMs at 0 % CPU kept (--no-remove-idle, the cpu-mem default: such a VM still holds its memory)"
      : `${m.vmsRemoved} removed for good when their CPU demand reached exactly 0 (CloudSim's finished-VM rule, --remove-idle)`;
  return `${head}; ${rule}`;
}

/** The power model of a run and its switchings, on one line. */
export function powerLine(p: PowerMetrics): string {
  const model =
    p.model === "instant"
      ? "instant switching (CloudSim's: an idle host is off at 0 W; its implicit switchings counted)"
      : `boot model (${p.bootTimeS} s boot, ${p.shutdownTimeS} s shutdown, ${p.switchingEnergyKWh.toFixed(2)} kWh of it drawn switching)`;
  const extra =
    p.model === "boot"
      ? `; ${p.waitedMigrations} migrations waited for a boot, ${p.refusedMigrations} refused (host not on), ${p.refusedPowerActions} power actions refused`
      : "";
  return `power: ${model}; ${p.powerOns} power-ons, ${p.powerOffs} power-offs; power cycles per host and day: median ${p.cyclesPerHostDayMedian.toFixed(2)} (over the ${p.hostsCycled} hosts cycled: ${p.cyclesPerCycledHostDayMedian.toFixed(2)}), max ${p.cyclesPerHostDayMax}${extra}`;
}

/** One run as human-readable lines (the non---json output of `bin/ballast sim`). */
export function formatRun(r: RunRecord): string {
  const m = r.metrics;
  const lines = [
    `${r.workload} ${r.policy}: ${m.energyKWh.toFixed(2)} kWh, ${m.migrations} migrations, ${m.hostShutdowns} host shutdowns`,
    `  SLATAH ${pct(m.slatah)}, PDM ${pct(m.pdm, 4)}, SLAV ${e2(m.slav)}, ESV ${e2(m.esv)}`,
  ];
  if (m.memorySimulated)
    lines.push(
      `  memory over capacity ${pctOpt(m.memOverCapacityShare, 3)} of host time (${hoursOpt(m.memOverCapacityHostS, 1)}), std-dev of host load CPU ${pct(m.meanHostCpuStdDev, 1)} / memory ${pctOpt(m.meanHostMemStdDev, 1)}`,
    );
  else lines.push(`  memory not simulated (CPU-only trace): no memory metrics`);
  if (m.power) lines.push(`  ${powerLine(m.power)}`);
  lines.push(`  ${m.hosts} hosts, ${vmLine(m)}`);
  lines.push(
    `  ${m.steps} steps of ${m.stepS} s over ${(m.durationS / 3600).toFixed(1)} h (samples every ${m.sampleIntervalS} s), ${(m.cpuMs / 1000).toFixed(1)} s CPU`,
  );
  return lines.join("\n");
}
