import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { runSim } from "../../sim/comparison.js";
import { sharedDataDir } from "../../shared/repo-root.js";

// One whole PlanetLab day, Ballast's shipped defaults against LR-MMT-1.2 (pre-fix), exactly as the
// README and docs/simulator.md state it: the figures those documents quote for this day are pinned
// here, so a change of the planner or the simulator that moves them fails until the documents move
// with them.

const DATA = sharedDataDir();
const DAY = "20110303";
const have = existsSync(`${DATA}/planetlab/${DAY}`);

describe.skipIf(!have && !process.env.CI)(`PlanetLab ${DAY}, a whole day${have ? "" : ": skipped because the traces are missing"}`, () => {
  it("Ballast's defaults against LR-MMT-1.2 (pre-fix): the numbers the README quotes", { timeout: 180_000 }, () => {
    expect(have, `PlanetLab traces expected at ${DATA}/planetlab/${DAY} (set BALLAST_SIM_DATA)`).toBe(true);
    const run = (policy: string) => runSim({ dir: `${DATA}/planetlab/${DAY}`, format: "planetlab", policy }).metrics;
    const b = run("ballast");
    const lr = run("lr-mmt-1.2");
    const r3 = (x: number) => Number(x.toFixed(3));
    expect({ energyKWh: r3(b.energyKWh), migrations: b.migrations, esv: Number(b.esv.toPrecision(3)) }).toEqual(PINNED.ballast);
    expect({ energyKWh: r3(lr.energyKWh), migrations: lr.migrations, esv: Number(lr.esv.toPrecision(3)) }).toEqual(PINNED.lr);
    expect({ energy: r3(b.energyKWh / lr.energyKWh), esv: r3(b.esv / lr.esv), migrations: r3(b.migrations / lr.migrations) }).toEqual(PINNED.ratios);
  });

  it("the boot model: Ballast's defaults with 300 s boots against its instant run and LR's, as docs/simulator.md states it", { timeout: 180_000 }, () => {
    expect(have, `PlanetLab traces expected at ${DATA}/planetlab/${DAY} (set BALLAST_SIM_DATA)`).toBe(true);
    const dir = `${DATA}/planetlab/${DAY}`;
    const boot = runSim({ dir, format: "planetlab", policy: "ballast", bootModel: "boot" }).metrics;
    const r3 = (x: number) => Number(x.toFixed(3));
    const p = boot.power!;
    expect({
      energyKWh: r3(boot.energyKWh),
      esv: Number(boot.esv.toPrecision(3)),
      powerOns: p.powerOns,
      cycledMedian: p.cyclesPerCycledHostDayMedian,
      cyclesMax: p.cyclesPerHostDayMax,
      refused: p.refusedPowerActions + p.refusedMigrations,
    }).toEqual(PINNED.boot);
    // Issue 17's goals on this day: within 5 % of the instant run, ESV at most LR's (instant, as published).
    expect(boot.energyKWh / PINNED.ballast.energyKWh).toBeLessThanOrEqual(1.05);
    expect(boot.esv).toBeLessThanOrEqual(PINNED.lr.esv);
    expect(p.cyclesPerHostDayMax).toBeLessThanOrEqual(2);
  });
});

// Update with README.md and docs/simulator.md ("Day by day", "Ten PlanetLab days in the boot
// model") when the policy changes on purpose.
const PINNED = {
  ballast: { energyKWh: 119.695, migrations: 3570, esv: 0.00101 },
  lr: { energyKWh: 116.576, migrations: 12817, esv: 0.0017 },
  ratios: { energy: 1.027, esv: 0.591, migrations: 0.279 },
  boot: { energyKWh: 124.597, esv: 0.00166, powerOns: 91, cycledMedian: 2, cyclesMax: 2, refused: 0 },
};
