#!/bin/sh
# Runs the fetch integration tests again inside a fresh network namespace that has only a
# loopback interface (unshare -n), plus the DNS-name rows that cannot run outside one: there,
# even a broken address guard and a broken connect hook could not send a packet off the host.
# Usage: netns_matrix.sh <fetch_integration_tests> <fetch_netns_tests>
# Exit 77 (reported as skipped by CTest) when network namespaces are not permitted (not root).
set -eu
integration=$1
netns_only=$2
if ! unshare -n true 2>/dev/null; then
  echo "netns_matrix: unshare -n is not permitted here (needs root or user namespaces): skipped"
  exit 77
fi
exec unshare -n sh -euc '
  ip link set lo up
  export IDPHOTO_FETCH_IN_NETNS=1
  "$1"
  "$2"
' netns_matrix "$integration" "$netns_only"
