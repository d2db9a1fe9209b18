import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

// Every benchmark reports figures as `name: value (limit or peer: value, ratio: r)`, measured
// side by side in one run; the same figures go to a JSON file.

export interface Figure {
  name: string;
  value: number;
  unit: string;
  /** What the value is compared with: a limit (target) or a peer measured in the same run. */
  against?: { kind: "limit" | "peer"; label: string; value: number };
  /** value / against.value */
  ratio?: number;
  /** Whether the target holds (limits only). */
  ok?: boolean;
  note?: string;
}

export function figure(name: string, value: number, unit: string, against?: Figure["against"], better: "lower" | "higher" = "lower", note?: string): Figure {
  const f: Figure = { name, value, unit, ...(note ? { note } : {}) };
  if (against) {
    f.against = against;
    f.ratio = against.value === 0 ? Infinity : value / against.value;
    if (against.kind === "limit") f.ok = better === "lower" ? value <= against.value : value >= against.value;
  }
  return f;
}

const fmt = (x: number): string => (Math.abs(x) >= 100 || Number.isInteger(x) ? x.toFixed(0) : Math.abs(x) >= 1 ? x.toFixed(2) : x.toPrecision(3));

export function formatFigure(f: Figure): string {
  const base = `${f.name}: ${fmt(f.value)} ${f.unit}`;
  if (!f.against) return f.note ? `${base} (${f.note})` : base;
  const verdict = f.ok === undefined ? "" : f.ok ? ", ok" : ", MISSED";
  return `${base} (${f.against.kind} ${f.against.label}: ${fmt(f.against.value)} ${f.unit}, ratio: ${fmt(f.ratio!)}${verdict})${f.note ? ` ${f.note}` : ""}`;
}

export function writeFigures(path: string, figures: Figure[], meta: Record<string, unknown>): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, JSON.stringify({ ...meta, figures }, null, 2) + "\n");
}
