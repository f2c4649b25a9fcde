#!/usr/bin/env bash
# One command on the GPU machine that trains the demo embedder brisk-tiny-embed
# (tools/train_brisk_tiny_embed.py) from the verse pairs of tools/prepare_embed_pairs.sh.
# The pairs travel with the working tree as data/embed (git-ignored; run
# tools/prepare_embed_pairs.sh here first). Through the device tool, from the repository root:
#   run(command="bash tools/gpu/make_embed_model.sh", carry=["data/embed"])
# Extra arguments go to the training script (e.g. --train-seconds 60). Results land in $OUT
# (default ./out):
#   model.safetensors               brisk-tiny-embed weights (bf16, BertModel, no prefix)
#   brisk-tiny-embed-meta.tar.gz    config, tokenizer, sentence-transformers files,
#                                   training_report.json, reference.json
#   log.txt
# Unpack with tools/gpu/unpack_embed_model.sh OUT_DIR.
set -euo pipefail
OUT=${OUT:-out}
mkdir -p "$OUT"
work=$(mktemp -d)
export PYTHONUNBUFFERED=1
test -s data/embed/pairs.tsv || { echo "data/embed/pairs.tsv missing: run tools/prepare_embed_pairs.sh and carry data/embed"; exit 1; }
{
  python3 -c 'import torch, transformers, tokenizers, sentence_transformers; print("torch", torch.__version__, "transformers", transformers.__version__, "tokenizers", tokenizers.__version__, "sentence-transformers", sentence_transformers.__version__, "cuda", torch.cuda.is_available())'
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
} 2>&1 | tee "$work/versions.log"

status=0
python3 tools/train_brisk_tiny_embed.py --pairs data/embed/pairs.tsv --out "$work/brisk-tiny-embed" "$@" \
  2>&1 | tee "$work/train.log" || status=$?

cat "$work/versions.log" "$work/train.log" > "$OUT/log.txt"
if [ -f "$work/brisk-tiny-embed/model.safetensors" ]; then
  cp "$work/brisk-tiny-embed/model.safetensors" "$OUT/model.safetensors"
  tar -C "$work/brisk-tiny-embed" --exclude model.safetensors -czf "$OUT/brisk-tiny-embed-meta.tar.gz" .
fi
ls -la "$OUT"
exit "$status"
