#!/usr/bin/env bash
# The ten PlanetLab days, Ballast's defaults against LR-MMT-1.2 (pre-fix), day by day: the table
# and the goals of docs/simulator.md "Day by day". Usage: tools/sim/per-day.sh [OUT_DIR] (default:
# a new temporary directory; the per-run JSON stays there). Takes about 3 minutes.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
data="${BALLAST_SIM_DATA:-$repo/../shared/data}"
out="${1:-$(mktemp -d)}"
mkdir -p "$out"
for d in 20110303 20110306 20110309 20110322 20110325 20110403 20110409 20110411 20110412 20110420; do
  for p in ballast lr-mmt-1.2; do
    "$repo/bin/ballast" sim --dir "$data/planetlab/$d" --policy "$p" --json >"$out/$d-$p.json"
  done
done
"$repo/bin/ballast" sim report "$out"/2011*.json --baseline lr-mmt-1.2 --out "$out/report"
echo "runs and plots: $out"
