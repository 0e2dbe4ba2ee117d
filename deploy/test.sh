#!/usr/bin/env bash
# The whole test suite: installs dependencies (apt-get), builds, runs every
# test with ctest. Tests that need Redis or MariaDB start private instances
# on free loopback ports in temp dirs and stop them when they finish; no
# system service is used or left running.
#
# Then the fault and abuse suites again (ctest label fault) against the five
# message daemons (storage, route, access, notify, sync) built with
# AddressSanitizer + UndefinedBehaviorSanitizer: a second build dir where only
# those daemons and the two suites are built; admin_qim comes from the normal
# build. Any sanitizer report fails the run.
#
#   deploy/test.sh                 # everything, then the ASan/UBSan fault + abuse run
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
  # -O1, as the sanitizers recommend: reports stay exact and it builds in
  # about a third of the time -O2 takes.
  cmake -S . -B "$asan_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" \
    -DIM_SANITIZE=address,undefined -DIM_BUILD_BENCH=OFF >/dev/null
  cmake --build "$asan_dir" --target storage_server route_server access_server notify_server sync_server \
    fault_test abuse_test
fi

status=0
# Integration tests mostly wait on processes and sockets: run two per core.
summaries=("$build_dir/tests/fault/fault_summary.txt" "$build_dir/tests/e2e/fault_summary_netns.txt")
rm -f "${summaries[@]}"
(cd "$build_dir" && ctest --output-on-failure --timeout 600 -j "$(( $(nproc) * 2 ))" "$@") || status=$?
# The fault suite's table, and the multi-host test's link cut as one more
# row (ctest shows the output of failed tests only).
if [[ -f "${summaries[0]}" ]]; then
  echo "== fault suite"
  cat "${summaries[0]}"
  if [[ -f "${summaries[1]}" ]]; then cat "${summaries[1]}"; fi
fi

if [[ "$asan" == 1 ]]; then
  echo "== fault and abuse suites against ASan/UBSan daemons ($asan_dir)"
  # halt_on_error: the first report ends the process (a daemon that dies fails
  # the suite, and the suite also fails on any report in a daemon's log,
  # leaks found at a daemon's clean exit included).
  rm -f "$asan_dir/tests/fault/fault_summary.txt"
  (cd "$asan_dir" &&
    IM_FALLBACK_BUILD_DIR="$build_dir" \
    ASAN_OPTIONS="halt_on_error=1:detect_leaks=1" \
    UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1" \
    ctest -L fault --output-on-failure --timeout 900) || status=$?
  if [[ -f "$asan_dir/tests/fault/fault_summary.txt" ]]; then
    echo "== fault suite, ASan/UBSan daemons"
    cat "$asan_dir/tests/fault/fault_summary.txt"
  fi
fi
exit "$status"
