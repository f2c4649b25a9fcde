#!/usr/bin/env bash
# Puts what tools/gpu/make_embed_model.sh wrote into its output folder into
# models/brisk-tiny-embed/ (the model card README.md there is kept).
# Usage: tools/gpu/unpack_embed_model.sh OUT_DIR
set -euo pipefail
out=${1:?usage: unpack_embed_model.sh OUT_DIR}
root=$(cd "$(dirname "$0")/../.." && pwd)
dest="$root/models/brisk-tiny-embed"
mkdir -p "$dest"
tar -C "$dest" -xzf "$out/brisk-tiny-embed-meta.tar.gz"
cp "$out/model.safetensors" "$dest/model.safetensors"
find "$dest" -type d -exec chmod 755 {} +
find "$dest" -type f -exec chmod 644 {} +
echo "unpacked into models/brisk-tiny-embed:"
(cd "$dest" && find . -type f | sort | sed 's|^\./|  |')
