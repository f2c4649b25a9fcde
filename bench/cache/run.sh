#!/usr/bin/env bash
# Exact response-cache hits over HTTP against generating the same answer, on this machine's CPU
# with the demo model brisk-tiny. One command:  bash bench/cache/run.sh [BUILD_DIR]
# - starts two servers on free loopback ports (stopped by PID at the end): A with the response
#   cache (the default), B without it (--disable-response-cache; its prefix KV cache stays on)
# - every request is the same greedy, streamed /v1/completions request (64 prompt tokens, 32
#   generated with ignore_eos), sent by `brisk bench serve --distinct-prompts 1`
# - A is warmed with that request once, so every measured request on A is a hit; three rounds
#   alternate A (400 hits at concurrency 1, then 2,000 at concurrency 8) and B (40 generations at
#   concurrency 1)
# - prints a table and writes bench/results/<date>-cache-cpu.md (JSON of every run beside it)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build/cpu-release}
brisk="$build/src/cli/brisk"
[ -x "$brisk" ] || { echo "missing $brisk: build first (make build)" >&2; exit 1; }
out=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$out"
}
trap cleanup EXIT
url=""
start() {  # start NAME FLAGS...: sets $url to the server's URL
  local name=$1; shift
  "$brisk" serve --port 0 --threads "$(nproc)" --no-embedding-model "$@" 2> "$out/$name.log" &
  pids+=($!)
  for _ in $(seq 200); do grep -q "brisk: ready" "$out/$name.log" && break; sleep 0.05; done
  grep -q "brisk: ready" "$out/$name.log" || { cat "$out/$name.log" >&2; exit 1; }
  url="http://127.0.0.1:$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$out/$name.log" | grep -o '[0-9]*$')"
}
start cached
url_a=$url
start uncached --disable-response-cache
url_b=$url
same=(--input-len 64 --output-len 32 --distinct-prompts 1 --seed 7)
bench() { "$brisk" bench serve "$@" "${same[@]}"; }

bench --url "$url_a" --concurrency 1 --num-requests 1 > /dev/null  # the one miss
bench --url "$url_b" --concurrency 1 --num-requests 4 > /dev/null  # warm-up
for round in 1 2 3; do
  bench --url "$url_a" --concurrency 1 --num-requests 400 --json-out "$out/hit1-$round.json" | tail -n 3
  bench --url "$url_a" --concurrency 8 --num-requests 2000 --json-out "$out/hit8-$round.json" | tail -n 3
  bench --url "$url_b" --concurrency 1 --num-requests 40 --json-out "$out/gen-$round.json" | tail -n 3
done
hits=$(curl -s "$url_a/metrics" | awk '/^brisk_response_cache_lookups_total\{.*result="hit"/ {s+=$2} END {print s+0}')

python3 - "$out" "$root" "$hits" <<'PY'
import datetime, json, os, statistics, subprocess, sys
out, root, hits = sys.argv[1], sys.argv[2], int(float(sys.argv[3]))
def runs(prefix):
    rs = [json.load(open(os.path.join(out, f"{prefix}-{i}.json"))) for i in (1, 2, 3)]
    for r in rs:
        assert r["requests_failed"] == 0, r["first_error"]
    return rs
def med(rs, *path):
    vals = []
    for r in rs:
        v = r
        for p in path:
            v = v[p]
        vals.append(v)
    return statistics.median(vals)
hit1, hit8, gen = runs("hit1"), runs("hit8"), runs("gen")
expected_hits = sum(r["requests_ok"] for r in hit1 + hit8)
assert hits >= expected_hits, f"server counted {hits} hits, expected at least {expected_hits}"
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
commit = subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
def row(name, rs, c):
    return (f"| {name} | {c} | {sum(r['requests_ok'] for r in rs)} | {med(rs, 'e2e_ms', 'p50'):.3f} | "
            f"{med(rs, 'e2e_ms', 'p99'):.3f} | {med(rs, 'ttft_ms', 'p50'):.3f} | "
            f"{med(rs, 'requests_ok') / med(rs, 'duration_s'):.0f} |")
ratio = med(hit1, "e2e_ms", "p50") / med(gen, "e2e_ms", "p50")
table = "\n".join([
    "| request | concurrency | requests | E2E p50 ms | E2E p99 ms | TTFT p50 ms | requests/s |",
    "|---|---|---|---|---|---|---|",
    row("exact-cache hit (server A)", hit1, 1), row("exact-cache hit (server A)", hit8, 8),
    row("generated (server B, no response cache)", gen, 1)])
summary = (f"hit / generated E2E p50: {100 * ratio:.2f} % ({1 / ratio:.0f}x faster); "
           f"server A counted {hits} hits")
print(table); print(); print(summary)
date = datetime.date.today().isoformat()
path = os.path.join(root, "bench", "results", f"{date}-cache-cpu.md")
with open(path, "w") as f:
    f.write(f"""# Exact response-cache hits over HTTP ({date})

Machine: {cpu}, {os.cpu_count()} cores (the load generator shares them with the server).
Commit: {commit}. Command: `bash bench/cache/run.sh` (Release build, `brisk serve --threads
{os.cpu_count()}`, demo model brisk-tiny). Every request is the same greedy streamed
`/v1/completions` request: 64 token-id prompt tokens, 32 generated tokens with ignore_eos. Server A
has the response cache (default settings: memory tier, 256 MiB) and answers every measured
request from it; server B has no response cache (its prefix KV cache still serves the prompt).
Rounds alternate A and B three times; figures are medians of the three rounds. E2E is measured
by the client from sending the request to the end of the SSE stream, on a keep-alive connection.

{table}

{summary}.

What limits it: a hit costs parsing the request, hashing its canonical form (SHA-256), one
lookup in the in-memory LRU, and writing the recorded SSE events with a new id; the server-side
lookup itself takes microseconds (`brisk_response_cache_lookup_seconds`). The rest is HTTP on
loopback and the client's own work on the same two cores; at concurrency 8 the client threads
and the server's HTTP threads compete for them.
""")
print(f"wrote {path}")
PY
