#!/usr/bin/env bash
# Serving speed of `brisk serve` on this machine's CPU with the demo model brisk-tiny.
# One command:  bash bench/serve/run.sh [BUILD_DIR]
# - starts the server on a free loopback port (stopped by PID at the end)
# - warms up, then runs `brisk bench serve` at fixed concurrency 1, 8 and 32 (token-id prompts
#   of 128 tokens, 64 generated tokens with ignore_eos, greedy)
# - prefix reuse: requests of 1,024 tokens whose first 1,000 are shared, one at a time, three
#   seeds; request 0 of each run is cold, the others hit the prefix cache
# - prints a table and writes bench/results/<date>-serve-cpu.md (JSON of every run beside it)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build/cpu-release}
brisk="$build/src/cli/brisk"
[ -x "$brisk" ] || { echo "missing $brisk: build first (make build)" >&2; exit 1; }
out=$(mktemp -d)
log="$out/server.log"
"$brisk" serve --port 0 --threads "$(nproc)" 2> "$log" &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null; rm -rf "$out"' EXIT
for _ in $(seq 100); do grep -q "brisk: ready" "$log" && break; sleep 0.1; done
port=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$log" | grep -o '[0-9]*$')
url="http://127.0.0.1:$port"
bench() { "$brisk" bench serve --url "$url" "$@"; }

bench --concurrency 4 --num-requests 16 --input-len 128 --output-len 32 --seed 100 > /dev/null
for c in 1 8 32; do
  n=$((c * 8 < 32 ? 32 : c * 8))
  bench --concurrency "$c" --num-requests "$n" --input-len 128 --output-len 64 --seed "$c" \
    --json-out "$out/c$c.json" | tail -n 12
done
for seed in 11 12 13; do
  bench --concurrency 1 --num-requests 5 --input-len 1024 --shared-prefix-len 1000 \
    --output-len 4 --seed "$seed" --json-out "$out/prefix$seed.json" | tail -n 2
done

python3 - "$out" "$root" "$build" <<'PY'
import datetime, glob, json, os, platform, statistics, subprocess, sys
out, root, build = sys.argv[1:4]
def load(name): return json.load(open(os.path.join(out, name)))
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
commit = subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
rows = []
for c in (1, 8, 32):
    r = load(f"c{c}.json")
    assert r["requests_failed"] == 0, r["first_error"]
    rows.append(f"| {c} | {r['requests_ok']} | {r['output_tokens_per_s']:.0f} | {r['ttft_ms']['p50']:.1f} | "
                f"{r['ttft_ms']['p99']:.1f} | {r['itl_ms']['p50']:.2f} | {r['itl_ms']['p99']:.2f} | {r['e2e_ms']['p50']:.0f} |")
cold, warm = [], []
for seed in (11, 12, 13):
    p = load(f"prefix{seed}.json")
    assert p["requests_failed"] == 0, p["first_error"]
    cold.append(p["shared_prefix"]["cold_ttft_ms"]); warm.append(p["shared_prefix"]["warm_ttft_p50_ms"])
ratio = statistics.median(warm) / statistics.median(cold)
table = "\n".join([
    "| concurrency | requests | output tok/s | TTFT p50 ms | TTFT p99 ms | ITL p50 ms | ITL p99 ms | E2E p50 ms |",
    "|---|---|---|---|---|---|---|---|", *rows])
prefix = (f"| 1,024-token prompt, 1,000 shared | cold TTFT {statistics.median(cold):.1f} ms | "
          f"prefix-hit TTFT {statistics.median(warm):.1f} ms | hit/cold {100 * ratio:.1f} % |")
print(table); print(); print(prefix)
date = datetime.date.today().isoformat()
path = os.path.join(root, "bench", "results", f"{date}-serve-cpu.md")
with open(path, "w") as f:
    f.write(f"""# brisk serve on the CPU, brisk-tiny ({date})

- machine: {cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}
- commit: {commit}; build: {os.path.relpath(build, root)}
- command: `bash bench/serve/run.sh` (server: `brisk serve --threads {os.cpu_count()}`, defaults
  otherwise: max_num_batched_tokens 512, max_num_seqs 64, prefix caching on; client:
  `brisk bench serve` on the same machine, streaming /v1/completions, token-id prompts of 128
  tokens, 64 generated tokens with ignore_eos, temperature 0, fixed concurrency; runs of
  max(32, 8 x concurrency) requests after a 16-request warm-up)

## Throughput and latency by concurrency

{table}

## Prefix reuse

Requests of 1,024 prompt tokens whose first 1,000 are shared, sent one at a time (5 per run,
3 runs with different seeds). Request 0 of each run is cold; the others find 992 tokens (62
blocks of 16) in the prefix cache and prefill only the rest. Medians over the runs; target:
hit TTFT at most 20 % of cold.

{prefix}

Cold TTFTs {', '.join(f'{x:.1f}' for x in cold)} ms; hit TTFT medians {', '.join(f'{x:.1f}' for x in warm)} ms.
""")
print("wrote", os.path.relpath(path, root))
PY
