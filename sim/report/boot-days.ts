import type { RunRecord } from "./metrics-json.js";

// The day-by-day table of the boot model's goals (issue 17), from the runs of
// tools/sim/per-day-boot.sh: per day, Ballast in the boot model against Ballast in the instant
// model (energy) and against LR-MMT-1.2 pre-fix in the instant model, as published (ESV), and the
// power cycles per host and day of the boot run.

/** The goals: energy within this share of Ballast's instant figure, ESV at most LR's, cycles per host and day (median) at most this. */
export const BOOT_GOALS = { energyShare: 0.05, cyclesPerHostDay: 2 } as const;

export interface BootDay {
  day: string;
  instant: RunRecord;
  boot: RunRecord;
  lr: RunRecord;
}

export class BootDaysError extends Error {
  override readonly name = "BootDaysError";
}

/** Groups the runs by workload: Ballast instant and boot, LR-MMT-1.2 (its instant run). Each day needs all three. */
export function bootDays(runs: readonly RunRecord[]): BootDay[] {
  const by = new Map<string, Partial<BootDay>>();
  for (const r of runs) {
    const d = by.get(r.workload) ?? { day: r.workload };
    const boot = r.metrics.power?.model === "boot";
    if (r.policy.startsWith("Ballast")) d[boot ? "boot" : "instant"] = r;
    else if (r.policy.startsWith("LR-MMT-1.2") && !boot) d.lr = r;
    by.set(r.workload, d);
  }
  const out: BootDay[] = [];
  for (const [day, d] of [...by].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const missing = (["instant", "boot", "lr"] as const).filter((k) => d[k] === undefined);
    if (missing.length > 0) throw new BootDaysError(`${day}: no ${missing.join(", ")} run (need Ballast instant and boot, and LR-MMT-1.2 instant)`);
    out.push(d as BootDay);
  }
  return out;
}

const pct = (x: number): string => `${x >= 0 ? "+" : "−"}${Math.abs(100 * x).toFixed(1)} %`;
const sci = (x: number): string => x.toExponential(2);

/** The markdown table and one line per goal: on how many days it holds, with the range. */
export function bootDaysTable(days: readonly BootDay[]): string {
  const rows = days.map((d) => {
    const p = d.boot.metrics.power!;
    const energy = d.boot.metrics.energyKWh / d.instant.metrics.energyKWh - 1;
    const esv = d.boot.metrics.esv / d.lr.metrics.esv;
    return { d, p, energy, esv };
  });
  const lines = [
    "| day | kWh instant | kWh boot | boot vs instant | of it switching | SLATAH instant / boot | ESV boot | ESV LR | ESV vs LR | power-ons | hosts cycled | cycles per host and day: median (all hosts / hosts cycled), max |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|",
  ];
  for (const { d, p, energy, esv } of rows)
    lines.push(
      `| ${d.day} | ${d.instant.metrics.energyKWh.toFixed(2)} | ${d.boot.metrics.energyKWh.toFixed(2)} | ${pct(energy)} | ${p.switchingEnergyKWh.toFixed(2)} | ` +
        `${(100 * d.instant.metrics.slatah).toFixed(2)} % / ${(100 * d.boot.metrics.slatah).toFixed(2)} % | ${sci(d.boot.metrics.esv)} | ${sci(d.lr.metrics.esv)} | ${esv.toFixed(2)} | ` +
        `${p.powerOns} | ${p.hostsCycled} | ${p.cyclesPerHostDayMedian} / ${p.cyclesPerCycledHostDayMedian}, ${p.cyclesPerHostDayMax} |`,
    );
  const range = (xs: number[], f: (x: number) => string): string => `${f(Math.min(...xs))} to ${f(Math.max(...xs))}`;
  const n = rows.length;
  const eOk = rows.filter((r) => r.energy <= BOOT_GOALS.energyShare + 1e-12).length;
  const vOk = rows.filter((r) => r.esv <= 1 + 1e-12).length;
  const cAll = rows.filter((r) => r.p.cyclesPerHostDayMedian <= BOOT_GOALS.cyclesPerHostDay).length;
  const cCycled = rows.filter((r) => r.p.cyclesPerCycledHostDayMedian <= BOOT_GOALS.cyclesPerHostDay).length;
  lines.push(
    "",
    `- energy within ${100 * BOOT_GOALS.energyShare} % of Ballast's instant run: ${eOk} of ${n} days (${range(
      rows.map((r) => r.energy),
      pct,
    )})`,
    `- ESV at most LR-MMT-1.2's: ${vOk} of ${n} days (${range(
      rows.map((r) => r.esv),
      (x) => x.toFixed(2),
    )} of it)`,
    `- at most ${BOOT_GOALS.cyclesPerHostDay} power cycles per host and day (median): over all hosts ${cAll} of ${n} days, over the hosts cycled ${cCycled} of ${n} days (${range(
      rows.map((r) => r.p.cyclesPerCycledHostDayMedian),
      String,
    )}; max ${Math.max(...rows.map((r) => r.p.cyclesPerHostDayMax))})`,
  );
  return lines.join("\n") + "\n";
}
