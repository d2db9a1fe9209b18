import { readRuns } from "./report/render.js";
import { bootDays, bootDaysTable } from "./report/boot-days.js";

// Prints the boot model's day-by-day table (docs/simulator.md "Boot model: ten days") from the
// metrics JSON files of tools/sim/per-day-boot.sh.
//   node dist/sim/boot-days.js FILE.json...

const files = process.argv.slice(2);
if (files.length === 0) {
  process.stderr.write("usage: node dist/sim/boot-days.js FILE.json... (Ballast instant and boot, LR-MMT-1.2 instant, per day)\n");
  process.exit(2);
}
process.stdout.write(bootDaysTable(bootDays(files.flatMap(readRuns))));
