#!/usr/bin/env bash
# Idle authenticated connections across several notify_server processes: one
# LocalCluster (imbench_cluster) with SERVERS notify_servers, bulk accounts,
# and one imbench --mode idle process per notify_server holding PER connections
# (each process of this machine is capped at 20,000 open files, clients and
# servers alike). Prints each process's summary and the totals.
#
#   bench/idle_connections.sh [BUILD_DIR=build] [SERVERS=6] [PER=17000] [SECONDS=30]
set -euo pipefail
build="${1:-build}"
servers="${2:-6}"
per="${3:-17000}"
seconds="${4:-30}"
dir="$(mktemp -d /tmp/imbench-idle.XXXXXX)"
"$build/bench/imbench_cluster" --notify-servers "$servers" --accounts $((servers * per)) \
  --accounts-file "$dir/accounts" --env "$dir/env" >"$dir/cluster.log" 2>&1 &
cluster=$!
cleanup() {
  kill -INT "$cluster" 2>/dev/null || true
  wait "$cluster" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
while [ ! -s "$dir/env" ]; do
  kill -0 "$cluster" 2>/dev/null || { cat "$dir/cluster.log"; exit 1; }
  sleep 0.5
done
# shellcheck disable=SC1091
source "$dir/env"
IFS=, read -ra notify <<<"$IMBENCH_NOTIFY"
pids=()
for i in $(seq 0 $((servers - 1))); do
  npid="$(echo "$IMBENCH_WATCH" | tr ',' '\n' | grep "^notify$i=" | cut -d= -f2)"
  "$build/bench/imbench" --mode idle --accounts "$dir/accounts" --accounts-offset $((i * per)) --users "$per" \
    --notify "${notify[$i]}" --watch "notify$i=$npid" --duration "$seconds" --settle 0 \
    --json "$dir/idle$i.json" >"$dir/idle$i.log" 2>&1 &
  pids+=($!)
done
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=1; done
total=0
for i in $(seq 0 $((servers - 1))); do
  echo "---- imbench $i -> notify$i (${notify[$i]})"
  grep -E "^connected|^==== |^memory|^errors|^process +notify" "$dir/idle$i.log" || tail -5 "$dir/idle$i.log"
  n="$(python3 -c "import json;print(json.load(open('$dir/idle$i.json'))['connect']['notify_connections'])" 2>/dev/null || echo 0)"
  total=$((total + n))
done
echo "==== total authenticated idle connections held: $total (of $((servers * per)) attempted)"
exit $rc
