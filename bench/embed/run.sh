#!/usr/bin/env bash
# The demo embedder brisk-tiny-embed served by `brisk serve` on this machine's CPU.
# One command:  bash bench/embed/run.sh [BRISK_BINARY]   (or BRISK=path; THREADS=N, default nproc)
# - starts the server on a free loopback port with the response cache off (stopped by PID at the end)
# - quality through the server: the held-out verses of the training run are rebuilt, embedded
#   through POST /v1/embeddings and scored (retrieval both ways, semantic-cache precision-recall
#   curve), beside the training report's transformers numbers
# - speed: one verse per request at concurrency 1 and 8, and one request of 64 verses
# - prints the tables and writes bench/results/<date>-embeddings-cpu.md (JSON of every number beside it)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
brisk=${1:-${BRISK:-$root/build/cpu-release/src/cli/brisk}}
threads=${THREADS:-$(nproc)}
[ -x "$brisk" ] || { echo "missing $brisk: build first (make build) or pass the binary" >&2; exit 1; }
[ -f "$root/data/embed/pairs.tsv" ] ||
  { echo "missing data/embed/pairs.tsv: run bash tools/prepare_embed_pairs.sh" >&2; exit 1; }
out=$(mktemp -d)
log="$out/server.log"
"$brisk" serve --port 0 --threads "$threads" --disable-response-cache \
  --embedding-model "$root/models/brisk-tiny-embed" 2> "$log" &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null; rm -rf "$out"' EXIT
for _ in $(seq 300); do
  grep -q "brisk: ready" "$log" && break
  kill -0 "$server" 2>/dev/null || { cat "$log" >&2; exit 1; }
  sleep 0.1
done
grep -q "brisk: ready" "$log" || { echo "server not ready after 30 s" >&2; cat "$log" >&2; exit 1; }
port=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$log" | grep -o '[0-9]*$')

date=$(date +%F)
python3 "$root/bench/embed/quality.py" --url "http://127.0.0.1:$port" --server-threads "$threads" \
  --results "$root/bench/results/$date-embeddings-cpu.md" \
  --json-out "$root/bench/results/$date-embeddings-cpu.json" \
  --command "bash bench/embed/run.sh" --build-info "; binary: ${brisk#"$root"/}"
