import { loadRunTraces, policyByName, runSim, specOf, workloadOf, type SimRunOptions } from "./comparison.js";
import type { RunRecord } from "./report/metrics-json.js";
import { ratioTable } from "./report/ratios.js";
import { fewestHosts, ownTraceSizing, type Sizing } from "./sizing.js";

// `ballast sim sweep`: the same trace under several VM sizings (sizing.ts), every policy on each,
// as one table. A result that holds on one sizing only is a result about that sizing.

export interface SweepOptions extends Omit<SimRunOptions, "policy" | "vmTypesPerVm"> {
  policies: readonly string[];
  sizings: readonly Sizing[];
  /** Policy name for the ratio table (see report/ratios.ts). */
  baseline?: string;
  /** Progress lines (one per run). */
  log?: (line: string) => void;
}

export interface SweepResult {
  runs: RunRecord[];
  /** Per-sizing table, and the ratio table when a baseline was given. */
  table: string;
}

export function runSweep(o: SweepOptions): SweepResult {
  const traces = loadRunTraces(o);
  const base = workloadOf(o);
  const runs: RunRecord[] = [];
  const rows: string[] = [];
  for (const sizing of o.sizings) {
    const { policies, sizings, baseline, log, ...common } = o;
    void sizings;
    void baseline;
    let run: Omit<SimRunOptions, "policy"> = common;
    let input = traces;
    let types = o.vmTypes ? `--vm-types ${o.vmTypes.join(",")} by file order` : "CloudSim's four by file order";
    if (sizing === "own-trace" || sizing === "own-trace-fewest-hosts") {
      const own = ownTraceSizing(traces);
      input = own.traces;
      run = { ...common, vmTypesPerVm: own.types };
      types = "per VM: its own CPU and memory peaks (of 2500 MIPS, 1740 MB)";
    }
    if (sizing === "fewest-hosts" || sizing === "own-trace-fewest-hosts") {
      const r = run;
      const hosts = fewestHosts(
        input,
        specOf(r),
        policies.map((p) => () => policyByName(p, r)),
      );
      run = { ...run, hosts };
    }
    const hosts = run.hosts ?? 800;
    for (const p of policies) {
      const rec = runSim({ ...run, policy: p }, input);
      const r: RunRecord = { ...rec, workload: `${base} [${sizing}]` };
      runs.push(r);
      const m = r.metrics;
      log?.(`${r.workload} ${r.policy}: ${m.energyKWh.toFixed(2)} kWh, ${m.migrations} migrations, ${(m.cpuMs / 1000).toFixed(1)} s CPU`);
      rows.push(
        `| ${sizing} | ${hosts} | ${types} | ${r.policy} | ${m.energyKWh.toFixed(2)} | ${m.migrations} | ${(m.slatah * 100).toFixed(2)} % | ${m.esv.toExponential(2)} | ${m.memOverCapacityHostS === undefined ? "-" : Math.round(m.memOverCapacityHostS)} | ${m.vmsUnplaced} |`,
      );
    }
  }
  const table = [
    `| sizing | hosts | VM types | policy | kWh | migrations | SLATAH | ESV | memory over capacity, host-s | VMs not placed |`,
    `|---|---|---|---|---|---|---|---|---|---|`,
    ...rows,
  ].join("\n");
  return { runs, table: o.baseline ? `${table}\n\n${ratioTable(runs, o.baseline)}` : table };
}
