#!/usr/bin/env bash
# Start-up and idle CPU of the cockpit on the demo fleet, in a real terminal (tmux).
#
#   cargo build --release && benches/startup_idle.sh [BIN] [SECONDS]
#
# Prints: process start → first frame, process start → first full matrix
# (from the log's start-up milestones), and the CPU the process used over
# SECONDS (default 60) of running with no input, from /proc/<pid>/stat.
set -euo pipefail
bin=$(realpath "${1:-target/release/flightdeck}")
secs=${2:-60}
dir=$(mktemp -d)
session="fd-measure-$$"
trap 'tmux kill-session -t "$session" 2>/dev/null || true; rm -rf "$dir"' EXIT
tmux new-session -d -s "$session" -x 160 -y 45 \
  "exec env XDG_CONFIG_HOME=$dir/c XDG_STATE_HOME=$dir/s XDG_DATA_HOME=$dir/d $bin demo"
log="$dir/s/flightdeck/flightdeck.log"
for _ in $(seq 1 200); do
  grep -q "first full matrix" "$log" 2>/dev/null && break
  sleep 0.1
done
grep -o 'first frame drawn elapsed_ms=[0-9]*' "$log" || echo "no first frame logged"
grep -o 'first full matrix drawn elapsed_ms=[0-9]*' "$log" || echo "no full matrix logged"
pid=$(tmux display-message -p -t "$session" '#{pane_pid}')
ticks=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
before=$(cpu)
sleep "$secs"
after=$(cpu)
awk -v d=$((after - before)) -v t="$ticks" -v s="$secs" \
  'BEGIN { printf "cpu over %ds: %.2fs = %.2f%% of one core\n", s, d / t, 100 * d / t / s }'
echo "rss: $(awk '/VmRSS/ {print $2, $3}' /proc/$pid/status)"
