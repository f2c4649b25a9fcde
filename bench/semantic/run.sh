#!/usr/bin/env bash
# Speed and recall of the semantic cache's index (src/cache/semantic_index.h) on this CPU.
# One command:  bash bench/semantic/run.sh [BUILD_DIR] [--full]
# - synthetic clustered unit vectors (D = 256, spectrum decay 0.5): 10,000 entries in flat, HNSW
#   and PCA (256 -> 64) modes; with --full also 1,000,000 entries in HNSW and PCA modes (the
#   HNSW build of 1M vectors takes about 10 minutes on 2 cores)
# - real embeddings: brisk-tiny-embed's vectors of the 31,095 KJV verses then their WEB
#   renderings (through `brisk serve`'s /v1/embeddings; tools/prepare_embed_pairs.sh first),
#   the last 5,000 WEB vectors as queries against the other 57,190 (their KJV renderings among
#   them): what HNSW and PCA cost on real data
# Prints markdown tables (brisk_semantic_bench's output); the results file is written by hand
# from them (bench/results/<date>-semantic-index.md).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build/cpu-release}
full=${2:-}
bench="$build/bench/semantic/brisk_semantic_bench"
brisk="$build/src/cli/brisk"
for f in "$bench" "$brisk"; do [ -x "$f" ] || { echo "missing $f: build first" >&2; exit 1; }; done
pairs="$root/data/embed/pairs.tsv"
[ -f "$pairs" ] || bash "$root/tools/prepare_embed_pairs.sh"
out=$(mktemp -d)
server=""
trap '[ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$out"' EXIT

echo "## synthetic, 10,000 entries"
"$bench" --entries 10000 --spectrum-decay 0.5
if [ "$full" = "--full" ]; then
  echo "## synthetic, 1,000,000 entries"
  "$bench" --entries 1000000 --modes hnsw pca --spectrum-decay 0.5 --queries 2000
fi

echo "## real: brisk-tiny-embed vectors of KJV and WEB verses"
"$brisk" serve --port 0 --threads "$(nproc)" --disable-response-cache 2> "$out/server.log" &
server=$!
for _ in $(seq 200); do grep -q "brisk: ready" "$out/server.log" && break; sleep 0.05; done
port=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$out/server.log" | grep -o '[0-9]*$')
python3 "$root/bench/semantic/embed_verses.py" "http://127.0.0.1:$port" "$pairs" "$out/verses.f32"
kill "$server"; wait "$server" 2>/dev/null || true; server=""
# Every KJV verse and the first 26,095 WEB verses are stored; the last 5,000 WEB verses ask.
"$bench" --vectors "$out/verses.f32" --dim 256 --queries 5000 --threshold 0.6 --entries 57190
