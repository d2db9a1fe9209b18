import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { calibrateOne, formatTable, PLANETLAB_DAYS, type CalibrationRow } from "./calibration.js";
import type { CloudSimVariant } from "./policies/cloudsim/pabfd.js";
import { sharedDataDir } from "../shared/repo-root.js";

// Per-day comparison of our CloudSim baselines with CloudSim 3.0.3's measured results.
//   node dist/sim/calibrate.js [--data ../shared/data] [--days 20110303,...]
//        [--policies thr-mmt-0.8,lr-mmt-1.2] [--variants 303,prefix] [--json out.json]

const { values } = parseArgs({
  options: {
    data: { type: "string", default: sharedDataDir() },
    days: { type: "string", default: PLANETLAB_DAYS.join(",") },
    policies: { type: "string", default: "thr-mmt-0.8,lr-mmt-1.2" },
    variants: { type: "string", default: "303,prefix" },
    json: { type: "string" },
  },
});

const variants = values.variants.split(",").map((v) => {
  if (v !== "303" && v !== "prefix") throw new Error(`--variants: 303 or prefix, not ${v}`);
  return v as CloudSimVariant;
});
const rows: CalibrationRow[] = [];
for (const variant of variants) {
  for (const policy of values.policies.split(",")) {
    for (const day of values.days.split(",")) {
      const r = calibrateOne(values.data, day, policy, variant);
      rows.push(r);
      process.stderr.write(
        `${day} ${policy} ${variant}: ${r.ours.energyKWh.toFixed(2)} kWh (x${r.energyRatio.toFixed(4)}), ${r.ours.migrations} migr. (x${r.migrationRatio.toFixed(4)}) ${r.pass ? "ok" : "MISS"}\n`,
      );
    }
  }
}
console.log(formatTable(rows));
const missed = rows.filter((r) => !r.pass).length;
console.log(`\n${rows.length - missed}/${rows.length} within the bar (energy ±5 %, migrations ±10 %).`);
if (values.json) {
  writeFileSync(
    values.json,
    JSON.stringify(
      rows.map((r) => ({ ...r, ours: { ...r.ours } })),
      null,
      2,
    ),
  );
}
