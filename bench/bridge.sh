#!/usr/bin/env bash
# bench/bridge.sh: what the default bridge adds to a run. Times `run --rm
# base /bin/true` with the bridge and with --network none, alternately:
#
#   kept:  the bridge and NAT table already there (the usual case);
#   first: both torn down before every timing (by `cleanup` of an empty
#          root, which takes down a kept bridge no lease uses), so that
#          the bridged run makes the bridge, ip_forward and the NAT table.
#
# Then the same two pairs again, in CPU time (user + system), which the
# waiting for a CPU on a busy machine does not inflate. Prints the tables,
# the differences round by round, and the load of the machine before and after
# (docs/benchmarks.md, "Where a bridged start's time goes"). Usage:
#
#   sudo env "PATH=$PATH" bench/bridge.sh     (RUNS=30 by default)
#   sudo env "PATH=$PATH" BEFORE=<commit> bench/bridge.sh
#
# With BEFORE, the minidocker of that commit is built too, and every group
# alternates four runs (bridge, none, and the same of the older build), so
# that a change is measured against what it replaced in the same rounds.
#
# Needs root. Runs in a mount and network namespace of its own, with a
# tmpfs on /run (the network state) and everything else under one
# /var/tmp/minidocker-bench-bridge.* directory; cgroups under
# /minidocker-bench-bridge. All of it goes at the end.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${RUNS:-30}
CG=/minidocker-bench-bridge

if [[ "${1:-}" != --inside ]]; then
	[[ $(id -u) == 0 ]] || { echo 'bench/bridge.sh needs root: sudo env "PATH=$PATH" bench/bridge.sh' >&2; exit 1; }
	WORK=$(mktemp -d /var/tmp/minidocker-bench-bridge.XXXXXX)
	export WORK RUNS
	cleanup_outside() {
		find /sys/fs/cgroup/*$CG -depth -type d -exec rmdir {} + 2>/dev/null || true
		rm -rf "$WORK"
	}
	trap cleanup_outside EXIT
	trap 'exit 130' INT TERM
	(cd "$REPO" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$WORK/minidocker" ./final &&
		go build -o "$WORK/benchtool" ./bench)
	if [[ -n "${BEFORE:-}" ]]; then
		mkdir "$WORK/before"
		git -C "$REPO" archive "$BEFORE" | tar -x -C "$WORK/before"
		(cd "$WORK/before" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$WORK/minidocker-before" ./final)
	fi
	unshare --mount --net --propagation private bash "$0" --inside
	exit $?
fi

mount -t tmpfs bench /run
export TMPDIR=$WORK/tmp
mkdir -p "$TMPDIR"
ip link set lo up
MD="$WORK/minidocker --cgroup-parent $CG --root $WORK/root"
TEARDOWN="$WORK/minidocker --cgroup-parent $CG --root $WORK/empty cleanup"
trap '$MD cleanup >/dev/null 2>&1 || true' EXIT
trap 'exit 130' INT TERM
load() { cut -d' ' -f1-3 /proc/loadavg; }
echo "load before: $(load) (1, 5, 15 minutes; $(nproc) cores)"

$MD run --rm --network none base /bin/true 2>/dev/null # makes the base image
timeit() { "$WORK/benchtool" time -out "$WORK/results.tsv" "$@"; }
# cases SUFFIX: the NAME=CMD pairs of a group, bridged first, then the
# older build's with BEFORE; befores SUFFIX: the teardown before each.
OLD="$WORK/minidocker-before --cgroup-parent $CG --root $WORK/root"
cases() {
	echo "bridge$1=$MD run --rm base /bin/true"
	echo "none$1=$MD run --rm --network none base /bin/true"
	if [[ -x $WORK/minidocker-before ]]; then
		echo "bridge$1, before=$OLD run --rm base /bin/true"
		echo "none$1, before=$OLD run --rm --network none base /bin/true"
	fi
}
befores() { cases "$1" | while IFS== read -r name _; do echo "-before"; echo "$name=$TEARDOWN"; done; }
mapfile -t KEPT < <(cases "")
mapfile -t FIRST < <(cases ", first")
mapfile -t FIRST_TD < <(befores ", first")
mapfile -t KEPT_CPU < <(cases ", CPU")
mapfile -t FIRST_CPU < <(cases ", first, CPU")
mapfile -t FIRST_CPU_TD < <(befores ", first, CPU")
timeit -group "run --rm /bin/true, the bridge kept" -runs "$RUNS" -warmup 3 "${KEPT[@]}"
timeit -group "run --rm /bin/true, the first container (bridge and NAT made)" -runs "$RUNS" -warmup 2 \
	"${FIRST_TD[@]}" "${FIRST[@]}"
# CPU time (user + system of run and the child it reaps): what the bridge
# costs in work, which a busy machine's waiting for a CPU does not blur.
timeit -cpu -group "CPU time of run --rm /bin/true, the bridge kept" -runs "$RUNS" -warmup 2 "${KEPT_CPU[@]}"
timeit -cpu -group "CPU time of run --rm /bin/true, the first container" -runs "$RUNS" -warmup 2 \
	"${FIRST_CPU_TD[@]}" "${FIRST_CPU[@]}"
echo "load after: $(load)"
"$WORK/benchtool" report "$WORK/results.tsv" "$WORK/table.md" "$WORK/plot.svg"
cat "$WORK/table.md"
"$WORK/benchtool" diff -pairs "$WORK/results.tsv"
if [[ -x $WORK/minidocker-before ]]; then
	"$WORK/benchtool" diff "$WORK/results.tsv" | grep -- '− bridge.*, before,' # what the change bought
fi
