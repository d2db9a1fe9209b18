#!/usr/bin/env bash
# The ten PlanetLab days in the boot model (issue 17): Ballast's defaults with 300 s boots and 30 s
# shutdowns against its own instant-switching run (energy) and LR-MMT-1.2 pre-fix, instant, as
# published (ESV), with its power cycles per host and day: the table and the goals of
# docs/simulator.md "Boot model". Usage: tools/sim/per-day-boot.sh [OUT_DIR] (default: a new
# temporary directory; the per-run JSON and table.md stay there). Takes about 4 minutes.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
data="${BALLAST_SIM_DATA:-$repo/../shared/data}"
out="${1:-$(mktemp -d)}"
mkdir -p "$out"
for d in 20110303 20110306 20110309 20110322 20110325 20110403 20110409 20110411 20110412 20110420; do
  "$repo/bin/ballast" sim --dir "$data/planetlab/$d" --policy ballast --boot-model instant --json >"$out/$d-ballast-instant.json"
  "$repo/bin/ballast" sim --dir "$data/planetlab/$d" --policy ballast --boot-model boot --json >"$out/$d-ballast-boot.json"
  "$repo/bin/ballast" sim --dir "$data/planetlab/$d" --policy lr-mmt-1.2 --boot-model instant --json >"$out/$d-lr-mmt-1.2.json"
done
node "$repo/dist/sim/boot-days.js" "$out"/2011*.json | tee "$out/table.md"
echo "runs and table: $out"
