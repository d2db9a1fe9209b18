import { cpus, totalmem } from "node:os";
import { performance } from "node:perf_hooks";
import { formatFigure, writeFigures, type Figure } from "./figures.js";
import { plannerScale } from "./planner-scale.js";

// `npm run bench`: every benchmark, one line per figure, plus bench-results/latest.json.
// Select some with `npm run bench -- planner ingest`.

type Bench = { name: string; run: (log: (s: string) => void) => Promise<Figure[]> };

const BENCHES: Bench[] = [{ name: "planner", run: plannerScale }];

export async function runBenchmarks(only: string[]): Promise<number> {
  const selected = only.length ? BENCHES.filter((b) => only.includes(b.name)) : BENCHES;
  const all: Figure[] = [];
  const t0 = performance.now();
  for (const b of selected) {
    process.stdout.write(`# ${b.name}\n`);
    const figs = await b.run((s) => process.stdout.write(s + "\n"));
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
  process.stdout.write(`\n${all.length} figures, ${missed.length} target(s) missed${missed.length ? ": " + missed.map((f) => f.name).join(", ") : ""}; written to bench-results/latest.json\n`);
  return 0;
}

const isMain = import.meta.url === `file://${process.argv[1]}`;
if (isMain) process.exitCode = await runBenchmarks(process.argv.slice(2));
