#!/usr/bin/env bash
# GPU check for one machine with one CUDA GPU where only the package index is reachable (no model hub,
# no runs/ directory needed): installs the GPU extras into a fresh venv, then prints a table
#   check | result | figure | seconds
# for: bf16 SFT MFU of a Qwen2-0.5B-shaped model (goal >= 40 %), ZeRO-3 and FSDP single-node smokes
# (accelerate launch, 1 process), GRPO with vLLM colocate on a tiny model, the vllm eval backend
# against HF greedy answers, and a QLoRA CPT smoke. A failing check does not stop the others; the exit
# status is 1 when any check failed. Target: <= 8 minutes on an H100-class GPU.
#
#   bash bench/gpu_check.sh --dry-run     # no GPU: print the plan, derive and validate every recipe/config
#   bash bench/gpu_check.sh               # the real check
#   bash bench/gpu_check.sh --skip-install   # reuse the venv of an earlier run
#
# Environment (printed at start):
#   GPU_CHECK_VENV        venv to create (default /tmp/medreasoner-gpu-venv; recreated unless --skip-install)
#   GPU_CHECK_OUT         outputs: derived recipes, runs, logs, table (default /tmp/medreasoner-gpu-check)
#   GPU_PEAK_BF16_TFLOPS  dense bf16 peak of the GPU when bench/gpu_check/mfu.py does not know its name
#   PYTHON                interpreter for --dry-run (default .venv/bin/python, else python3)
#
# The recipes are derived from recipes/tiny/*.yaml (and the QLoRA settings of
# recipes/preferred_medllm/cpt_qlora.yaml) by bench/gpu_check/recipes.py; each builds its own world and
# tiny model. Phases: the MFU measurement alone on the GPU; then the ZeRO-3, FSDP and QLoRA smokes and
# the tiny SFT model for the vLLM checks concurrently (all tiny, no vLLM); then GRPO with vLLM, then the
# eval comparison, each alone (vLLM's start-up memory profiling fails when another process frees GPU
# memory meanwhile).
set -uo pipefail
cd "$(dirname "$0")/.."

DRY_RUN=0
SKIP_INSTALL=0
for arg in "$@"; do
  case $arg in
    --dry-run) DRY_RUN=1 ;;
    --skip-install) SKIP_INSTALL=1 ;;
    *) echo "usage: bash bench/gpu_check.sh [--dry-run] [--skip-install]"; exit 2 ;;
  esac
done
VENV=${GPU_CHECK_VENV:-/tmp/medreasoner-gpu-venv}
OUT=${GPU_CHECK_OUT:-/tmp/medreasoner-gpu-check}
EXTRAS=gpu,vllm,dev
mkdir -p "$OUT/logs" "$OUT/rows" "$OUT/runs"
rm -f "$OUT"/rows/*
echo "GPU_CHECK_VENV=$VENV GPU_CHECK_OUT=$OUT GPU_PEAK_BF16_TFLOPS=${GPU_PEAK_BF16_TFLOPS:-} dry_run=$DRY_RUN"
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false

# A check is a shell function: it runs in its own process group under `timeout`, its output goes to
# $OUT/logs/<id>.log, and its last line is the table's figure. record() writes the table row.
record() {  # id name status seconds
  local figure
  figure=$(tail -n 1 "$OUT/logs/$1.log" 2>/dev/null | tr '\r' '\n' | tail -n 1 | cut -c1-60)  # last of a progress bar's rewrites
  local result=ok
  [[ $3 == 0 ]] || result=FAIL
  [[ $3 == 124 || $3 == 137 ]] && result=TIMEOUT
  printf '%-22s %-7s %-60s %7s\n' "$2" "$result" "$figure" "$4" > "$OUT/rows/$1"
}
check() {  # id name limit_s function
  local began=$SECONDS
  timeout --kill-after=15 "$3" bash -c "$4" > "$OUT/logs/$1.log" 2>&1
  record "$1" "$2" $? $((SECONDS - began))
}

# The checks (names are the functions; PLAN lists id, table name, time limit in seconds, function).
PLAN=(
  "10 install 420 do_install"
  "20 gpu 60 do_gpu"
  "30 mfu_bf16_sft 240 do_mfu"
  "40 zero3_sft 300 do_zero3"
  "41 fsdp_sft 300 do_fsdp"
  "42 qlora_cpt 300 do_qlora"
  "43 sft_tiny 300 do_sft_tiny"
  "50 grpo_vllm_colocate 420 do_grpo"
  "60 eval_vllm_vs_hf 300 do_eval"
)
DESCRIBE=(
  "python3 -m venv --clear \$VENV; pip install -e '.[$EXTRAS]' (torch 2.13 CUDA, vllm 0.30, deepspeed, bitsandbytes)"
  "torch.cuda.get_device_name(), versions of torch/vllm/deepspeed/bitsandbytes/transformers/trl"
  "python bench/gpu_check/mfu.py --steps 20 --warmup 5 --batch 8 --seq 2048 (alone on the GPU)"
  "accelerate launch --config_file configs/accelerate/zero3.yaml --num_processes 1 -m medreasoner.cli run sft_zero3.yaml; stage_result.py"
  "accelerate launch --config_file configs/accelerate/fsdp.yaml --num_processes 1 -m medreasoner.cli run sft_fsdp.yaml; stage_result.py"
  "medreasoner run cpt_qlora.yaml (4-bit base, LoRA r 8, bf16, gradient checkpointing); stage_result.py"
  "medreasoner run sft_tiny.yaml --output runs/grpo_vllm (tiny SFT, 300 bf16 steps); stage_result.py"
  "medreasoner run grpo_vllm.yaml --output runs/grpo_vllm (skips the SFT stages; 4 GRPO steps, vLLM colocate + sleep mode); grpo_metrics.py --max-gap 1.0"
  "medreasoner eval --backend hf vs --backend vllm (float32, greedy, 20 items of the GRPO run's world); compare_eval.py"
)

do_install() {
  python3 -m venv --clear "$VENV" && "$VENV/bin/pip" install --upgrade pip > /dev/null \
    && "$VENV/bin/pip" install -e ".[$EXTRAS]" || return 1
  "$VENV/bin/python" -c "import torch, vllm, deepspeed, bitsandbytes; print('torch', torch.__version__, 'vllm', vllm.__version__)"
}
do_gpu() {
  "$PY" - <<'EOF'
import importlib.metadata as md, torch
assert torch.cuda.is_available(), "torch sees no CUDA GPU"
versions = {p: md.version(p) for p in ("torch", "vllm", "deepspeed", "bitsandbytes", "transformers", "trl")}
print(versions)
free, total = torch.cuda.mem_get_info()
print(f"{torch.cuda.get_device_name()}, {total / 2**30:.0f} GiB, torch {versions['torch']}")
EOF
}
do_mfu() {
  "$PY" bench/gpu_check/mfu.py --steps 20 --warmup 5 --batch 8 --seq 2048 --json "$OUT/mfu.json"
  local status=$?
  "$PY" -c "import json; f = json.load(open('$OUT/mfu.json')); print(f\"MFU {f.get('mfu', float('nan')):.1%} (6N), {f['tokens_per_s']:,.0f} tok/s, {f['device']}\")"
  return $status
}
launch_smoke() {  # recipe accelerate_config port
  rm -rf "$OUT/runs/$1"
  "$VENV/bin/accelerate" launch --config_file "configs/accelerate/$2.yaml" --num_processes 1 --num_machines 1 \
    --main_process_port "$3" -m medreasoner.cli run "$OUT/recipes/$1.yaml" --output "$OUT/runs/$1" \
    && "$PY" bench/gpu_check/stage_result.py "$OUT/runs/$1" sft --base base
}
do_zero3() { launch_smoke sft_zero3 zero3 29511; }
do_fsdp() { launch_smoke sft_fsdp fsdp 29512; }
do_qlora() {
  rm -rf "$OUT/runs/cpt_qlora"
  "$PY" -m medreasoner.cli run "$OUT/recipes/cpt_qlora.yaml" --output "$OUT/runs/cpt_qlora" \
    && "$PY" bench/gpu_check/stage_result.py "$OUT/runs/cpt_qlora" cpt --base base
}
do_sft_tiny() {
  rm -rf "$OUT/runs/grpo_vllm"
  "$PY" -m medreasoner.cli run "$OUT/recipes/sft_tiny.yaml" --output "$OUT/runs/grpo_vllm" \
    && "$PY" bench/gpu_check/stage_result.py "$OUT/runs/grpo_vllm" sft --base base
}
do_grpo() {
  "$PY" -m medreasoner.cli run "$OUT/recipes/grpo_vllm.yaml" --output "$OUT/runs/grpo_vllm" \
    && "$PY" bench/gpu_check/grpo_metrics.py "$OUT/runs/grpo_vllm/grpo/metrics.jsonl" --max-gap 1.0
}
do_eval() {
  local run=$OUT/runs/grpo_vllm
  local args=(--model "$run/sft" --dtype float32 --benchmark items --data "$run/world/eval/validation_diagnosis.jsonl"
              --limit 20 --max-new-tokens 128 --temperature 0 --no-progress)
  rm -rf "$OUT/runs/eval_hf" "$OUT/runs/eval_vllm"
  "$PY" -m medreasoner.cli eval "${args[@]}" --backend hf --output "$OUT/runs/eval_hf" \
    && "$PY" -m medreasoner.cli eval "${args[@]}" --backend vllm --output "$OUT/runs/eval_vllm" \
    && "$PY" bench/gpu_check/compare_eval.py "$OUT/runs/eval_hf" "$OUT/runs/eval_vllm" > "$OUT/eval_compare.txt"
  local status=$?
  cat "$OUT/eval_compare.txt" 2>/dev/null
  grep -o 'identical responses: [0-9]*/[0-9]*' "$OUT/eval_compare.txt" 2>/dev/null || echo "no comparison"
  return $status
}
export -f do_install do_gpu do_mfu launch_smoke do_zero3 do_fsdp do_qlora do_sft_tiny do_grpo do_eval
export VENV OUT EXTRAS

echo "plan (id, check, time limit s):"
for i in "${!PLAN[@]}"; do
  read -r id name limit _ <<< "${PLAN[$i]}"
  printf '  %s %-20s %4ss  %s\n' "$id" "$name" "$limit" "${DESCRIBE[$i]}"
done

if [[ $DRY_RUN == 1 ]]; then
  if [[ -n ${PYTHON:-} ]]; then PY=$PYTHON; elif [[ -x .venv/bin/python ]]; then PY=.venv/bin/python; else PY=python3; fi
  export PY
  failed=0
  step() {  # name command...: run a dry-run step, report it
    if "${@:2}" > "$OUT/logs/dry_$1.log" 2>&1; then echo "ok    $1"; else echo "FAIL  $1"; sed 's/^/      /' "$OUT/logs/dry_$1.log" | tail -5; failed=1; fi
  }
  step derive_recipes "$PY" bench/gpu_check/recipes.py "$OUT/recipes"
  step validate_recipes "$PY" -m medreasoner.cli validate "$OUT/recipes"
  step accelerate_configs "$PY" - <<'EOF'
import json, yaml
from pathlib import Path
for name in ("zero3", "fsdp"):
    config = yaml.safe_load(Path(f"configs/accelerate/{name}.yaml").read_text())
    assert config["distributed_type"] in ("DEEPSPEED", "FSDP"), name
    ds = config.get("deepspeed_config", {}).get("deepspeed_config_file")
    if ds:
        assert json.loads(Path(ds).read_text())["zero_optimization"]["stage"] == 3, ds
print("zero3.yaml (+ zero3.json) and fsdp.yaml parse")
EOF
  step mfu_model "$PY" bench/gpu_check/mfu.py --dry-run --device-name "NVIDIA H100 80GB HBM3"
  step check_helpers "$PY" -m py_compile bench/gpu_check/compare_eval.py bench/gpu_check/grpo_metrics.py bench/gpu_check/stage_result.py
  cat "$OUT/logs/dry_validate_recipes.log" "$OUT/logs/dry_mfu_model.log"
  echo "derived recipes: $OUT/recipes"
  exit $failed
fi

started=$SECONDS
if [[ $SKIP_INSTALL == 0 ]]; then check 10 install 420 do_install; fi
PY=$VENV/bin/python
export PY
check 20 gpu 60 do_gpu
"$PY" bench/gpu_check/recipes.py "$OUT/recipes" > "$OUT/logs/recipes.log" 2>&1 || echo "deriving recipes failed: $OUT/logs/recipes.log"
check 30 mfu_bf16_sft 240 do_mfu
check 40 zero3_sft 300 do_zero3 &
check 41 fsdp_sft 300 do_fsdp &
check 42 qlora_cpt 300 do_qlora &
check 43 sft_tiny 300 do_sft_tiny &
wait
check 50 grpo_vllm_colocate 420 do_grpo
check 60 eval_vllm_vs_hf 300 do_eval

echo
printf '%-22s %-7s %-60s %7s\n' check result figure seconds
cat "$OUT"/rows/* | tee "$OUT/table.txt"
echo "total ${SECONDS}s (checks $((SECONDS - started))s); logs in $OUT/logs"
grep -qv '^[^ ]* *ok ' "$OUT/table.txt" && exit 1
exit 0
