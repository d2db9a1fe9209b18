import { join } from "node:path";
import { simulate, type RunMetrics } from "./engine.js";
import { cloudSimPolicy } from "./policies/cloudsim/policy.js";
import type { CloudSimVariant } from "./policies/cloudsim/pabfd.js";
import { loadReference, referenceFile, type ReferenceRow } from "./reference.js";
import { loadTraceDir } from "./traces/load.js";

// Runs CloudSim baselines on PlanetLab days and compares them with CloudSim's own outputs.

export const PLANETLAB_DAYS = ["20110303", "20110306", "20110309", "20110322", "20110325", "20110403", "20110409", "20110411", "20110412", "20110420"] as const;

/** The bar: energy within 5 %, migrations within 10 %. */
export const CALIBRATION_BAR = { energy: 0.05, migrations: 0.1 } as const;

export interface CalibrationRow {
  day: string;
  policy: string;
  variant: CloudSimVariant;
  ours: RunMetrics;
  ref: ReferenceRow | undefined;
  energyRatio: number;
  migrationRatio: number;
  pass: boolean;
}

export function refPolicyKey(policy: string): { policy: string; parameter: string } {
  const [p, , param] = policy.toLowerCase().split("-");
  return { policy: p ?? "", parameter: param ?? "" };
}

export function findReference(rows: readonly ReferenceRow[], day: string, policy: string): ReferenceRow | undefined {
  const k = refPolicyKey(policy);
  return rows.find((r) => r.day === day && r.policy === k.policy && Number(r.parameter) === Number(k.parameter));
}

export function compare(day: string, policy: string, variant: CloudSimVariant, ours: RunMetrics, ref: ReferenceRow | undefined): CalibrationRow {
  const energyRatio = ref ? ours.energyKWh / ref.energyKWh : Number.NaN;
  const migrationRatio = ref ? ours.migrations / ref.migrations : Number.NaN;
  const pass = ref !== undefined && Math.abs(energyRatio - 1) <= CALIBRATION_BAR.energy && Math.abs(migrationRatio - 1) <= CALIBRATION_BAR.migrations;
  return { day, policy, variant, ours, ref, energyRatio, migrationRatio, pass };
}

export function calibrateOne(dataDir: string, day: string, policy: string, variant: CloudSimVariant): CalibrationRow {
  const traces = loadTraceDir(join(dataDir, "planetlab", day), "planetlab");
  const ours = simulate(traces, cloudSimPolicy(policy, variant));
  const ref = findReference(loadReference(join(dataDir, "cloudsim-reference-results", referenceFile(variant))), day, policy);
  return compare(day, policy, variant, ours, ref);
}

function f(x: number, d: number): string {
  return Number.isFinite(x) ? x.toFixed(d) : "-";
}

export function formatTable(rows: readonly CalibrationRow[]): string {
  const head =
    "| day | policy | variant | kWh ours | kWh CloudSim | ratio | migr. ours | migr. CloudSim | ratio | SLATAH ours | SLATAH CS | SLAV ours | SLAV CS | shutdowns ours/CS | CPU s | bar |";
  const sep = "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|";
  const lines = rows.map((r) => {
    const o = r.ours;
    const c = r.ref;
    return `| ${r.day} | ${r.policy} | ${r.variant} | ${f(o.energyKWh, 2)} | ${c ? f(c.energyKWh, 2) : "-"} | ${f(r.energyRatio, 4)} | ${o.migrations} | ${c?.migrations ?? "-"} | ${f(r.migrationRatio, 4)} | ${f(o.slatah * 100, 2)} % | ${c ? f(c.slatah * 100, 2) + " %" : "-"} | ${o.slav.toExponential(2)} | ${c ? c.slav.toExponential(2) : "-"} | ${o.hostShutdowns}/${c?.hostShutdowns ?? "-"} | ${f(o.cpuMs / 1000, 1)} | ${r.pass ? "ok" : "MISS"} |`;
  });
  return [head, sep, ...lines].join("\n");
}
