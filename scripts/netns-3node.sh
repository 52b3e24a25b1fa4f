#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Three nodes on one machine for configs/ecg-3node.cfg: network namespaces
# PREFIX-edge (10.77.0.1), PREFIX-fog (10.77.0.2) and PREFIX-cloud (10.77.0.3),
# each pair joined by its own veth pair (point-to-point links, interfaces named
# to-edge/to-fog/to-cloud inside the namespaces, so nothing is added to the host's
# network). Needs root and iproute2.
#
#   scripts/netns-3node.sh up [PREFIX]     make them (PREFIX default: ovl3n); fails if they exist
#   scripts/netns-3node.sh down [PREFIX]   remove them (and their links); fine if absent
#
# A run across the three nodes (from the repository root, as root):
#   scripts/netns-3node.sh up
#   ip netns exec ovl3n-cloud nginx ...   # a WebDAV origin on 10.77.0.3:8080 (location
#                                         # /objects/ { dav_methods PUT DELETE; create_full_put_path on; })
#   ip netns exec ovl3n-fog build/core/overlay endpoint --config configs/ecg-3node.cfg --name endpoint_fog &
#   ip netns exec ovl3n-cloud build/core/overlay endpoint --config configs/ecg-3node.cfg --name endpoint_cloud &
#   ip netns exec ovl3n-edge build/core/overlay run configs/ecg-3node.cfg \
#       --data-address tcp://10.77.0.1:0 --segment overlay-edge --out out-3node
#   build/core/overlay run configs/ecg-3node.cfg --local --segment overlay-local --out out-local
#   kill %1 %2; scripts/netns-3node.sh down
set -euo pipefail

usage() { echo "usage: $0 up|down [PREFIX]" >&2; exit 2; }
[ $# -ge 1 ] && [ $# -le 2 ] || usage
mode=$1
prefix=${2:-ovl3n}
[[ $prefix =~ ^[a-z0-9][a-z0-9-]{0,19}$ ]] || { echo "$0: PREFIX: 1-20 of a-z 0-9 -" >&2; exit 2; }
command -v ip >/dev/null || { echo "$0: needs iproute2 (ip)" >&2; exit 1; }

nodes=(edge fog cloud)
declare -A addr=([edge]=10.77.0.1 [fog]=10.77.0.2 [cloud]=10.77.0.3)

exists() { [ -e "/run/netns/$1" ]; }

down() {
  # Deleting a namespace deletes its veth ends, and with them their peers.
  for n in "${nodes[@]}"; do
    if exists "$prefix-$n"; then ip netns delete "$prefix-$n"; fi
  done
}

# One veth pair between nodes $1 and $2, made inside the namespaces, each end
# carrying its node's address with the other node as point-to-point peer.
link() {
  local a=$1 b=$2
  ip -n "$prefix-$a" link add "to-$b" type veth peer name "to-$a" netns "$prefix-$b"
  ip -n "$prefix-$a" addr add "${addr[$a]}" peer "${addr[$b]}" dev "to-$b"
  ip -n "$prefix-$b" addr add "${addr[$b]}" peer "${addr[$a]}" dev "to-$a"
  ip -n "$prefix-$a" link set "to-$b" up
  ip -n "$prefix-$b" link set "to-$a" up
}

up() {
  for n in "${nodes[@]}"; do
    if exists "$prefix-$n"; then
      echo "$0: namespace $prefix-$n exists; run '$0 down $prefix' first" >&2
      exit 1
    fi
  done
  trap 'down' ERR
  for n in "${nodes[@]}"; do
    ip netns add "$prefix-$n"
    ip -n "$prefix-$n" link set lo up
  done
  link edge fog
  link fog cloud
  link edge cloud
  trap - ERR
  for n in "${nodes[@]}"; do echo "$prefix-$n ${addr[$n]}"; done
}

case "$mode" in
  up) up ;;
  down) down ;;
  *) usage ;;
esac
