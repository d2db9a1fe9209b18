import type { RunRecord } from "./metrics-json.js";

// The power side of a set of runs: which power model, what switching cost, how often hosts were
// cycled. Runs written before the boot model have no power metrics and show "-".

export function powerTable(runs: readonly RunRecord[]): string {
  const lines = [
    `| run | policy | power model | kWh | of it switching, kWh | power-ons | power cycles per host and day, median | median over hosts cycled | max | hosts cycled | SLATAH |`,
    `|---|---|---|---|---|---|---|---|---|---|---|`,
  ];
  for (const r of runs) {
    const m = r.metrics;
    const p = m.power;
    const model = !p ? "-" : p.model === "instant" ? "instant" : `boot ${p.bootTimeS} s / shutdown ${p.shutdownTimeS} s`;
    const cells = p
      ? [
          p.switchingEnergyKWh.toFixed(2),
          String(p.powerOns),
          p.cyclesPerHostDayMedian.toFixed(2),
          p.cyclesPerCycledHostDayMedian.toFixed(2),
          String(p.cyclesPerHostDayMax),
          String(p.hostsCycled),
        ]
      : ["-", "-", "-", "-", "-", "-"];
    lines.push(`| ${r.workload} | ${r.policy} | ${model} | ${m.energyKWh.toFixed(2)} | ${cells.join(" | ")} | ${(m.slatah * 100).toFixed(2)} % |`);
  }
  return lines.join("\n");
}
