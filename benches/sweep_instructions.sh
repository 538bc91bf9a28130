#!/usr/bin/env bash
# Instructions, not seconds: one full sweep by flightdeck's poller against
# plain reqwest on the same one-thread runtime, counted by valgrind's
# callgrind. The count is the same from run to run whatever else the machine
# is doing, so it shows a change of a few percent that wall time and CPU
# time on a shared 2-core box hide in their noise. It counts user-space
# instructions only: the kernel's part (the sockets, the same on both sides)
# is left out, so the ratio is larger than the CPU time ratio would be.
#
#   benches/sweep_instructions.sh [SERVICES] [ENVIRONMENTS] [RUNS]   # default 1000 6 2
#
# Each side runs alone (`profile 0`, `profile 3` of benches/sweep.rs): one
# warm-up and RUNS sweeps at concurrency 16, then at 64. Prints each side's
# instructions per cell (the sweep function, inclusive) and the ratio.
set -euo pipefail
services=${1:-1000}
envs=${2:-6}
runs=${3:-2}
command -v valgrind >/dev/null || { echo "valgrind is not installed (Debian: apt-get install valgrind)" >&2; exit 1; }
bin=$(cargo bench --bench sweep --no-run 2>&1 | sed -n 's/.*Executable benches\/sweep.rs (\(.*\))/\1/p' | tail -1)
[ -x "$bin" ] || { echo "could not find the sweep bench's executable" >&2; exit 1; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cells=$((services * envs * (runs + 1) * 2))
# The sweep function's inclusive count, on the main thread (thread 1).
count() {
  valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file="$dir/$1.out" \
    "$bin" "$services" "$envs" "$runs" profile "$1" >"$dir/$1.log" 2>&1
  callgrind_annotate --inclusive=yes --threshold=100 "$dir/$1.out-01" 2>/dev/null |
    grep -F "$2 [" | head -1 | awk '{gsub(",", "", $1); print $1}'
}
ours=$(count 0 '???:flightdeck::poller::sweep_once::{{closure}}')
plain=$(count 3 '???:sweep::get_all::{{closure}}')
[ -n "$ours" ] && [ -n "$plain" ] || { echo "no count for a side: see $dir/*.log" >&2; trap - EXIT; exit 1; }
awk -v o="$ours" -v p="$plain" -v c="$cells" 'BEGIN {
  printf "sweep: %d cells read (%d × %d, warm-up and %d runs at concurrency 16 and 64)\n", c, '"$services"', '"$envs"', '"$runs"'
  printf "  flightdeck poller::sweep_once   %8.0f instructions per cell\n", o / c
  printf "  plain reqwest, one thread       %8.0f instructions per cell\n", p / c
  printf "  against plain reqwest: %.3f× (user-space instructions)\n", o / p
}'
