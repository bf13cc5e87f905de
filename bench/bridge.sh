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
timeit -group "run --rm /bin/true, the bridge kept" -runs "$RUNS" -warmup 3 \
	"bridge=$MD run --rm base /bin/true" \
	"none=$MD run --rm --network none base /bin/true"
timeit -group "run --rm /bin/true, the first container (bridge and NAT made)" -runs "$RUNS" -warmup 2 \
	-before "bridge, first=$TEARDOWN" -before "none, first=$TEARDOWN" \
	"bridge, first=$MD run --rm base /bin/true" \
	"none, first=$MD run --rm --network none base /bin/true"
# CPU time (user + system of run and the child it reaps): what the bridge
# costs in work, which a busy machine's waiting for a CPU does not blur.
timeit -cpu -group "CPU time of run --rm /bin/true, the bridge kept" -runs "$RUNS" -warmup 2 \
	"bridge, CPU=$MD run --rm base /bin/true" \
	"none, CPU=$MD run --rm --network none base /bin/true"
timeit -cpu -group "CPU time of run --rm /bin/true, the first container" -runs "$RUNS" -warmup 2 \
	-before "bridge, first, CPU=$TEARDOWN" -before "none, first, CPU=$TEARDOWN" \
	"bridge, first, CPU=$MD run --rm base /bin/true" \
	"none, first, CPU=$MD run --rm --network none base /bin/true"
echo "load after: $(load)"
"$WORK/benchtool" report "$WORK/results.tsv" "$WORK/table.md" "$WORK/plot.svg"
cat "$WORK/table.md"
"$WORK/benchtool" diff "$WORK/results.tsv"
