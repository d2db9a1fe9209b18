import { basename, join } from "node:path";
import { writeFileSync, mkdirSync } from "node:fs";
import { parseArgs } from "node:util";
import { simulate } from "./engine.js";
import { CLOUDSIM_BASELINES, cloudSimPolicy } from "./policies/cloudsim/policy.js";
import type { CloudSimVariant } from "./policies/cloudsim/pabfd.js";
import { writeMetricsJson, type RunRecord } from "./report/metrics-json.js";
import { energySlavSvg, migrationsPerHourSvg } from "./report/svg.js";
import { loadTraceDir } from "./traces/load.js";
import type { TraceFormat } from "./traces/parse.js";

// Runs CloudSim baselines on one or more trace folders and writes metrics JSON and SVG plots.
//   node dist/sim/run.js --format planetlab|cpu-mem --dir <folder>[,<folder>...]
//        [--policies thr-mmt-0.8,lr-mmt-1.2,iqr-mmt-1.5,mad-mmt-2.5] [--variant 303|prefix]
//        [--out sim-out] [--limit N]

const { values } = parseArgs({
  options: {
    format: { type: "string", default: "planetlab" },
    dir: { type: "string" },
    policies: { type: "string", default: Object.keys(CLOUDSIM_BASELINES).join(",") },
    variant: { type: "string", default: "303" },
    out: { type: "string", default: "sim-out" },
    limit: { type: "string" },
  },
});
if (!values.dir) throw new Error("--dir is required");
if (values.format !== "planetlab" && values.format !== "cpu-mem") throw new Error(`--format: planetlab or cpu-mem, not ${values.format}`);
if (values.variant !== "303" && values.variant !== "prefix") throw new Error(`--variant: 303 or prefix, not ${values.variant}`);
const format = values.format as TraceFormat;
const variant = values.variant as CloudSimVariant;

const runs: RunRecord[] = [];
for (const dir of values.dir.split(",")) {
  const traces = loadTraceDir(dir, format, values.limit ? { limit: Number(values.limit) } : {});
  for (const p of values.policies.split(",")) {
    const policy = cloudSimPolicy(p, variant);
    const m = simulate(traces, policy);
    runs.push({ workload: basename(dir), policy: policy.name, metrics: m });
    console.log(
      `${basename(dir)} ${policy.name}: ${m.energyKWh.toFixed(2)} kWh, ${m.migrations} migrations, SLATAH ${(m.slatah * 100).toFixed(2)} %, PDM ${(m.pdm * 100).toFixed(3)} %, SLAV ${m.slav.toExponential(2)}, ESV ${m.esv.toExponential(2)}, ${(m.cpuMs / 1000).toFixed(1)} s CPU`,
    );
  }
}
mkdirSync(values.out, { recursive: true });
writeMetricsJson(join(values.out, "metrics.json"), runs);
writeFileSync(
  join(values.out, "energy-vs-slav.svg"),
  energySlavSvg(runs.map((r) => ({ policy: r.policy, workload: r.workload, energyKWh: r.metrics.energyKWh, slav: r.metrics.slav }))),
);
writeFileSync(
  join(values.out, "migrations-per-hour.svg"),
  migrationsPerHourSvg(runs.map((r) => ({ label: `${r.policy} ${r.workload}`, perHour: r.metrics.migrationsPerHour }))),
);
console.log(`wrote ${values.out}/metrics.json, energy-vs-slav.svg, migrations-per-hour.svg`);
