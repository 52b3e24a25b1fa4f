#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# InstalledPackage: `cmake --install` of this build tree into a temporary
# prefix, then examples/ecg_live configured and built against that prefix
# alone (find_package(overlay CONFIG)), run, and its output checked for beats.
# Usage: installed_package.sh SOURCE_DIR BUILD_DIR CXX_COMPILER (the build's own)
set -euo pipefail
src=$1 build=$2 cxx=$3
# A fixed folder, so ccache sees the same paths each time (and hits).
tmp=$build/installed-package
rm -rf "$tmp"
mkdir -p "$tmp"
segment="overlay-installed-package-$$"
trap 'rm -rf "$tmp"; rm -f "/dev/shm/$segment"' EXIT

cmake --install "$build" --prefix "$tmp/prefix" > "$tmp/install.log"
test -f "$tmp/prefix/include/overlay/client.h"
test -f "$tmp/prefix/include/overlay/schema/overlay_wire_generated.h"
ls "$tmp"/prefix/lib*/cmake/overlay/overlayConfig.cmake > /dev/null

# The example is one file; a compiler launcher (ccache) is reused when set.
launcher=()
if [[ -n "${CMAKE_CXX_COMPILER_LAUNCHER:-}" ]]; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER="$CMAKE_CXX_COMPILER_LAUNCHER")
elif command -v ccache > /dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
cmake -S "$src/examples/ecg_live" -B "$tmp/build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER="$cxx" \
  -DCMAKE_PREFIX_PATH="$tmp/prefix" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF "${launcher[@]}" \
  > "$tmp/configure.log" || { cat "$tmp/configure.log"; exit 1; }
cmake --build "$tmp/build" -j2 > "$tmp/build.log" || { cat "$tmp/build.log"; exit 1; }

# A data container of its own: its segment and disk tier go with the test.
OVERLAY_SEGMENT=$segment XDG_DATA_HOME="$tmp/data" "$tmp/build/ecg_live" | tee "$tmp/out.txt"
# 20 s at 72 bpm: one line per 1 s chunk and about 24 beats in all.
grep -Eq '^patient patient_000[0-9][0-9]\.beats\.csv: beats at [0-9]' "$tmp/out.txt"
beats=$(sed -n 's/^\([0-9]*\) beats$/\1/p' "$tmp/out.txt")
if (( beats < 20 || beats > 28 )); then
  echo "expected about 24 beats, got '${beats}'"
  exit 1
fi
echo "InstalledPackage: ecg_live built against $tmp/prefix printed $beats beats"
