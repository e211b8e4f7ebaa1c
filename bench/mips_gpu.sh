#!/usr/bin/env bash
# The score on N = 1024 active discs (mips, Boffi & Vanden-Eijnden's phase-separation system) on the GPU, in one
# call of the device tool, sized for about 5 minutes:
#
#     nice .venv/bin/python bench/score.py mips-data 1024     # first, on any machine: the snapshots (667 s on one
#                                                             # core), cached in bench/out/score_mips/n1024*.npz
#     device run, command "bash bench/mips_gpu.sh", carry ["bench/out/score_mips"], timeout_s 420
#
# It uses the device machine's python3 and torch and imports this tree (PYTHONPATH); nothing is installed. It trains
# `bench/score.py mips 1024` (ITERS steps, default 10000, of one snapshot, 1024 particles) and prints the direct rate,
# lower bound and static value against sigma_B and each test particle's EP by local packing fraction and by
# neighbours: whether the learned EP sits at the dense/dilute interface. Results in $OUT (bench/out/mips_gpu when
# run elsewhere): mips_1024.log and the run folder (summary.json, train_log.csv, network.pt).
set -u
OUT=${OUT:-bench/out/mips_gpu}
mkdir -p "$OUT"
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1
if [ ! -f bench/out/score_mips/n1024.npz ]; then
    echo "bench/out/score_mips/n1024.npz is missing: run 'python bench/score.py mips-data 1024' and carry the folder"
    exit 2
fi
rm -rf bench/out/score_mips/run_1024   # a carried run would be reused instead of trained
timeout 390 "${PYTHON:-python3}" bench/score.py mips 1024 --iters "${ITERS:-10000}" >"$OUT/mips_1024.log" 2>&1
echo "exit $?" >>"$OUT/mips_1024.log"
cp -r bench/out/score_mips/run_1024 "$OUT/" 2>/dev/null
cat "$OUT/mips_1024.log"
