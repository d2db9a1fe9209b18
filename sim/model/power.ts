// Power models given as measured watts at 0 %, 10 %, ..., 100 % CPU (SPECpower style), with
// linear interpolation in between, computed exactly the way CloudSim's PowerModelSpecPower does
// (same floating-point operations, so energies match to the last digits).

export type PowerTable = readonly number[];

/** HP ProLiant ML110 G4 (Xeon 3040), watts at 0..100 % in steps of 10 %. */
export const POWER_G4: PowerTable = [86, 89.4, 92.6, 96, 99.5, 102, 106, 108, 112, 114, 117];
/** HP ProLiant ML110 G5 (Xeon 3075). */
export const POWER_G5: PowerTable = [93.7, 97, 101, 105, 110, 116, 121, 125, 129, 133, 135];

export class PowerModelError extends Error {
  override readonly name = "PowerModelError";
}

export function validatePowerTable(table: PowerTable): void {
  if (table.length !== 11) throw new PowerModelError(`power table needs 11 values (0..100 %), got ${table.length}`);
  for (const w of table) if (!Number.isFinite(w) || w < 0) throw new PowerModelError(`bad power value ${w}`);
}

/** Watts at CPU utilisation u (fraction 0..1). Throws outside [0, 1] like CloudSim. */
export function powerAt(table: PowerTable, u: number): number {
  if (u < 0 || u > 1 || Number.isNaN(u)) throw new PowerModelError(`utilisation must be in [0, 1], got ${u}`);
  if (u % 0.1 === 0) return table[Math.trunc(u * 10)]!;
  const u1 = Math.floor(u * 10);
  const u2 = Math.ceil(u * 10);
  const p1 = table[u1]!;
  const p2 = table[u2]!;
  const delta = (p2 - p1) / 10;
  return p1 + delta * (u - u1 / 10) * 100;
}

/**
 * Energy (joules) of one host over an interval: trapezoid of the power at the previous and the
 * current utilisation. A host whose previous utilisation is 0 was off during the interval and
 * uses nothing (CloudSim's PowerHost.getEnergyLinearInterpolation; switching is instant and free).
 */
export function intervalEnergyJ(table: PowerTable, fromU: number, toU: number, seconds: number): number {
  if (fromU === 0) return 0;
  const from = powerAt(table, fromU);
  const to = powerAt(table, toU);
  return (from + (to - from) / 2) * seconds;
}
