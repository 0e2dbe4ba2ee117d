#!/usr/bin/env bash
# The whole test suite: installs dependencies (apt-get), builds, runs every
# test with ctest. Tests that need Redis or MariaDB start private instances
# on free loopback ports in temp dirs and stop them when they finish; no
# system service is used or left running.
#
#   deploy/test.sh                 # everything
#   deploy/test.sh -L unit         # extra arguments go to ctest
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

bash deploy/install-deps.sh
build_dir="${IM_BUILD_DIR:-$root/build}"
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build_dir"
cd "$build_dir"
# Integration tests mostly wait on processes and sockets: run two per core.
exec ctest --output-on-failure --timeout 600 -j "$(( $(nproc) * 2 ))" "$@"
