#!/usr/bin/env bash
# Where the time-averaged dissipation map of a medium CNEEP run on the N=2 chain puts the EP, against the exact
# velocity, heat and per-spring decompositions (summary.json truth.map), and the map's column profile.
# Usage: bash bench/map_truth.sh [OUT_DIR] [extra `cneep train` options]
set -euo pipefail
out=${1:-bench/out/maptruth}; shift || true
mkdir -p "$out"
[ -f "$out/n2.tif" ] || cneep simulate bead-spring --beads 2 --tc 1 --th 10 --dt 0.01 --movies 20 --frames 5000 \
    --seed 7 -o "$out/n2.tif"
[ -f "$out/run/summary.json" ] || nice cneep train "$out/n2.tif" --iters 2500 -o "$out/run" -q "$@"
python - "$out/run" <<'PY'
import json, sys
import numpy as np
import tifffile
run = sys.argv[1]
s = json.load(open(f"{run}/summary.json"))
t = s["truth"]
print(f"ep_rate {s['ep_rate']:.4g}, sigma {t['sigma']:.4g}, sigma_2pt {t['sigma_2pt']:.4g}, R^2 {t['r2']:.4f}, "
      f"iterations {s['iterations']}, {s['wall_s']:.0f} s")
print(json.dumps(t["map"], indent=1))
m = tifffile.imread(f"{run}/dissipation_map.tif").astype(np.float64)
cols = m.sum(axis=0)
print("column shares of the map (4-px groups, beads rest at x = 10 and 30 px, the spring between):")
print(" ".join(f"{c / cols.sum():.0%}" for c in cols.reshape(-1, 4).sum(axis=1)))
PY
