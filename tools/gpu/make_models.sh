#!/usr/bin/env bash
# One command on the GPU machine that makes every checkpoint brisk commits:
#   - trains the demo model brisk-tiny (GPU) from the corpus of tools/prepare_corpus.sh
#   - makes the golden decoder fixtures (CPU, in parallel with training)
# The corpus travels with the working tree as data/corpus (git-ignored; run
# tools/prepare_corpus.sh here first). Results land in $OUT (default ./out):
#   model.safetensors          brisk-tiny weights (bf16)
#   brisk-tiny-meta.tar.gz     brisk-tiny config, tokenizer, training report, reference outputs
#   golden.tar.gz              tests/fixtures/golden/*
#   log.txt
# Unpack with tools/gpu/unpack_models.sh OUT_DIR.
set -euo pipefail
OUT=${OUT:-out}
mkdir -p "$OUT"
work=$(mktemp -d)
export PYTHONUNBUFFERED=1
python3 -c 'import torch, transformers, tokenizers; print("torch", torch.__version__, "transformers", transformers.__version__, "tokenizers", tokenizers.__version__, "cuda", torch.cuda.is_available())'

( CUDA_VISIBLE_DEVICES= OMP_NUM_THREADS=4 python3 tools/make_golden_fixtures.py --out "$work/golden" > "$work/golden.log" 2>&1; echo "golden exit $?" >> "$work/golden.log" ) &
golden_pid=$!

python3 tools/train_brisk_tiny.py --corpus data/corpus --out "$work/brisk-tiny" "$@" 2>&1 | tee "$work/train.log"

wait "$golden_pid" || true
cat "$work/golden.log"
cp "$work/brisk-tiny/model.safetensors" "$OUT/model.safetensors"
tar -C "$work/brisk-tiny" --exclude model.safetensors -czf "$OUT/brisk-tiny-meta.tar.gz" .
tar -C "$work" -czf "$OUT/golden.tar.gz" golden
cat "$work/train.log" "$work/golden.log" > "$OUT/log.txt"
ls -la "$OUT"
