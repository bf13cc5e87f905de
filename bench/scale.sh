#!/usr/bin/env bash
# bench/scale.sh: does minidocker stay flat as containers pile up? Times,
# alternately and side by side in one run:
#
#   ps -a with 10, 1,000 and 10,000 containers in the state root (wall
#   time, then CPU time);
#   run --rm --network none with 10 and with 1,000;
#   rm -f of 100 and of 1,000 containers (one command each);
#   cleanup of a root with 100 and with 1,000 containers.
#
# The containers are made cheaply: `create`d, and every tenth one run to
# its exit, so that ps shows both kinds. Prints the tables (medians,
# spread, and the first row's median ÷ each row's) and the machine's load
# before and after (docs/benchmarks.md, "Scale"). Usage:
#
#   sudo env "PATH=$PATH" bench/scale.sh     (RUNS=20 ROUNDS=5 by default)
#
# Needs root. Runs in a mount and network namespace of its own (cleanup
# touches the bridge and NAT of the namespace it runs in, and /run, which
# is a tmpfs there), with TMPDIR and
# every state root under one /var/tmp/minidocker-bench-scale.* directory
# and cgroups under /minidocker-bench-scale; all of it goes at the end.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${RUNS:-20}
ROUNDS=${ROUNDS:-5}
CG=/minidocker-bench-scale

# fill ROOT N: N containers named c1…cN in state root ROOT; the first is
# run (it makes the base image), then every tenth, the rest are created.
if [[ "${1:-}" == --fill ]]; then
	root=$2 n=$3
	md=("$WORK/minidocker" --root "$root" --cgroup-parent "$CG")
	"${md[@]}" run --name c1 --network none base /bin/true 2>/dev/null
	seq 2 "$n" | xargs -P 2 -I{} sh -c 'if [ $(({} % 10)) = 0 ]; then v=run; else v=create; fi
		exec "$0" --root "$1" --cgroup-parent "$2" $v --name c{} --network none base /bin/true' \
		"$WORK/minidocker" "$root" "$CG" >/dev/null
	exit 0
fi

if [[ "${1:-}" != --inside ]]; then
	[[ $(id -u) == 0 ]] || { echo 'bench/scale.sh needs root: sudo env "PATH=$PATH" bench/scale.sh' >&2; exit 1; }
	WORK=$(mktemp -d /var/tmp/minidocker-bench-scale.XXXXXX)
	export WORK RUNS ROUNDS
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

mount -t tmpfs bench /run # network state: cleanup looks at and removes /run/minidocker's
export TMPDIR=$WORK/tmp    # cleanup sweeps the steps' dirs in $TMPDIR: only ours
mkdir -p "$TMPDIR"
ip link set lo up
cleanup_inside() {
	for r in "$WORK"/r*; do
		[[ -d $r ]] && "$WORK/minidocker" --root "$r" --cgroup-parent "$CG" cleanup >/dev/null 2>&1
	done
	true
}
trap cleanup_inside EXIT
trap 'exit 130' INT TERM

MD="$WORK/minidocker --cgroup-parent $CG --root"
TSV=$WORK/results.tsv
fill() { bash "$0" --fill "$@"; }
load() { cut -d' ' -f1-3 /proc/loadavg; }
echo "load before: $(load) (1, 5, 15 minutes; $(nproc) cores)"

echo "== filling state roots with 10, 1,000 and 10,000 containers"
for n in 10 1000 10000; do fill "$WORK/r$n" "$n"; done

timeit() { "$WORK/benchtool" time -out "$TSV" "$@"; }
timeit -group "ps -a with 10, 1,000 and 10,000 containers" -runs "$RUNS" -warmup 2 \
	"ps -a, 1,000=$MD $WORK/r1000 ps -a" \
	"ps -a, 10=$MD $WORK/r10 ps -a" \
	"ps -a, 10,000=$MD $WORK/r10000 ps -a"
timeit -cpu -group "ps -a with 10, 1,000 and 10,000 containers, CPU time" -runs "$RUNS" -warmup 2 \
	"ps -a, 1,000, CPU=$MD $WORK/r1000 ps -a" \
	"ps -a, 10, CPU=$MD $WORK/r10 ps -a" \
	"ps -a, 10,000, CPU=$MD $WORK/r10000 ps -a"
timeit -group "run --rm --network none with 10 and 1,000 containers" -runs "$RUNS" -warmup 2 \
	"run, 1,000=$MD $WORK/r1000 run --rm --network none base /bin/true" \
	"run, 10=$MD $WORK/r10 run --rm --network none base /bin/true"

names() { seq -f 'c%g' "$1" | tr '\n' ' '; }
timeit -group "rm -f of 1,000 and of 100 containers, one command" -runs "$ROUNDS" -warmup 0 \
	-before "rm -f 1,000=rm -rf $WORK/rm1000 && bash $0 --fill $WORK/rm1000 1000" \
	-before "rm -f 100=rm -rf $WORK/rm100 && bash $0 --fill $WORK/rm100 100" \
	"rm -f 1,000=$MD $WORK/rm1000 rm -f $(names 1000)" \
	"rm -f 100=$MD $WORK/rm100 rm -f $(names 100)"
timeit -group "cleanup of a root with 1,000 and with 100 containers" -runs "$ROUNDS" -warmup 0 \
	-before "cleanup 1,000=bash $0 --fill $WORK/rc1000 1000" \
	-before "cleanup 100=bash $0 --fill $WORK/rc100 100" \
	"cleanup 1,000=$MD $WORK/rc1000 cleanup" \
	"cleanup 100=$MD $WORK/rc100 cleanup"

echo "load after: $(load)"
"$WORK/benchtool" report "$TSV" "$WORK/table.md" "$WORK/plot.svg"
cat "$WORK/table.md"
