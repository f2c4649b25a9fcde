#!/usr/bin/env bash
# CPU decode and prefill speed of brisk, next to the floor that this machine's memory
# bandwidth allows. One command:  bash bench/cpu/run.sh [BUILD_DIR]
# - measures read bandwidth with every core (bench/cpu/read_bandwidth.cc)
# - writes a random bf16 checkpoint in the exact shape of Llama-3.2-1B (once, data/bench/)
# - runs `brisk generate` on brisk-tiny and on that checkpoint (prefill in f32, and in bf16 with
#   --prefill-precision bf16): a 512-token id prompt, 64 greedy tokens, REPEATS times
#   interleaved; reports medians
# - prints a table and writes bench/results/<date>-cpu-decode.md
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build/cpu-release}
repeats=${REPEATS:-3}
brisk="$build/src/cli/brisk"
for bin in "$brisk" "$build/bench/cpu/brisk_read_bandwidth" "$build/bench/cpu/brisk_make_random_checkpoint"; do
  [ -x "$bin" ] || { echo "missing $bin: build first (make build)" >&2; exit 1; }
done
threads=$(nproc)
ckpt="$root/data/bench/llama-3.2-1b"
if [ ! -f "$ckpt/model.safetensors" ]; then
  mkdir -p "$ckpt"
  echo "writing a random Llama-3.2-1B-shape checkpoint to $ckpt (2.5 GB, once)" >&2
  "$build/bench/cpu/brisk_make_random_checkpoint" --shape llama-3.2-1b "$ckpt"
fi
bw=$(OMP_NUM_THREADS=$threads "$build/bench/cpu/brisk_read_bandwidth" 2 | awk '{print $2}')
prompt=$(python3 -c 'import random; r=random.Random(0); print(",".join(str(r.randrange(3, 8000)) for _ in range(512)))')
log=$(mktemp)
# name, model folder, prefill precision
configs=("brisk-tiny $root/models/brisk-tiny f32" "llama-3.2-1b $ckpt f32" "llama-3.2-1b-bf16-prefill $ckpt bf16")
for rep in $(seq "$repeats"); do
  for config in "${configs[@]}"; do
    read -r name model precision <<< "$config"
    "$brisk" generate --model "$model" --prompt-ids "$prompt" --max-tokens 64 --temperature 0 \
      --ignore-eos --print-ids --threads "$threads" --prefill-precision "$precision" \
      2>&1 >/dev/null | grep '^prefill' | sed "s|^|$name |" >> "$log"
  done
done
python3 - "$log" "$bw" "$root" "$build" "$threads" "$repeats" <<'PY'
import datetime, json, re, statistics, subprocess, sys
log, bw, root, build, threads, repeats = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
runs = {}
for line in open(log):
    m = re.match(r"(\S+) prefill: (\d+) tokens in ([\d.]+) ms \(([\d.]+) tok/s\); decode: (\d+) tokens in ([\d.]+) ms \(([\d.]+) tok/s\)", line)
    if m:
        runs.setdefault(m.group(1), []).append((float(m.group(4)), float(m.group(7))))
def weight_bytes(model_dir):
    c = json.load(open(model_dir + "/config.json"))
    h, i, l, v = c["hidden_size"], c["intermediate_size"], c["num_hidden_layers"], c["vocab_size"]
    hd = c.get("head_dim") or h // c["num_attention_heads"]
    q, kv = c["num_attention_heads"] * hd, c["num_key_value_heads"] * hd
    per_layer = h * q + 2 * h * kv + q * h + 3 * h * i
    return 2 * (per_layer * l + v * h)  # bf16; the lm_head is read every token, the embedding row is not
rows = []
for name, model_dir in [("brisk-tiny", root + "/models/brisk-tiny"), ("llama-3.2-1b", root + "/data/bench/llama-3.2-1b"),
                        ("llama-3.2-1b-bf16-prefill", root + "/data/bench/llama-3.2-1b")]:
    r = runs.get(name, [])
    if not r:
        continue
    wb = weight_bytes(model_dir)
    floor = bw * 1e9 / wb
    dec = statistics.median(x[1] for x in r)
    pre = statistics.median(x[0] for x in r)
    rows.append((name, wb / 1e9, pre, dec, floor, 100 * dec / floor, len(r),
                 min(x[1] for x in r), max(x[1] for x in r)))
commit = subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
table = ["| model | weights GB | prefill tok/s (512) | decode tok/s (min-max) | floor tok/s | decode / floor | runs |",
         "|---|---|---|---|---|---|---|"]
for n, gb, pre, dec, floor, pct, k, lo, hi in rows:
    table.append(f"| {n} | {gb:.3f} | {pre:.1f} | {dec:.1f} ({lo:.1f}-{hi:.1f}) | {floor:.1f} | {pct:.0f} % | {k} |")
date = datetime.date.today().isoformat()
out = f"{root}/bench/results/{date}-cpu-decode.md"
# Hand-written analysis (from the first "## " heading on) survives a rerun.
kept = ""
try:
    text = open(out).read()
    at = text.find("\n## ")
    kept = text[at:] if at >= 0 else ""
except FileNotFoundError:
    pass
with open(out, "w") as f:
    f.write(f"# CPU decode and prefill, {date}\n\n")
    f.write(f"- machine: {cpu}, {threads} threads; measured read bandwidth {bw:.1f} GB/s\n")
    f.write(f"- commit: {commit}; build: {build.replace(root + '/', '')}\n")
    f.write(f"- command: `bash bench/cpu/run.sh` (REPEATS={repeats}); prompt: 512 random token ids, 64 greedy tokens, medians\n")
    f.write("- floor: bf16 weight bytes read per decoded token / read bandwidth\n\n")
    f.write("\n".join(table) + "\n")
    f.write(kept)
print("\n".join(table))
print(f"read bandwidth {bw:.1f} GB/s; results written to {out.replace(root + '/', '')}")
PY
