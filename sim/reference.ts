import { readFileSync } from "node:fs";

// CloudSim's own measured results (../shared/data/cloudsim-reference-results/*.csv).

export interface ReferenceRow {
  variant: string;
  day: string;
  policy: string;
  selection: string;
  parameter: string;
  vms: number;
  energyKWh: number;
  migrations: number;
  slav: number;
  slatah: number;
  pdm: number;
  esv: number;
  hostShutdowns: number;
}

export function parseReferenceCsv(text: string): ReferenceRow[] {
  const rows = text.trim().split(/\r?\n/);
  const head = rows.shift()?.split(",") ?? [];
  const col = (name: string): number => {
    const i = head.indexOf(name);
    if (i < 0) throw new Error(`reference CSV has no column ${name}`);
    return i;
  };
  const c = {
    variant: col("variant"),
    day: col("day"),
    policy: col("policy"),
    selection: col("selection"),
    parameter: col("parameter"),
    vms: col("vms"),
    energy: col("energy_kwh"),
    migrations: col("vm_migrations"),
    slav: col("slav"),
    slatah: col("slatah"),
    pdm: col("pdm"),
    esv: col("esv"),
    shutdowns: col("host_shutdowns"),
  };
  return rows.map((line) => {
    const f = line.split(",");
    const s = (i: number): string => f[i] ?? "";
    return {
      variant: s(c.variant),
      day: s(c.day),
      policy: s(c.policy),
      selection: s(c.selection),
      parameter: s(c.parameter),
      vms: Number(s(c.vms)),
      energyKWh: Number(s(c.energy)),
      migrations: Number(s(c.migrations)),
      slav: Number(s(c.slav)),
      slatah: Number(s(c.slatah)),
      pdm: Number(s(c.pdm)),
      esv: Number(s(c.esv)),
      hostShutdowns: Number(s(c.shutdowns)),
    };
  });
}

export function loadReference(path: string): ReferenceRow[] {
  return parseReferenceCsv(readFileSync(path, "utf8"));
}

/** Reference file for a variant, relative to the shared data folder. */
export function referenceFile(variant: "303" | "prefix"): string {
  return variant === "303" ? "cloudsim-3.0.3_sorted-files.csv" : "cloudsim-3.0.3-preIssue37_sorted-files.csv";
}
