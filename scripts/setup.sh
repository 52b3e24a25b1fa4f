#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# One-step set-up on Debian 12 (as root): installs what is missing, builds, then
#   demo  runs the ECG pipeline on the synthetic patients in configs/data (all local)
#   test  runs the whole test suite with ctest
# Environment: OVERLAY_BUILD_DIR (default build), OVERLAY_SANITIZE (e.g. address,undefined),
#              OVERLAY_JOBS (default: number of cores).
set -euo pipefail

usage() { echo "usage: $0 demo|test" >&2; exit 2; }
[ $# -eq 1 ] || usage
mode=$1
case "$mode" in demo|test) ;; -h|--help) usage ;; *) usage ;; esac

root=$(cd "$(dirname "$0")/.." && pwd)
build=${OVERLAY_BUILD_DIR:-$root/build}
jobs=${OVERLAY_JOBS:-$(nproc)}

packages=(
  build-essential cmake pkg-config git python3 procps iproute2
  libspdlog-dev libcivetweb-dev prometheus
  libtbb-dev libgtest-dev libgmock-dev libbenchmark-dev libcli11-dev libfmt-dev
  nlohmann-json3-dev libxxhash-dev librocksdb-dev libzmq3-dev cppzmq-dev libfabric-dev libfabric-bin
  flatbuffers-compiler libflatbuffers-dev libboost-dev libcurl4-openssl-dev
  nginx-light redis-server clang libclang-rt-14-dev
  openssh-server slurm-wlm munge
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "== installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

echo "== building in $build"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  ${OVERLAY_SANITIZE:+-DOVERLAY_SANITIZE=$OVERLAY_SANITIZE} >/dev/null
cmake --build "$build" -j "$jobs"

cd "$root"
# ThreadSanitizer: the first report fails its test (the default only prints it).
case "${OVERLAY_SANITIZE:-}" in
  *thread*)
    export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1 second_deadlock_stack=1 suppressions=$root/scripts/tsan.supp} ;;
esac
if [ "$mode" = demo ]; then
  echo "== running configs/ecg.cfg (synthetic patients in configs/data, results in out/)"
  "$build/core/overlay" run configs/ecg.cfg --out out
else
  echo "== ctest"
  ctest --test-dir "$build" --output-on-failure -j "$jobs" --timeout 600
fi
