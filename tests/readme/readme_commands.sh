#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs every command of a README's ```sh blocks that needs no server, in order,
# as a reader would, and fails when one of them fails: the README cannot rot.
#
#   readme_commands.sh README SOURCE_DIR BUILD_DIR [SHARED_DIR]
#
# Skipped, each with its reason printed:
#   - a line whose comment says "(not in CI: REASON)": the set-up itself,
#     servers, commands that need root or a file of the reader's own;
#   - a line that reads ../shared when SHARED_DIR has no ecg/ folder.
# The rest run with bash, one line at a time, from a scratch copy of the
# repository's configs/ and functions/ whose build/ is BUILD_DIR and whose
# ../shared is SHARED_DIR, with a data container of their own
# (OVERLAY_SEGMENT, XDG_DATA_HOME), so nothing of the machine's is touched.
set -uo pipefail

readme=$1 src=$2 build=$3 shared=${4:-$2/../shared}
work=$(mktemp -d /tmp/overlay-readme.XXXXXX)
export OVERLAY_SEGMENT="overlay-readme-$$"
export XDG_DATA_HOME="$work/xdg"
cleanup() {
  rm -rf "$work"
  rm -f "/dev/shm/$OVERLAY_SEGMENT"
}
trap cleanup EXIT

mkdir -p "$work/repo" "$XDG_DATA_HOME"
cp -r "$src/configs" "$src/functions" "$work/repo/"
ln -s "$(cd "$build" && pwd)" "$work/repo/build"
[[ -d "$shared" ]] && ln -s "$(cd "$shared" && pwd)" "$work/shared"

# The lines of ```sh blocks, one per line, blank ones and comment-only ones left out.
mapfile -t lines < <(awk '
  /^```sh[[:space:]]*$/ { inside = 1; next }
  /^```/ { inside = 0; next }
  inside && $0 !~ /^[[:space:]]*(#|$)/ { print }
' "$readme")

ran=0 failed=0
for line in "${lines[@]}"; do
  if [[ $line =~ \(not\ in\ CI:\ ([^\)]*)\) ]]; then
    echo "SKIP (${BASH_REMATCH[1]}): $line"
    continue
  fi
  if [[ $line == *../shared* && ! -d "$work/shared/ecg" ]]; then
    echo "SKIP (no ecg/ folder in $shared): $line"
    continue
  fi
  ran=$((ran + 1))
  log="$work/log"
  (cd "$work/repo" && timeout 900 bash -c "$line") >"$log" 2>&1 </dev/null
  rc=$?
  if [[ $rc -eq 0 ]]; then
    echo "ok: $line"
  else
    failed=$((failed + 1))
    echo "FAILED (exit $rc): $line"
    tail -n 20 "$log" | sed 's/^/    /'
  fi
done

echo "$ran README commands run, $failed failed, $((${#lines[@]} - ran)) skipped"
if [[ $ran -eq 0 ]]; then
  echo "no command of $readme ran: are its blocks still \`\`\`sh?"
  exit 1
fi
[[ $failed -eq 0 ]]
