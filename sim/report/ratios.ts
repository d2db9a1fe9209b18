import type { RunMetrics } from "../engine.js";
import type { RunRecord } from "./metrics-json.js";

// Per-run ratios against a chosen baseline, and how many runs (days, sizings) each goal holds on.
// Medians of different days hide losing days: a policy can win on the median energy and still use
// more than the baseline on most days, so the verdict is counted run by run.

export class ReportError extends Error {
  override readonly name = "ReportError";
}

export interface Goal {
  readonly label: string;
  holds(run: RunMetrics, base: RunMetrics): boolean;
}

/** Issue 16's PlanetLab goal, per day: energy ≤ baseline + 5 %, ESV ≤ baseline's, at most half its migrations. */
export const CPU_GOALS: readonly Goal[] = [
  { label: "energy ≤ +5 %", holds: (r, b) => r.energyKWh <= b.energyKWh * 1.05 },
  { label: "ESV ≤", holds: (r, b) => r.esv <= b.esv },
  { label: "migrations ≤ ½", holds: (r, b) => r.migrations <= b.migrations / 2 },
];

/** Issue 16's two-resource goal, per run: no time over memory capacity, energy and SLATAH ≤ baseline's, at most a quarter of its migrations. */
export const MEMORY_GOALS: readonly Goal[] = [
  { label: "0 host-s over memory", holds: (r) => (r.memOverCapacityHostS ?? 0) === 0 },
  { label: "energy ≤", holds: (r, b) => r.energyKWh <= b.energyKWh },
  { label: "SLATAH ≤", holds: (r, b) => r.slatah <= b.slatah },
  { label: "migrations ≤ ¼", holds: (r, b) => r.migrations <= b.migrations / 4 },
];

/** The baseline's policy name: exact (case-insensitive) or the only one that starts with `name`. */
export function resolveBaseline(runs: readonly RunRecord[], name: string): string {
  const policies = [...new Set(runs.map((r) => r.policy))];
  const n = name.toLowerCase();
  const exact = policies.find((p) => p.toLowerCase() === n);
  if (exact) return exact;
  const pre = policies.filter((p) => p.toLowerCase().startsWith(n));
  if (pre.length === 1) return pre[0]!;
  throw new ReportError(
    pre.length === 0 ? `no policy named ${name} in the runs; policies: ${policies.join(", ")}` : `baseline ${name} is ambiguous: ${pre.join(", ")}`,
  );
}

const ratio = (a: number, b: number) => (b > 0 ? (a / b).toFixed(3) : a === 0 ? "1.000" : "∞");

/** Day × policy table of ratios to the baseline on the same day, then the goal counts per policy. */
export function ratioTable(runs: readonly RunRecord[], baselineName: string): string {
  const baseline = resolveBaseline(runs, baselineName);
  const memory = runs.some((r) => r.metrics.memorySimulated);
  const goals = memory ? MEMORY_GOALS : CPU_GOALS;
  const workloads = [...new Set(runs.map((r) => r.workload))];
  const policies = [...new Set(runs.map((r) => r.policy))].filter((p) => p !== baseline);
  const head = memory
    ? `| run | policy | energy | SLATAH | ESV | migrations | memory over capacity, host-s (baseline) | goals held |`
    : `| run | policy | energy | SLATAH | ESV | migrations | goals held |`;
  const lines = [`Ratios to ${baseline} on the same run (1.000 = equal, lower is better).`, "", head, head.replace(/[^|]+/g, "---")];
  const held = new Map(policies.map((p) => [p, { runs: 0, per: goals.map(() => 0), all: 0 }]));
  for (const w of workloads) {
    const base = runs.find((r) => r.workload === w && r.policy === baseline)?.metrics;
    if (!base) continue;
    for (const p of policies) {
      const r = runs.find((x) => x.workload === w && x.policy === p)?.metrics;
      if (!r) continue;
      const ok = goals.map((g) => g.holds(r, base));
      const c = held.get(p)!;
      c.runs++;
      ok.forEach((o, i) => (c.per[i]! += o ? 1 : 0));
      if (ok.every(Boolean)) c.all++;
      const mem = memory ? ` ${Math.round(r.memOverCapacityHostS ?? 0)} (${Math.round(base.memOverCapacityHostS ?? 0)}) |` : "";
      lines.push(
        `| ${w} | ${p} | ${ratio(r.energyKWh, base.energyKWh)} | ${ratio(r.slatah, base.slatah)} | ${ratio(r.esv, base.esv)} | ${ratio(r.migrations, base.migrations)} |${mem} ${ok.filter(Boolean).length}/${goals.length} |`,
      );
    }
  }
  const ghead = `| policy | runs | ${goals.map((g) => g.label).join(" | ")} | all goals |`;
  lines.push("", `Runs on which each goal holds (vs ${baseline}):`, "", ghead, ghead.replace(/[^|]+/g, "---"));
  for (const p of policies) {
    const c = held.get(p)!;
    if (c.runs === 0) continue;
    lines.push(`| ${p} | ${c.runs} | ${c.per.map((n) => `${n}/${c.runs}`).join(" | ")} | ${c.all}/${c.runs} |`);
  }
  return lines.join("\n");
}
