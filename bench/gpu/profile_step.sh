#!/usr/bin/env bash
# Where one decode step's time goes on the GPU machine: runs `brisk generate --device cuda` on a
# random checkpoint of shape $SHAPE (default llama-3.2-1b; llama-3.1-8b too) with a
# $PROMPT_LEN-token prompt (default 16) and $MAX_TOKENS greedy tokens (default 8; 1 profiles the
# prefill alone) under Nsight Compute, recording only
# each kernel's duration (caches left warm, as in a real run), and prints the kernels' total
# time per step beside the wall time per step of the same run without the profiler. Kernel time
# well under the wall time means the step is bound by host work and launches, not by the GPU.
#   run(command="SHAPE=llama-3.2-1b PROMPT_LEN=512 bash bench/gpu/profile_step.sh", carry=[".deb"])
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
logs=${OUT:-$root/build/gpu/profile}
mkdir -p "$logs"
bash tools/gpu/build.sh brisk brisk_make_random_checkpoint > "$logs/build.log" 2>&1 ||
  { tail -40 "$logs/build.log"; exit 1; }
# shellcheck disable=SC1091
source build/gpu/env.sh
shape=${SHAPE:-llama-3.2-1b}
prompt_len=${PROMPT_LEN:-16}
max_tokens=${MAX_TOKENS:-8}
ckpt=/tmp/brisk-bench/$shape
if [ ! -f "$ckpt/model.safetensors" ]; then
  mkdir -p "$ckpt"
  build/gpu/bench/cpu/brisk_make_random_checkpoint --shape "$shape" "$ckpt" > /dev/null
fi
prompt=$(python3 -c "import random; r=random.Random(0); print(','.join(str(r.randrange(3, 100000)) for _ in range($prompt_len)))")
# 4 GiB of KV cache: a 2,048-token prompt of the 8B shape needs 512 MiB in f32.
gen() { build/gpu/src/cli/brisk generate --device cuda --gpu-activations bf16 --model "$ckpt" \
          --kv-cache-memory 4096 --prompt-ids "$prompt" --temperature 0 --ignore-eos --print-ids \
          "$@"; }
for n in 8 64; do
  echo "without profiler, $n tokens: $(gen --max-tokens "$n" 2>&1 >/dev/null | grep -o 'decode.*')"
done
ncu=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
"$ncu" --metrics gpu__time_duration.sum --cache-control none --csv --log-file "$logs/ncu.csv" \
  build/gpu/src/cli/brisk generate --device cuda --gpu-activations bf16 --model "$ckpt" \
  --kv-cache-memory 4096 --prompt-ids "$prompt" --max-tokens "$max_tokens" --temperature 0 \
  --ignore-eos --print-ids > /dev/null 2> "$logs/ncu.err" || { tail -20 "$logs/ncu.err"; exit 1; }
python3 - "$logs/ncu.csv" "$max_tokens" <<'PY'
import csv, collections, sys
rows = [r for r in csv.DictReader(l for l in open(sys.argv[1]) if l.startswith('"'))]
by_kernel = collections.defaultdict(lambda: [0, 0.0])
unit = rows[0]["Metric Unit"] if rows else "ns"
scale = {"nsecond": 1e-3, "ns": 1e-3, "usecond": 1.0, "us": 1.0, "msecond": 1e3, "ms": 1e3}.get(unit, 1e-3)
total = 0.0
for r in rows:
    us = float(r["Metric Value"].replace(",", "")) * scale
    name = r["Kernel Name"].split("(")[0][:60]
    by_kernel[name][0] += 1; by_kernel[name][1] += us; total += us
steps = int(sys.argv[2])  # one prefill + the decode steps (recorded graphs replay as kernels)
print(f"kernels: {len(rows)} launches, {total/1e3:.2f} ms of kernel time in {steps} steps "
      f"({total/steps/1e3:.3f} ms per step on average, prefill included)")
print("| kernel | launches | total us | us per launch |")
print("|---|---|---|---|")
for name, (n, us) in sorted(by_kernel.items(), key=lambda kv: -kv[1][1])[:20]:
    print(f"| {name} | {n} | {us:.0f} | {us/n:.1f} |")
PY
