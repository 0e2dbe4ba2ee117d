#!/usr/bin/env bash
# The whole test suite: installs dependencies (apt-get), builds, runs every
# test with ctest. Tests that need Redis or MariaDB start private instances
# on free loopback ports in temp dirs and stop them when they finish; no
# system service is used or left running.
#
# Then the abuse suite again against notify_server and sync_server built with
# AddressSanitizer + UndefinedBehaviorSanitizer (a second build dir; only
# those two daemons and the test are built there, the other daemons come from
# the normal build). Any sanitizer report fails the run.
#
#   deploy/test.sh                 # everything, then the ASan/UBSan abuse run
#   deploy/test.sh -L unit         # extra arguments go to ctest (no ASan run)
#   IM_ASAN=1 deploy/test.sh -L e2e  # ... and the ASan run anyway
#   IM_ASAN=0 deploy/test.sh       # skip the ASan run
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

bash deploy/install-deps.sh
build_dir="${IM_BUILD_DIR:-$root/build}"
asan_dir="${IM_ASAN_BUILD_DIR:-$root/build-asan}"
asan="${IM_ASAN:-$([[ $# -eq 0 ]] && echo 1 || echo 0)}"

cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build_dir"
if [[ "$asan" == 1 ]]; then
  cmake -S . -B "$asan_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DIM_SANITIZE=address,undefined -DIM_BUILD_BENCH=OFF >/dev/null
  cmake --build "$asan_dir" --target notify_server sync_server abuse_test
fi

status=0
# Integration tests mostly wait on processes and sockets: run two per core.
rm -f "$build_dir/tests/fault/fault_summary.txt"
(cd "$build_dir" && ctest --output-on-failure --timeout 600 -j "$(( $(nproc) * 2 ))" "$@") || status=$?
# The fault suite's table (ctest shows the output of failed tests only).
if [[ -f "$build_dir/tests/fault/fault_summary.txt" ]]; then
  echo "== fault suite"
  cat "$build_dir/tests/fault/fault_summary.txt"
fi

if [[ "$asan" == 1 ]]; then
  echo "== abuse suite against ASan/UBSan notify_server and sync_server ($asan_dir)"
  # halt_on_error: the first report ends the process (a daemon that dies fails
  # the suite, and the suite also fails on any report in a daemon's log,
  # leaks found at a daemon's clean exit included).
  (cd "$asan_dir" &&
    IM_FALLBACK_BUILD_DIR="$build_dir" \
    ASAN_OPTIONS="halt_on_error=1:detect_leaks=1" \
    UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1" \
    ctest -L abuse --output-on-failure --timeout 900) || status=$?
fi
exit "$status"
