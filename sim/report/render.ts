import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { comparisonTable, twoResourceTable } from "../comparison.js";
import type { MetricsDocument, RunRecord } from "./metrics-json.js";
import { powerTable } from "./power-table.js";
import { ratioTable } from "./ratios.js";
import { energySlavSvg, migrationsPerHourSvg } from "./svg.js";

// `bin/ballast sim report`: metrics JSON (from `bin/ballast sim --json` or sim/compare.ts) in, a
// Markdown table and two SVG plots out.

export interface RenderedReport {
  /** The Markdown table (also written to outDir/report.md). */
  table: string;
  /** Files written. */
  files: string[];
}

export function readRuns(path: string): RunRecord[] {
  const doc = JSON.parse(readFileSync(path, "utf8")) as MetricsDocument | RunRecord | RunRecord[];
  if (Array.isArray(doc)) return doc;
  if ("runs" in doc) return doc.runs;
  return [doc];
}

export interface ReportOptions {
  /** Policy to compare every run with, run by run (see ratios.ts). */
  baseline?: string;
}

export function renderReport(metricsPaths: readonly string[], outDir: string, opts: ReportOptions = {}): RenderedReport {
  const runs = metricsPaths.flatMap(readRuns);
  const policies = [...new Set(runs.map((r) => r.policy))];
  const twoResource = runs.some((r) => r.metrics.memorySimulated ?? (r.metrics.meanHostMemStdDev ?? 0) > 0);
  const withPower = runs.some((r) => r.metrics.power !== undefined);
  const table =
    comparisonTable(runs, policies) +
    (twoResource ? "\n\n" + twoResourceTable(runs) : "") +
    (withPower ? "\n\n" + powerTable(runs) : "") +
    (opts.baseline ? "\n\n" + ratioTable(runs, opts.baseline) : "");
  mkdirSync(outDir, { recursive: true });
  const files = [join(outDir, "report.md"), join(outDir, "energy-vs-slav.svg"), join(outDir, "migrations-per-hour.svg")];
  writeFileSync(files[0]!, table + "\n");
  writeFileSync(files[1]!, energySlavSvg(runs.map((r) => ({ policy: r.policy, workload: r.workload, energyKWh: r.metrics.energyKWh, slav: r.metrics.slav }))));
  writeFileSync(files[2]!, migrationsPerHourSvg(runs.map((r) => ({ label: `${r.policy} ${r.workload}`, perHour: r.metrics.migrationsPerHour }))));
  return { table, files };
}
