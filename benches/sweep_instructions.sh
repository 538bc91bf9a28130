#!/usr/bin/env bash
# Instructions, not seconds: full sweeps by flightdeck's poller against
# plain reqwest on the same one-thread runtime, counted by valgrind's
# callgrind. The count repeats to within a few tenths of a percent whatever
# else the machine is doing, so it shows a change of a few percent that wall
# time and CPU time on a shared 2-core box hide in their noise.
#
#   benches/sweep_instructions.sh [SERVICES] [ENVIRONMENTS] [RUNS]   # default 1000 6 2
#
# Each side runs alone (`profile 0`, `profile 3` of benches/sweep.rs): one
# warm-up and RUNS sweeps at concurrency 16, then at 64. Prints, per cell:
# - each side's sweep function, inclusive, and their ratio. This leaves out
#   what both sides run alike outside that function: hyper's connection
#   tasks (spawned; the runtime polls them itself) and the kernel (the
#   sockets). So the ratio is larger than the CPU time ratio would be.
# - the difference between the two processes' main threads (everything
#   else in them is the same set-up), connection tasks included.
set -euo pipefail
services=${1:-1000}
envs=${2:-6}
runs=${3:-2}
runs=$((runs < 1 ? 1 : runs)) # as the bench reads it
command -v valgrind >/dev/null || { echo "valgrind is not installed (Debian: apt-get install valgrind)" >&2; exit 1; }
if ! build=$(cargo bench --bench sweep --no-run 2>&1); then
  echo "$build" >&2
  exit 1
fi
bin=$(echo "$build" | sed -n 's/.*Executable benches\/sweep.rs (\(.*\))/\1/p' | tail -1)
[ -x "$bin" ] || { echo "could not find the sweep bench's executable in cargo's output" >&2; exit 1; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cells=$((services * envs * (runs + 1) * 2))
# Run side $1 under callgrind; print the main thread's (thread 1) total,
# then the inclusive count of the function named $2 (empty if not found).
count() {
  valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file="$dir/$1.out" \
    "$bin" "$services" "$envs" "$runs" profile "$1" >"$dir/$1.log" 2>&1 || return 0
  callgrind_annotate --inclusive=yes --threshold=100 "$dir/$1.out-01" >"$dir/$1.txt" 2>/dev/null || return 0
  awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1; exit }' "$dir/$1.txt"
  awk -v f="$2 [" 'index($0, f) { gsub(",", "", $1); print $1; exit }' "$dir/$1.txt"
}
read -r -d '' ours_total ours < <(count 0 '???:flightdeck::poller::sweep_once::{{closure}}' && printf '\0') || true
read -r -d '' plain_total plain < <(count 3 '???:sweep::get_all::{{closure}}' && printf '\0') || true
if [ -z "${ours:-}" ] || [ -z "${plain:-}" ]; then
  keep=$(mktemp -d)
  cp "$dir"/*.log "$keep"/ 2>/dev/null || true
  echo "no count for a side: valgrind's and the bench's output are in $keep" >&2
  exit 1
fi
awk -v o="$ours" -v p="$plain" -v ot="$ours_total" -v pt="$plain_total" -v c="$cells" \
  -v s="$services" -v e="$envs" -v r="$runs" 'BEGIN {
  printf "sweep: %d cells read (%d × %d, a warm-up and %d runs at concurrency 16 and 64)\n", c, s, e, r
  printf "  flightdeck poller::sweep_once   %8.0f instructions per cell (the sweep function)\n", o / c
  printf "  plain reqwest, one thread       %8.0f instructions per cell (the sweep function)\n", p / c
  printf "  against plain reqwest: %.3f× (user space, the sweep functions)\n", o / p
  printf "  the main thread, connection tasks included: %+.0f instructions per cell\n", (ot - pt) / c
}'
