#!/usr/bin/env bash
# Downloads into .deb/ (git-ignored) the Debian 12 packages that tools/gpu/build.sh unpacks on the
# GPU machine, which has no package registry. Run it here (Debian 12 amd64, apt lists current).
# Idempotent: a package whose .deb is already in .deb/ is not fetched again.
#
# What travels and why (only what the CMake files really ask for):
#   find_package(absl)          libabsl-dev + libabsl20220623 (the .so files its targets name)
#   find_package(nlohmann_json) nlohmann-json3-dev      find_package(CLI11)   libcli11-dev
#   find_package(GTest)         libgtest-dev + libgmock-dev (static libs, headers, CMake config)
#   find_package(OpenSSL)       libssl-dev + libssl3
#   pkg libpcre2-8              libpcre2-dev + libpcre2-8-0
#   pkg libutf8proc             libutf8proc-dev + libutf8proc2 (Ubuntu 24.04 ships soname .so.3)
#   pkg-config itself           pkgconf-bin + libpkgconf3 (used when the machine has none)
#   pkg rocksdb                 librocksdb-dev + librocksdb7.8, and the two libraries of its
#                               own that a bare Ubuntu 24.04 lacks: libsnappy1v5, libgflags2.2
#                               (its zlib, bz2, lz4 and zstd sonames are in the base system)
#   pkg hiredis                 libhiredis-dev + libhiredis0.14 (Ubuntu 24.04 ships 1.1.0)
#   find_package(faiss)         libfaiss-dev (Debian ships only the static libfaiss.a, so there
#                               is no runtime package); its CMake target links BLAS and LAPACK:
#                               libblas3 + liblapack3 (reference builds, much smaller than
#                               OpenBLAS) and libgfortran5, which liblapack3 needs. No libblas-dev
#                               or liblapack-dev: build.sh makes the libblas.so/liblapack.so
#                               links that Debian's alternatives would make.
#   find_package(Boost)         boost-1.74-headers-subset.tar.xz: only the Boost libraries that
#                               Asio and Beast (with SSL and WebSocket) include, plus Boost's
#                               CMake config, cut from libboost1.74-dev (9 MiB .deb, 135 MiB of
#                               headers). A new Boost include outside that set needs a re-run
#                               with the header added to boost_seeds below, after deleting the
#                               tarball.
# Not carried: libomp-dev (gcc uses its own libgomp), libopenblas-dev and libbenchmark-dev (no
# CMake file links them), googletest (sources only), libpcre2-16/32/posix (not linked), the -dev
# packages that librocksdb-dev depends on (brisk links only librocksdb.so, whose own
# dependencies need their runtime sonames alone), libquadmath0 (libgfortran5 needs it; gcc 13
# brings it).
# Usage: tools/gpu/fetch_debs.sh        (then name ".deb" in the device call's carry list)
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
dest="$root/.deb"
max_bytes=$((40 * 1024 * 1024))  # leaves room for the repository in the 64 MiB carry

debs=(
  libabsl-dev libabsl20220623
  nlohmann-json3-dev libcli11-dev
  libgtest-dev libgmock-dev
  libssl-dev libssl3
  libpcre2-dev libpcre2-8-0
  libutf8proc-dev libutf8proc2
  pkgconf-bin libpkgconf3
  librocksdb-dev librocksdb7.8 libsnappy1v5 libgflags2.2
  libhiredis-dev libhiredis0.14
  libfaiss-dev libblas3 liblapack3 libgfortran5
)
boost_pkg=libboost1.74-dev
boost_tar=boost-1.74-headers-subset.tar.xz
# Headers brisk includes (or may reasonably include next) from Boost; their closure decides which
# whole Boost libraries go into the tarball.
boost_seeds=(
  boost/asio.hpp boost/asio/ssl.hpp
  boost/beast.hpp boost/beast/core.hpp boost/beast/http.hpp boost/beast/ssl.hpp
  boost/beast/websocket.hpp boost/beast/websocket/ssl.hpp
)
multiarch=x86_64-linux-gnu

say() { echo "fetch-debs: $*"; }
die() { echo "fetch-debs: ERROR: $*" >&2; exit 1; }

[ "$(dpkg --print-architecture)" = amd64 ] || die "this machine is not amd64; the GPU machine is"
grep -q 'VERSION_ID="12"' /etc/os-release || say "warning: this is not Debian 12; the packages will match this release instead"
for tool in apt-get dpkg-deb g++ tar xz; do
  command -v "$tool" >/dev/null || die "'$tool' is missing here"
done
mkdir -p "$dest"
# Downloads into a folder _apt cannot read warn unless apt is told to stay root.
apt_opts=()
if [ "$(id -u)" -eq 0 ]; then apt_opts=(-o APT::Sandbox::User=root); fi

# 1. The .deb files themselves.
for pkg in "${debs[@]}"; do
  have=$(find "$dest" -maxdepth 1 -type f -name "${pkg}_*_*.deb" | head -n 1)
  if [ -n "$have" ]; then
    say "have $(basename "$have")"
    continue
  fi
  say "downloading $pkg"
  if ! (cd "$dest" && apt-get download -q "${apt_opts[@]}" "$pkg"); then
    die "apt-get download $pkg failed (stale package lists? run 'apt-get update' and retry)"
  fi
done
for f in "$dest"/*.deb; do
  name=$(dpkg-deb -f "$f" Package) || die "$f is not a valid .deb"
  arch=$(dpkg-deb -f "$f" Architecture)
  [ "$arch" = amd64 ] || [ "$arch" = all ] || die "$f is for $arch, not amd64"
  count=$(find "$dest" -maxdepth 1 -type f -name "${name}_*.deb" | wc -l)
  [ "$count" -eq 1 ] || die "$count versions of $name in $dest; delete the older ones"
done

# 2. The Boost subset: every Boost library that the seeds reach, each taken whole.
if [ -f "$dest/$boost_tar" ]; then
  say "have $boost_tar"
else
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  say "downloading $boost_pkg to cut $boost_tar"
  (cd "$work" && apt-get download -q "${apt_opts[@]}" "$boost_pkg") || die "apt-get download $boost_pkg failed"
  mkdir "$work/tree"
  dpkg-deb -x "$work"/${boost_pkg}_*.deb "$work/tree"
  # OpenSSL headers for the SSL seeds come from the carried libssl-dev, not from this machine.
  dpkg-deb -x "$dest"/libssl-dev_*.deb "$work/tree"
  inc="$work/tree/usr/include"
  printf '#include <%s>\n' "${boost_seeds[@]}" > "$work/seeds.cc"
  for std in c++17 c++20; do
    g++ -std=$std -pthread -M -isystem "$inc" -isystem "$inc/$multiarch" "$work/seeds.cc" \
      || die "the Boost seeds do not compile with g++ -std=$std (see above)"
  done | tr ' \\' '\n\n' | grep "^$inc/boost/" | sed "s|^$inc/boost/||; s|/.*||" | sort -u \
    > "$work/libs.txt"
  members=()
  while read -r lib; do
    base=${lib%.hpp}
    for cand in "usr/include/boost/$lib" "usr/include/boost/$base" "usr/include/boost/$base.hpp"; do
      if [ -e "$work/tree/$cand" ]; then members+=("$cand"); fi
    done
  done < "$work/libs.txt"
  mapfile -t members < <(printf '%s\n' "${members[@]}" | sort -u)
  cmake_dir="usr/lib/$multiarch/cmake"
  for cfg in Boost-1.74.0 boost_headers-1.74.0 BoostDetectToolset-1.74.0.cmake; do
    [ -e "$work/tree/$cmake_dir/$cfg" ] || die "$boost_pkg lacks $cmake_dir/$cfg"
    members+=("$cmake_dir/$cfg")
  done
  members+=("usr/share/doc/$boost_pkg/copyright")
  say "Boost libraries kept: $(sed 's/\.hpp$//' "$work/libs.txt" | sort -u | tr '\n' ' ')"
  tar -C "$work/tree" -cJf "$dest/$boost_tar.part" "${members[@]}"
  mv "$dest/$boost_tar.part" "$dest/$boost_tar"
fi

# 3. What travels, and how much.
echo
total=0
while read -r size file; do
  printf '  %9d  %s\n' "$size" "$file"
  total=$((total + size))
done < <(find "$dest" -maxdepth 1 -type f \( -name '*.deb' -o -name '*.tar.xz' \) -printf '%s %f\n' | sort -k2)
printf '  %9d  total (%d KiB) in %s\n' "$total" $((total / 1024)) "$dest"
[ "$total" -lt "$max_bytes" ] || die "the .deb folder is over $((max_bytes / 1024 / 1024)) MiB; the device call carries at most 64 MiB with the repository"
say "done; carry it with the device call: carry [\".deb\"], then run tools/gpu/build.sh there"
