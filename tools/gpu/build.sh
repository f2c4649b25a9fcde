#!/usr/bin/env bash
# Builds brisk on the GPU machine (Ubuntu 24.04, gcc 13, CUDA in /usr/local/cuda, no package
# registry) from the Debian 12 packages that tools/gpu/fetch_debs.sh put into .deb/.
# Run from anywhere inside the repository; it works from the repository root.
#   tools/gpu/build.sh [TARGET...]          default target: all
# Through the device tool (the command runs in a copy of the working tree; .deb is git-ignored,
# so it must be named in carry):
#   run(command="tools/gpu/build.sh && source build/gpu/env.sh &&
#                ctest --test-dir build/gpu --output-on-failure -j8", carry=[".deb"])
# Steps: unpack every .deb (dpkg -x) and the Boost tarball into $BRISK_PREFIX (never into /),
# point the .pc files and the CMake configs' library paths at it, make the BLAS/LAPACK links that
# Debian's alternatives would make, configure with CMAKE_PREFIX_PATH=$BRISK_PREFIX/usr, build, and
# write build/gpu/env.sh (LD_LIBRARY_PATH for the libraries this machine lacks). Built programs
# also carry an RPATH to the prefix, so they run without env.sh too.
# Knobs (environment): BRISK_PREFIX (/tmp/brisk-prefix), BRISK_BUILD_DIR (build/gpu),
# BRISK_DEBS_DIR (.deb), BRISK_CUDA (ON), BRISK_CUDA_ARCH (90), BRISK_NVCC
# (/usr/local/cuda/bin/nvcc), BRISK_NATIVE (ON), JOBS (16), BRISK_CMAKE_ARGS (extra configure
# arguments, split on spaces), BRISK_STRICT_PREFIX=1 (fail when a dependency resolves outside
# the prefix).
# On failure the last lines say what failed; with $OUT set, the logs are copied there too.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
prefix=${BRISK_PREFIX:-/tmp/brisk-prefix}
build_dir=${BRISK_BUILD_DIR:-build/gpu}
cuda=${BRISK_CUDA:-ON}
cuda_arch=${BRISK_CUDA_ARCH:-90}
nvcc=${BRISK_NVCC:-/usr/local/cuda/bin/nvcc}
native=${BRISK_NATIVE:-ON}
jobs=${JOBS:-16}
strict=${BRISK_STRICT_PREFIX:-0}
multiarch=x86_64-linux-gnu
debs_dir=${BRISK_DEBS_DIR:-$root/.deb}
libdir="$prefix/usr/lib/$multiarch"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then targets=(all); fi

say() { echo "gpu-build: $*"; }
save_logs() {
  if [ -n "${OUT:-}" ] && [ -d "${OUT:-}" ]; then
    for f in "$build_dir"/configure.log "$build_dir"/build.log "$build_dir"/CMakeFiles/CMakeError.log \
             "$build_dir"/CMakeFiles/CMakeConfigureLog.yaml; do
      if [ -f "$f" ]; then cp "$f" "$OUT/" || true; fi
    done
  fi
}
die() {
  save_logs
  echo "gpu-build: ERROR: $*" >&2
  exit 1
}
on_err() {
  local rc=$? line=$1 cmd=$2
  save_logs
  echo "gpu-build: ERROR: command failed (exit $rc) at line $line: $cmd" >&2
}
trap 'on_err "$LINENO" "$BASH_COMMAND"' ERR

# 0. The machine.
say "host $(uname -srm); $(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME")"
[ "$(uname -m)" = x86_64 ] || die "the carried packages are amd64, this machine is $(uname -m)"
for tool in cmake ninja g++ tar; do
  command -v "$tool" >/dev/null || die "'$tool' is not on PATH"
done
say "$(cmake --version | head -n 1); ninja $(ninja --version); $(g++ --version | head -n 1)"
say "$(ldd --version 2>&1 | head -n 1)"
cmake_ver=$(cmake --version | head -n 1 | awk '{print $3}')
if [ "$(printf '%s\n3.25\n' "$cmake_ver" | sort -V | head -n 1)" != 3.25 ]; then
  die "cmake $cmake_ver is older than 3.25, which CMakeLists.txt requires"
fi
if [ "$cuda" = ON ]; then
  [ -x "$nvcc" ] || die "BRISK_CUDA=ON but $nvcc is missing (set BRISK_NVCC)"
  say "$("$nvcc" --version | tail -n 2 | head -n 1)"
  if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | sed 's/^/gpu-build: gpu /' || true
  else
    say "nvidia-smi missing; the GPU tests will skip themselves"
  fi
fi

# 1. Unpack the carried packages into the prefix (again only when .deb/ or this script changed).
[ -d "$debs_dir" ] || die "no .deb/ folder: run tools/gpu/fetch_debs.sh on the dev machine and name \".deb\" in carry"
mapfile -t debs < <(find "$debs_dir" -maxdepth 1 -type f -name '*.deb' | sort)
mapfile -t tarballs < <(find "$debs_dir" -maxdepth 1 -type f -name '*.tar.xz' | sort)
[ ${#debs[@]} -gt 0 ] || die "$debs_dir holds no .deb files"
stamp=$( (cd "$debs_dir" && find . -maxdepth 1 -type f \( -name '*.deb' -o -name '*.tar.xz' \) -printf '%f %s\n' | sort; \
          echo "prefix $prefix"; cksum < "$root/tools/gpu/build.sh") | cksum)
if [ -f "$prefix/.brisk-stamp" ] && [ "$(cat "$prefix/.brisk-stamp")" = "$stamp" ]; then
  say "prefix $prefix is current (${#debs[@]} packages, ${#tarballs[@]} tarballs)"
else
  case "$prefix" in /|/usr|/usr/*|"") die "refusing to unpack into '$prefix'" ;; esac
  rm -rf "$prefix"
  mkdir -p "$prefix"
  for deb in "${debs[@]}"; do
    if command -v dpkg-deb >/dev/null; then
      dpkg-deb -x "$deb" "$prefix" || die "dpkg-deb -x $deb failed"
    else  # a .deb is an ar archive holding data.tar.*
      member=$(ar t "$deb" | grep '^data\.tar') || die "$deb holds no data.tar"
      case "$member" in
        *.xz) decode=(xz -dc) ;; *.zst) decode=(zstd -dc) ;; *.gz) decode=(gzip -dc) ;; *) decode=(cat) ;;
      esac
      ar p "$deb" "$member" | "${decode[@]}" | tar -x -C "$prefix" -f - || die "cannot unpack $deb"
    fi
  done
  for tarball in "${tarballs[@]}"; do
    tar -xJf "$tarball" -C "$prefix" || die "cannot unpack $tarball"
  done
  # Debian's .pc files say prefix=/usr (rocksdb.pc: prefix="/usr"); point every absolute /usr
  # value at the prefix, so any pkg-config (pkgconf or the freedesktop one) gives -I/-L inside it
  # without a sysroot. hiredis.pc says libdir=/usr/lib while its library is in the multiarch
  # folder: a .pc file in that folder gets that folder as its libdir.
  while IFS= read -r -d '' pc; do
    sed -i -E "s#^([A-Za-z_][A-Za-z0-9_.]*=\"?)/usr(/|\"|\$)#\1$prefix/usr\2#" "$pc"
    if [ "$(dirname "$pc")" = "$libdir/pkgconfig" ]; then
      sed -i -E "s#^libdir=(\"?)$prefix/usr/lib(\"?)\$#libdir=\1$libdir\2#" "$pc"
    fi
  done < <(find "$prefix" -name '*.pc' -print0)
  # The libraries that exported CMake targets name by absolute path (faiss: libblas.so and
  # liblapack.so) are the prefix's copies, not the machine's.
  while IFS= read -r -d '' cfg; do
    sed -i -E "/INTERFACE_LINK_LIBRARIES/ s#(^|[\";])/usr/lib/#\1$prefix/usr/lib/#g" "$cfg"
  done < <(find "$libdir/cmake" -name '*.cmake' -print0 2>/dev/null)
  # libblas3/liblapack3 keep their libraries in blas/ and lapack/ and leave libblas.so.3 and
  # liblapack.so.3 to update-alternatives, which dpkg -x does not run: make those links here,
  # plus the unversioned names that the linker is given.
  for lib in blas lapack; do
    if [ -e "$libdir/$lib/lib$lib.so.3" ]; then
      ln -sfn "$lib/lib$lib.so.3" "$libdir/lib$lib.so.3"
      ln -sfn "lib$lib.so.3" "$libdir/lib$lib.so"
    fi
  done
  echo "$stamp" > "$prefix/.brisk-stamp"
  say "unpacked ${#debs[@]} packages and ${#tarballs[@]} tarballs into $prefix ($(du -sh "$prefix" | cut -f1))"
fi

# Libraries the build links must exist (a .so symlink whose runtime package is missing dangles).
for lib in libabsl_strings.so libabsl_status.so libpcre2-8.so libutf8proc.so libcrypto.so \
           libssl.so libgtest.a libgmock.a libgtest_main.a librocksdb.so libhiredis.so libfaiss.a \
           libblas.so liblapack.so libsnappy.so.1 libgflags.so.2.2 libgfortran.so.5; do
  [ -e "$libdir/$lib" ] || die "$libdir/$lib is missing or dangles: is its package in .deb/?"
done
for hdr in absl/status/status.h nlohmann/json.hpp CLI/CLI.hpp pcre2.h utf8proc.h gtest/gtest.h \
           gmock/gmock.h boost/beast/http.hpp boost/asio.hpp openssl/evp.h rocksdb/db.h \
           hiredis/hiredis.h faiss/IndexFlat.h; do
  [ -e "$prefix/usr/include/$hdr" ] || die "$prefix/usr/include/$hdr is missing: is its package in .deb/?"
done

# Libraries whose soname this machine lacks go to runtime-lib, the only folder env.sh adds to
# LD_LIBRARY_PATH: Python, node and the rest keep the machine's own OpenSSL and PCRE2.
runtime_dir="$prefix/runtime-lib"
rm -rf "$runtime_dir"
mkdir -p "$runtime_dir"
system_sonames=$(ldconfig -p 2>/dev/null | awk '{print $1}' | sort -u)
for so in "$libdir"/*.so.*; do
  [ -L "$so" ] || [ -f "$so" ] || continue
  name=$(basename "$so")
  # Only the file named by its own soname (libfoo.so.N) is linked; libfoo.so.N.M is skipped.
  soname=$(objdump -p "$so" 2>/dev/null | awk '/SONAME/{print $2}') || soname=""
  [ "$soname" = "$name" ] || continue
  if ! grep -qxF "$soname" <<< "$system_sonames"; then
    ln -sf "$so" "$runtime_dir/$soname"
  fi
done
say "libraries this machine lacks (runtime-lib): $(find "$runtime_dir" -mindepth 1 | wc -l) $(ls "$runtime_dir" | sed 's/\.so.*//; s/^libabsl_.*/libabsl_*/' | sort -u | tr '\n' ' ')"

# pkg-config: the carried pkgconf (a wrapper gives it its own library), else the machine's.
pkg_wrapper="$prefix/bin/pkg-config"
mkdir -p "$prefix/bin"
printf '#!/bin/sh\nLD_LIBRARY_PATH=%s${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} exec %s "$@"\n' \
  "$libdir" "$prefix/usr/bin/pkgconf" > "$pkg_wrapper"
chmod +x "$pkg_wrapper"
if [ -x "$prefix/usr/bin/pkgconf" ] && "$pkg_wrapper" --version >/dev/null 2>&1; then
  pkg_config=$pkg_wrapper
elif command -v pkg-config >/dev/null; then
  pkg_config=$(command -v pkg-config)
  say "the carried pkgconf does not run here; using $pkg_config"
else
  die "no working pkg-config: neither the carried pkgconf nor one on PATH"
fi
export PKG_CONFIG="$pkg_config"
export PKG_CONFIG_LIBDIR="$libdir/pkgconfig:$prefix/usr/share/pkgconfig"
export PKG_CONFIG_PATH="$PKG_CONFIG_LIBDIR"
unset PKG_CONFIG_SYSROOT_DIR
pc_out=$("$pkg_config" --cflags --libs libpcre2-8 libutf8proc rocksdb hiredis 2>&1) \
  || die "pkg-config cannot resolve libpcre2-8/libutf8proc/rocksdb/hiredis: $pc_out"
say "pkg-config ($pkg_config): $pc_out"
case "$pc_out" in *"$prefix/usr/include"*) ;; *) die "pkg-config gives no -I inside $prefix: $pc_out" ;; esac
# Debian keeps OpenSSL's configuration.h under include/x86_64-linux-gnu, which the compiler only
# searches under /usr; the prefix's copy goes into the cached compile flags (g++ and nvcc).
arch_include="-isystem $prefix/usr/include/$multiarch"

# 2. Configure.
mkdir -p "$build_dir"
cmake_args=(
  -S . -B "$build_dir" -G Ninja
  -DCMAKE_BUILD_TYPE=Release
  -DBRISK_CUDA="$cuda"
  -DBRISK_NATIVE="$native"
  -DCMAKE_PREFIX_PATH="$prefix/usr"
  -DPKG_CONFIG_EXECUTABLE="$pkg_config"
  -DOPENSSL_ROOT_DIR="$prefix/usr"
  -DBoost_ROOT="$prefix/usr"
  -DBoost_NO_SYSTEM_PATHS=ON
  -DCMAKE_CXX_FLAGS="$arch_include"
  # RPATH rather than RUNPATH: it also applies to the libraries' own dependencies (libabsl_*
  # needing other libabsl_*), so the programs run, and gtest discovery lists them, unaided.
  -DCMAKE_EXE_LINKER_FLAGS="-Wl,--disable-new-dtags"
)
if [ "$cuda" = ON ]; then
  cmake_args+=(-DCMAKE_CUDA_ARCHITECTURES="$cuda_arch" -DCMAKE_CUDA_COMPILER="$nvcc"
               -DCMAKE_CUDA_FLAGS="$arch_include")
fi
if [ -n "${BRISK_CMAKE_ARGS:-}" ]; then
  read -r -a extra <<< "$BRISK_CMAKE_ARGS"
  cmake_args+=("${extra[@]}")
fi
say "cmake ${cmake_args[*]}"
if ! cmake "${cmake_args[@]}" > "$build_dir/configure.log" 2>&1; then
  echo "----- configure.log (last 60 lines)"
  tail -n 60 "$build_dir/configure.log"
  for f in "$build_dir/CMakeFiles/CMakeError.log" "$build_dir/CMakeFiles/CMakeConfigureLog.yaml"; do
    if [ -f "$f" ]; then echo "----- $f (last 40 lines)"; tail -n 40 "$f"; fi
  done
  trap - ERR
  die "cmake configure failed (full log: $build_dir/configure.log)"
fi
grep -E '^-- (brisk|Found|Checking|The (CXX|CUDA) compiler)' "$build_dir/configure.log" | sed 's/^/gpu-build: /' || true

# Where every dependency came from; all of it should be inside the prefix.
cache="$build_dir/CMakeCache.txt"
outside=0
for var in absl_DIR nlohmann_json_DIR CLI11_DIR GTest_DIR Boost_DIR boost_headers_DIR \
           Boost_INCLUDE_DIR OPENSSL_INCLUDE_DIR OPENSSL_CRYPTO_LIBRARY OPENSSL_SSL_LIBRARY \
           pkgcfg_lib_PCRE2_pcre2-8 pkgcfg_lib_UTF8PROC_utf8proc pkgcfg_lib_ROCKSDB_rocksdb \
           pkgcfg_lib_HIREDIS_hiredis faiss_DIR PKG_CONFIG_EXECUTABLE; do
  value=$(grep -E "^${var}:" "$cache" | head -n 1 | cut -d= -f2-)
  case "$value" in
    "$prefix"/*) say "  found $var = $value" ;;
    *) say "  OUTSIDE THE PREFIX: $var = ${value:-<unset>}"; outside=$((outside + 1)) ;;
  esac
done
for var in PCRE2_INCLUDE_DIRS UTF8PROC_INCLUDE_DIRS ROCKSDB_INCLUDE_DIRS HIREDIS_INCLUDE_DIRS; do
  value=$(grep -E "^${var}:" "$cache" | head -n 1 | cut -d= -f2-)
  say "  $var = ${value:-<none>}"
done
if [ "$outside" -gt 0 ]; then
  if [ "$strict" = 1 ]; then trap - ERR; die "$outside dependencies resolved outside $prefix"; fi
  say "warning: $outside dependencies resolved outside $prefix (the machine's own copies)"
fi

# 3. env.sh for the commands that run tests afterwards.
cat > "$build_dir/env.sh" <<EOF
# Written by tools/gpu/build.sh: source it before running brisk's tests on this machine.
export BRISK_PREFIX="$prefix"
# For a later 'cmake --build' that configures again: pkg-config sees only the prefix.
export PKG_CONFIG="$pkg_config"
export PKG_CONFIG_LIBDIR="$PKG_CONFIG_LIBDIR"
export PKG_CONFIG_PATH="$PKG_CONFIG_LIBDIR"
export LD_LIBRARY_PATH="$runtime_dir\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
export PATH="$(dirname "$nvcc"):\$PATH"
EOF
say "wrote $build_dir/env.sh"

# 4. Build.
say "building ${targets[*]} with -j$jobs"
trap - ERR
set +e
LD_LIBRARY_PATH="$runtime_dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
  cmake --build "$build_dir" -j "$jobs" --target "${targets[@]}" 2>&1 | tee "$build_dir/build.log"
rc=${PIPESTATUS[0]}
set -e
trap 'on_err "$LINENO" "$BASH_COMMAND"' ERR
if [ "$rc" -ne 0 ]; then
  echo "----- first errors in $build_dir/build.log"
  grep -n -E 'FAILED:|error:|Error [0-9]|undefined reference|cannot find|No such file' "$build_dir/build.log" | head -n 40
  trap - ERR
  die "build of ${targets[*]} failed (exit $rc; full log: $build_dir/build.log)"
fi

# 5. Every built program must find its libraries without env.sh.
missing=0
while IFS= read -r -d '' exe; do
  if ldd "$exe" 2>/dev/null | grep -q 'not found'; then
    say "unresolved libraries in $exe:"
    ldd "$exe" | grep 'not found'
    missing=$((missing + 1))
  fi
done < <(find "$build_dir" -type f -perm -u+x \( -name '*_test' -o -name brisk \) ! -path '*/CMakeFiles/*' -print0)
if [ "$missing" -gt 0 ]; then trap - ERR; die "$missing programs have unresolved libraries"; fi
say "OK: built ${targets[*]} in $build_dir; next: source $build_dir/env.sh && ctest --test-dir $build_dir --output-on-failure"
