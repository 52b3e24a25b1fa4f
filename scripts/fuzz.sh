#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each one for a
# fixed time over its corpus in fuzz/corpus/<target>. Exit 0 only when no target
# crashed, leaked or timed out.
#   scripts/fuzz.sh [SECONDS]          default 60 per target (CI)
#   scripts/fuzz.sh --runs N           N inputs per target instead of a time
#   scripts/fuzz.sh --merge [SECONDS]  also add new interesting inputs to the corpus
# Environment: OVERLAY_FUZZ_BUILD_DIR (default build-fuzz), OVERLAY_JOBS,
# OVERLAY_FUZZ_TARGETS (default "config wire invoke chunk").
set -euo pipefail

usage() { sed -n '3,10p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
merge=0 seconds=60 runs=
while [ $# -gt 0 ]; do
  case "$1" in
    --merge) merge=1 ;;
    --runs) [ $# -ge 2 ] || usage; runs=$2; shift ;;
    -h|--help) usage ;;
    ''|*[!0-9]*) usage ;;
    *) seconds=$1 ;;
  esac
  shift
done

root=$(cd "$(dirname "$0")/.." && pwd)
build=${OVERLAY_FUZZ_BUILD_DIR:-$root/build-fuzz}
jobs=${OVERLAY_JOBS:-$(nproc)}
command -v clang++ >/dev/null || { echo "fuzz: clang++ not found (apt install clang libclang-rt-14-dev)" >&2; exit 77; }

read -r -a targets <<<"${OVERLAY_FUZZ_TARGETS:-config wire invoke chunk}"
echo "== building fuzz targets in $build"
CXX=clang++ cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOVERLAY_FUZZ=ON \
  -DOVERLAY_SANITIZE=address,undefined >/dev/null
cmake --build "$build" -j "$jobs" --target "${targets[@]/#/fuzz_}"

limit=(-max_total_time="$seconds")
[ -n "$runs" ] && limit=(-runs="$runs")
status=0
for t in "${targets[@]}"; do
  corpus=$root/fuzz/corpus/$t
  fresh=$(mktemp -d)
  artifacts=$(mktemp -d)
  echo "== fuzz_$t: ${limit[*]} over $(find "$corpus" -type f | wc -l) corpus inputs"
  # New inputs go to a scratch folder: a run never rewrites the repository's corpus.
  if ! "$build/fuzz/fuzz_$t" "${limit[@]}" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
      -print_final_stats=1 -artifact_prefix="$artifacts/" "$fresh" "$corpus" 2>"$build/fuzz_$t.log"; then
    status=1
    echo "fuzz_$t FAILED; log: $build/fuzz_$t.log; reproducer(s):" >&2
    ls "$artifacts" >&2
    tail -40 "$build/fuzz_$t.log" >&2
  else
    grep -E '^stat::number_of_executed_runs|^Done' "$build/fuzz_$t.log" || true
  fi
  if [ "$merge" = 1 ] && [ "$status" = 0 ]; then
    "$build/fuzz/fuzz_$t" -merge=1 "$corpus" "$fresh" 2>/dev/null
  fi
  rm -rf "$fresh"
  [ -z "$(ls -A "$artifacts")" ] && rm -rf "$artifacts"
done
exit $status
