#!/usr/bin/env bash
# The GPU check: one script, under 6 minutes on one GPU, whose figures go to docs/benchmarks.md.
#   1. training throughput against a bare loop on CUDA, bf16 (goal >= 0.95), then with trainer.compile=true and
#      trainer.channels_last=true (each against the same bare loop: > 1 is their gain)
#   2. trials per hour of the default model with 1, 2 and 4 trials packed on the GPU (goal: >= 2x at 4), with
#      the GPU's sampled utilisation
#   3. a 4-trial sweep with placement: the slots follow the GPUs, each trial's run names its GPU
#
#   bash bench/gpu_check.sh 2>&1 | tee gpu_check.log      (after `make install` on the GPU machine)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
export PYTHONUNBUFFERED=1
started=$(date +%s)
section() { echo; echo "== $1 ($(( $(date +%s) - started )) s in)"; }

section "machine"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
$PY -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "bf16", torch.cuda.is_bf16_supported())'

section "1. throughput on CUDA, bf16 autocast (trainer.precision=auto)"
$PY bench/throughput.py --device cuda --rounds 3 --epochs 4
section "1b. with torch.compile"
$PY bench/throughput.py --device cuda --rounds 3 --epochs 4 trainer.compile=true
section "1c. with channels-last"
$PY bench/throughput.py --device cuda --rounds 3 --epochs 4 trainer.channels_last=true

section "2. packing: trials per hour with 1, 2 and 4 trials on the GPU"
$PY bench/packing.py --per-gpu 1,2,4 --trials 8 --epochs 3

section "3. a 4-trial sweep with placement"
folder=$(mktemp -d)
(cd "$folder" && $PY "$OLDPWD/train.py" -m sweeps=random_lr_wd hydra.sweeper.n_trials=4 trainer.epochs=2 \
  recipe.preflight=off trainer.progress=off | grep -E "placement|best trial|^sweepwise" || true)
$PY - "$folder/mlflow.db" <<'PYTHON'
import sys
from mlflow import MlflowClient
client = MlflowClient(tracking_uri=f"sqlite:///{sys.argv[1]}")
experiment = client.get_experiment_by_name("sweepwise")
for run in client.search_runs([experiment.experiment_id]):
    if "mlflow.parentRunId" in run.data.tags:
        tags = run.data.tags
        print(run.info.run_name, "gpus", tags.get("sweepwise.gpus"), "device", tags.get("sweepwise.device"))
PYTHON
rm -rf "$folder"

section "done"
