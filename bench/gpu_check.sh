#!/usr/bin/env bash
# The GPU tests and every GPU speed and precision measurement in one call of the device tool, at most 9.5 minutes:
#
#     device run, command "bash bench/gpu_check.sh", timeout_s 570
#
# It uses the device machine's python3 and torch and imports this tree (PYTHONPATH); nothing is installed.
# Results land in $OUT (they come back with the call; bench/out/gpu when run elsewhere):
#   env.txt              GPU, driver, torch, CUDA and cuDNN versions
#   tests.log            the engine's tests on the GPU (tests/test_cuda.py and those that leave the device on auto)
#   throughput_B.json    `cneep bench throughput` at batch B: ours against the published loop on the GPU
#   variants.json        bench/step_variants.py: fused Adam, channels-last, bf16, fp16, TF32 off, CUDA graphs;
#                        the accuracy of fp32, strict fp32, bf16 and fp16 training
#   accuracy.json        `cneep bench accuracy` with its defaults (150 x 10^4 frames, batch 4096), 60 s budget
#   log.txt              every step's start, exit status and progress lines
# Each step has its own time limit, so one that hangs or fails leaves the others their time.
set -u
OUT=${OUT:-bench/out/gpu}
mkdir -p "$OUT"
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1
py=${PYTHON:-python3}
log=$OUT/log.txt

run() {   # run LIMIT_S OUTPUT_FILE COMMAND...: stdout to the file, stderr to the log
    local limit=$1 file=$2
    shift 2
    echo "== $(date +%T) $*" >>"$log"
    timeout "$limit" "$@" >"$file" 2>>"$log"
    local status=$?
    echo "== $(date +%T) exit $status" >>"$log"
}

{ nvidia-smi; nproc; $py -c "import sys, torch; print(sys.version); print('torch', torch.__version__, 'cuda',
  torch.version.cuda, 'cudnn', torch.backends.cudnn.version(), torch.cuda.get_device_name())"; } >"$OUT/env.txt" 2>&1

run 130 "$OUT/tests.log" $py -m pytest -q -p no:cacheprovider tests/test_cuda.py tests/test_model.py \
    tests/test_training.py tests/test_io_streaming.py tests/test_neep.py tests/test_score.py tests/test_epr_net.py
tail -n 3 "$OUT/tests.log" >>"$log"

for batch in 1024 4096; do
    run 55 "$OUT/throughput_$batch.json" $py -m cneep_engine bench throughput --device cuda --batch $batch \
        --seconds 10 --rounds 5 --json
done

run 170 "$OUT/variants_stdout.txt" $py bench/step_variants.py --seconds 0.3 --rounds 4 --out "$OUT/variants.json"
cat "$OUT/variants_stdout.txt" >>"$log" && rm "$OUT/variants_stdout.txt"

# `cneep bench accuracy`'s defaults (150 x 10^4 frames: 1.05 M training transitions; batch 4096, lr 4e-4),
# which on the CPU met the target in 5-12 M samples (docs/benchmarks.md, "Which recipe meets the target"), with
# the cosine decay sized to end within ~45 s at the step rate just measured, so that the budget does not stop it
# half-decayed.
iters=$($py -c "import json, sys
try: rate = json.load(open(f'{sys.argv[1]}/throughput_4096.json'))['ours']['samples_per_s']
except Exception: rate = 100_000   # that throughput step failed: a guess
print(max(500, round(45 * rate / 4096)))" "$OUT")
echo "accuracy: batch 4096, $iters iterations" >>"$log"
run 160 "$OUT/accuracy.json" $py -m cneep_engine bench accuracy --device cuda --iters "$iters" \
    --eval-every 100 --budget 60 --baseline-budget 50 --baseline-record-every 100 --json

echo "== $(date +%T) done" >>"$log"
cat "$log"
