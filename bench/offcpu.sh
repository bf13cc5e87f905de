#!/usr/bin/env bash
# bench/offcpu.sh: where a command waits. Runs CMD under an off-CPU
# profile of its whole process tree (every process and thread it starts,
# the re-executed child and the container's command included): each time
# one of them leaves the CPU, the kernel stack it leaves from and how long
# until it runs again, summed by process name and stack. Waiting for the
# CPU shows as a stack ending in a preemption (exit_to_user_mode_loop,
# __cond_resched). The idle threads of a Go program, parked in futex,
# epoll or nanosleep, are left out: they wait for work, not for the kernel.
# Usage:
#
#   sudo bench/offcpu.sh [-n RUNS] [-top N] CMD ARGS...
#
# e.g. sudo bench/offcpu.sh -n 10 minidocker run --rm base /bin/true
# (docs/benchmarks.md, "Where a bridged start's time goes"). Needs root
# and bpftrace (apt-get install bpftrace), and tracefs on
# /sys/kernel/tracing (mount -t tracefs nodev /sys/kernel/tracing).
set -euo pipefail

RUNS=1
TOP=15
while [[ $# -gt 0 ]]; do
	case $1 in
	-n) RUNS=$2; shift 2 ;;
	-top) TOP=$2; shift 2 ;;
	*) break ;;
	esac
done
[[ $# -gt 0 ]] || { echo "usage: bench/offcpu.sh [-n RUNS] [-top N] CMD ARGS..." >&2; exit 2; }
command -v bpftrace >/dev/null || { echo "bench/offcpu.sh needs bpftrace: apt-get install bpftrace" >&2; exit 1; }
[[ -e /sys/kernel/tracing/events/sched ]] || { echo "bench/offcpu.sh needs tracefs: mount -t tracefs nodev /sys/kernel/tracing" >&2; exit 1; }

# The tree is followed from this shell: every fork below it is tracked
# (the shell's own waiting is not).
PROG='
tracepoint:sched:sched_process_fork /args->parent_pid == $1 || @tracked[args->parent_pid]/ { @tracked[args->child_pid] = 1; }
tracepoint:sched:sched_switch {
	if (@tracked[args->prev_pid]) {
		@start[args->prev_pid] = nsecs;
		@stack[args->prev_pid] = kstack(10);
	}
	$s = @start[args->next_pid];
	if ($s) {
		@us[args->next_comm, @stack[args->next_pid]] = sum((nsecs - $s) / 1000);
		delete(@start[args->next_pid]);
	}
}
END { clear(@tracked); clear(@start); clear(@stack); }
'
OUT=$(mktemp)
trap 'rm -f "$OUT"' EXIT
bpftrace -e "$PROG" $$ >"$OUT" 2>&1 &
BT=$!
until grep -q '^Attaching' "$OUT"; do
	kill -0 $BT 2>/dev/null || { cat "$OUT" >&2; exit 1; }
	sleep 0.1
done
sleep 1 # attached: the probes are live shortly after the message
for ((i = 0; i < RUNS; i++)); do
	"$@" >/dev/null
done
kill -INT $BT
wait $BT || true
# One record per (process, stack): join the lines of bpftrace's map, drop
# Go's idle waits, sort by the total, print in ms per run.
awk -v runs="$RUNS" '
	/^@us\[/ { rec = $0; sub(/^@us\[/, "", rec); sub(/, *$/, "", rec); frames = ""; next }
	/^\]: / { total = $2; if (frames !~ /futex_wait|do_epoll_wait|do_nanosleep/) printf "%9.2f ms  %-12s %s\n", total / 1000 / runs, rec, frames; next }
	rec != "" && NF { f = $1; sub(/\+.*/, "", f); if (f != "__schedule" && f != "schedule") frames = frames (frames ? " < " : "") f }
' "$OUT" | sort -rn | sed -n "1,${TOP}p"
echo "(off-CPU time a run, summed over its processes and threads, by kernel stack; $RUNS runs; load $(cut -d' ' -f1-3 /proc/loadavg))"
