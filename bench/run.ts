import { cpus, totalmem } from "node:os";
import { performance } from "node:perf_hooks";
import { figure, formatFigure, writeFigures, type Figure } from "./figures.js";
import { Cleanup } from "./support.js";
import { plannerScale } from "./planner-scale.js";
import { consolidationQuality } from "./consolidation.js";
import { busIngest } from "./ingest.js";
import { reactionTime } from "./reaction.js";
import { agentCost } from "./agent-cost.js";
import { labMigration } from "./lab-migration.js";
import { labDrain } from "./lab-drain.js";
import { labLocalDisk } from "./lab-local-disk.js";
import { labRecovery } from "./lab-recovery.js";

// `npm run bench`: every benchmark, one line per figure, plus bench-results/latest.json.
// Select some with `npm run bench -- planner ingest` (planner, consolidate, ingest, reaction,
// agent, lab; lab is lab, lab-drain, lab-disk and lab-recovery).

type Bench = { name: string; run: (log: (s: string) => void) => Promise<Figure[]> };

const BENCHES: Bench[] = [
  { name: "planner", run: plannerScale },
  { name: "consolidate", run: consolidationQuality },
  { name: "ingest", run: busIngest },
  { name: "reaction", run: reactionTime },
  { name: "agent", run: agentCost },
  { name: "lab", run: labMigration },
  { name: "lab-drain", run: labDrain },
  { name: "lab-disk", run: labLocalDisk },
  { name: "lab-recovery", run: labRecovery },
];

export async function runBenchmarks(only: string[]): Promise<number> {
  // "lab" selects every lab benchmark (lab, lab-drain, lab-disk, lab-recovery); "lab-drain" only that one.
  const selected = only.length ? BENCHES.filter((b) => only.some((o) => b.name === o || b.name.startsWith(`${o}-`))) : BENCHES;
  const all: Figure[] = [];
  const t0 = performance.now();
  for (const b of selected) {
    process.stdout.write(`# ${b.name}\n`);
    const log = (s: string) => process.stdout.write(s + "\n");
    const tb = performance.now();
    let figs: Figure[];
    try {
      figs = await b.run(log);
    } catch (e) {
      // One broken benchmark does not hide the others' figures; it counts as a missed target.
      log(`  ${b.name} failed: ${(e as Error).stack ?? String(e)}`);
      figs = [
        figure(`${b.name}.completed`, 0, "", { kind: "limit", label: "completes", value: 1 }, "higher", `failed: ${(e as Error).message.split("\n")[0]}`),
      ];
    }
    log(`  (${b.name}: ${((performance.now() - tb) / 1000).toFixed(1)} s)`);
    for (const f of figs) process.stdout.write(formatFigure(f) + "\n");
    all.push(...figs);
  }
  const missed = all.filter((f) => f.ok === false);
  writeFigures("bench-results/latest.json", all, {
    when: new Date().toISOString(),
    node: process.version,
    cpus: cpus().length,
    memGiB: Math.round(totalmem() / 2 ** 30),
    seconds: Math.round((performance.now() - t0) / 1000),
  });
  process.stdout.write(
    `\n${all.length} figures, ${missed.length} target(s) missed${missed.length ? ": " + missed.map((f) => f.name).join(", ") : ""}; written to bench-results/latest.json\n`,
  );
  return 0;
}

const isMain = import.meta.url === `file://${process.argv[1]}`;
if (isMain) {
  const unknown = process.argv.slice(2).filter((a) => !BENCHES.some((b) => b.name === a));
  if (unknown.length > 0) {
    process.stderr.write(`unknown benchmark(s): ${unknown.join(", ")}; known: ${BENCHES.map((b) => b.name).join(", ")}\n`);
    process.exit(2);
  }
  // Ctrl-C / SIGTERM: tear down what the running benchmark started (servers, children, the lab).
  for (const sig of ["SIGINT", "SIGTERM"] as const)
    process.once(sig, () => {
      process.stdout.write(`\n${sig}: cleaning up\n`);
      void Promise.all([...Cleanup.active].map((c) => c.run((s) => process.stdout.write(s + "\n")))).finally(() => process.exit(130));
    });
  process.exitCode = await runBenchmarks(process.argv.slice(2));
}
