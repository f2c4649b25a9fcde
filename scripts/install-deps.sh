#!/usr/bin/env bash
# Installs every Debian and npm dependency brisk needs to build, test and run.
# Idempotent: packages already present are skipped, so a second run takes seconds; the npm
# packages of tools/oracle/ (exact versions from its package-lock.json) are installed again only
# when node_modules is missing or older than the lock file.
# Runs as root, or through sudo otherwise.
#   scripts/install-deps.sh          build + test dependencies
#   scripts/install-deps.sh --data   also the public-domain corpora used to train the demo models
set -euo pipefail

want_data=0
for arg in "$@"; do
  case "$arg" in
    --data) want_data=1 ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    *) echo "install-deps: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

build_pkgs=(
  build-essential g++ cmake ninja-build make pkg-config git python3
  libgtest-dev libgmock-dev libbenchmark-dev
  libabsl-dev nlohmann-json3-dev libcli11-dev libpcre2-dev libutf8proc-dev
  libopenblas-dev libomp-dev libboost-dev libssl-dev libfaiss-dev
  librocksdb-dev libhiredis-dev  # persistent response-cache stores (src/cache)
  redis-server  # the Redis store's tests start their own server
  prometheus  # promtool checks the /metrics exposition in tests
)
data_pkgs=(
  bible-kjv-text bible-kjv sword-text-web diatheke r-base-core r-cran-janeaustenr jargon-text dict-devil
)

pkgs=("${build_pkgs[@]}")
if [ "$want_data" = 1 ]; then pkgs+=("${data_pkgs[@]}"); fi

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-deps: all ${#pkgs[@]} Debian packages present"
else
  echo "install-deps: installing ${#missing[@]} Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Node.js runs the JavaScript oracles of the tokenizer and chat-template tests.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "install-deps: installing Debian nodejs and npm"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends nodejs npm
fi

root=$(cd "$(dirname "$0")/.." && pwd)
oracle="$root/tools/oracle"
if [ ! -d "$oracle/node_modules" ] || [ "$oracle/package-lock.json" -nt "$oracle/node_modules" ]; then
  echo "install-deps: installing the npm packages of tools/oracle (package-lock.json)"
  (cd "$oracle" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
  touch "$oracle/node_modules"
else
  echo "install-deps: npm packages of tools/oracle present"
fi
