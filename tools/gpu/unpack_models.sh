#!/usr/bin/env bash
# Puts what tools/gpu/make_models.sh wrote into its output folder where the repository keeps it.
# Usage: tools/gpu/unpack_models.sh OUT_DIR
set -euo pipefail
out=${1:?usage: unpack_models.sh OUT_DIR}
root=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$root/models/brisk-tiny" "$root/tests/fixtures"
tar -C "$root/models/brisk-tiny" -xzf "$out/brisk-tiny-meta.tar.gz"
cp "$out/model.safetensors" "$root/models/brisk-tiny/model.safetensors"
tar -C "$root/tests/fixtures" -xzf "$out/golden.tar.gz"
chmod 644 "$root"/models/brisk-tiny/* "$root"/tests/fixtures/golden/*/*
echo "unpacked into models/brisk-tiny and tests/fixtures/golden"
