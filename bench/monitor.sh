#!/usr/bin/env bash
# bench/monitor.sh: what a detached container's monitor costs in memory.
# Starts N (100) detached `sleep` containers (--network none), then reads
# each monitor's /proc/PID/smaps_rollup and status, and prints the median
# PSS (its proportional share: shared pages count divided among their
# users), its anonymous and file-backed parts, RSS and threads, 2 s
# after the last start and again LATER (130) seconds on, past the Go
# runtime's two-minute collection (docs/benchmarks.md, "A monitor's
# memory"). Usage:
#
#   sudo env "PATH=$PATH" bench/monitor.sh     (N=100 LATER=130 by default; LATER=0: once)
#
# Extra environment (GOGC=…, GODEBUG=…) reaches the monitors, which
# inherit it from `run -d` (a monitor sets its own GOMAXPROCS, and its
# collector's settings once its container runs). Needs root. Runs in a mount and network
# namespace of its own (tmpfs /run, TMPDIR of its own); everything else is
# under one /var/tmp/minidocker-bench-monitor.* directory, cgroups under
# /minidocker-bench-monitor, and all of it goes at the end.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
N=${N:-100}
LATER=${LATER:-130}
CG=/minidocker-bench-monitor
if [[ "${1:-}" != --inside ]]; then
	[[ $(id -u) == 0 ]] || { echo 'bench/monitor.sh needs root: sudo env "PATH=$PATH" bench/monitor.sh' >&2; exit 1; }
	WORK=$(mktemp -d /var/tmp/minidocker-bench-monitor.XXXXXX)
	export WORK N LATER
	cleanup_outside() {
		find /sys/fs/cgroup/*$CG -depth -type d -exec rmdir {} + 2>/dev/null || true
		rm -rf "$WORK"
	}
	trap cleanup_outside EXIT
	trap 'exit 130' INT TERM
	(cd "$REPO" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$WORK/minidocker" ./final)
	# Its own mount and network namespace, /run and TMPDIR: cleanup at the
	# end then touches no one else's network state or steps' directories.
	unshare --mount --net --propagation private bash "$0" --inside
	exit $?
fi
mount -t tmpfs bench /run
export TMPDIR=$WORK/tmp
mkdir -p "$TMPDIR"
MD=("$WORK/minidocker" --cgroup-parent "$CG" --root "$WORK/root")
trap '"${MD[@]}" cleanup >/dev/null 2>&1 || true' EXIT
trap 'exit 130' INT TERM
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) cores)"
"${MD[@]}" run --rm --network none base /bin/true 2>/dev/null # makes the base image
for _ in $(seq "$N"); do "${MD[@]}" run -d --network none base sleep 3600 >/dev/null; done
# measure: the median monitor, by PSS, in kB.
measure() {
	for rec in "$WORK"/root/containers/*/config.json; do
		pid=$(grep -o '"MonitorPid": [0-9]*' "$rec" | grep -o '[0-9]*$')
		awk '/^Pss:/ {pss=$2} /^Pss_Anon:/ {anon=$2} /^Pss_File:/ {file=$2} /^Rss:/ {rss=$2}
			END {printf "%d %d %d %d ", pss, anon, file, rss}' "/proc/$pid/smaps_rollup"
		awk '/^Threads:/ {print $2}' "/proc/$pid/status"
	done | sort -n | awk -v n="$N" -v when="$1" '
		{ pss[NR] = $1; anon[NR] = $2; file[NR] = $3; rss[NR] = $4; thr[NR] = $5 }
		END {
			m = int((NR + 1) / 2) # rows are sorted by PSS: the median monitor
			printf "%d monitors (of %d containers), %s; the median one, in kB:\n", NR, n, when
			printf "| PSS | of it anonymous | of it file-backed | RSS | threads |\n|---:|---:|---:|---:|---:|\n"
			printf "| %d | %d | %d | %d | %d |\n", pss[m], anon[m], file[m], rss[m], thr[m]
		}'
}
sleep 2 # let every monitor settle after its start (the first heartbeats, the started report)
measure "2 s after the last start"
if ((LATER > 0)); then
	# Go's runtime collects at least every two minutes: a monitor that
	# still collects pays for it then (docs/benchmarks.md).
	sleep "$LATER"
	measure "$((LATER + 2)) s after the last start"
fi
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
