import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import type { RunMetrics } from "../engine.js";

// Metrics of simulation runs as one JSON document (stable key order, schema version).

export interface RunRecord {
  /** Trace set, e.g. a PlanetLab day or "gcd". */
  workload: string;
  policy: string;
  metrics: RunMetrics;
}

export interface MetricsDocument {
  v: 1;
  generatedBy: "ballast-sim";
  runs: RunRecord[];
}

export function metricsDocument(runs: readonly RunRecord[]): MetricsDocument {
  return { v: 1, generatedBy: "ballast-sim", runs: runs.map((r) => ({ ...r, metrics: { ...r.metrics } })) };
}

export function toMetricsJson(runs: readonly RunRecord[]): string {
  return JSON.stringify(metricsDocument(runs), null, 2) + "\n";
}

export function writeMetricsJson(path: string, runs: readonly RunRecord[]): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, toMetricsJson(runs));
}
