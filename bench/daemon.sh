#!/usr/bin/env bash
# bench/daemon.sh: what the daemon adds. `docker ps` and `docker run --rm
# base true` through minidocker's daemon, next to `minidocker ps` and
# `minidocker run --rm base true` on the same state root, alternately,
# ROUNDS times; then medians in milliseconds. The docker CLI (client only)
# must be on PATH. Needs root; the state, binaries, socket and cgroups
# (/minidocker-bench-daemon) are its own and are removed at the end;
# containers run with --network none. Usage:
#
#   sudo env "PATH=$PATH" bench/daemon.sh        (ROUNDS=30 by default)
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=${ROUNDS:-30}
[[ $(id -u) == 0 ]] || { echo 'bench/daemon.sh needs root: sudo env "PATH=$PATH" bench/daemon.sh' >&2; exit 1; }
command -v docker >/dev/null || { echo 'bench/daemon.sh needs the docker CLI on PATH' >&2; exit 1; }
WORK=$(mktemp -d /var/tmp/minidocker-bench-daemon.XXXXXX)
DAEMON=
cleanup() {
	[[ -n $DAEMON ]] && kill "$DAEMON" 2>/dev/null && wait "$DAEMON" 2>/dev/null
	"$WORK/minidocker" --root "$WORK/root" cleanup >/dev/null 2>&1 || true
	find /sys/fs/cgroup/*/minidocker-bench-daemon -depth -type d -exec rmdir {} + 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

(cd "$REPO" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$WORK/minidocker" ./final)
md=("$WORK/minidocker" --root "$WORK/root" --cgroup-parent /minidocker-bench-daemon)
"${md[@]}" daemon --host "unix://$WORK/api.sock" 2>/dev/null &
DAEMON=$!
until [[ -S $WORK/api.sock ]]; do sleep 0.05; done
export DOCKER_CONFIG=$WORK/docker-config
dk=(docker -H "unix://$WORK/api.sock")
"${md[@]}" run --rm --network none base true 2>/dev/null # makes the base image
ms() { local t0 t1; t0=$(date +%s%N); "$@" >/dev/null; t1=$(date +%s%N); echo $(((t1 - t0) / 1000)); }
for ((i = 0; i < ROUNDS; i++)); do
	echo "$(ms "${dk[@]}" ps -a) $(ms "${md[@]}" ps -a)" \
		"$(ms "${dk[@]}" run --rm --network none base true) $(ms "${md[@]}" run --rm --network none base true)"
done | awk -v rounds="$ROUNDS" '
	NF == 4 { for (c = 1; c <= 4; c++) v[c, ++k[c]] = $c / 1000 }
	function median(c,   i, j, t, b, n) {
		n = k[c]
		for (i = 1; i <= n; i++) b[i] = v[c, i]
		for (i = 2; i <= n; i++) for (j = i; j > 1 && b[j-1] > b[j]; j--) { t = b[j]; b[j] = b[j-1]; b[j-1] = t }
		return n % 2 ? b[(n+1)/2] : (b[n/2] + b[n/2+1]) / 2
	}
	END {
		printf "%d of %d rounds complete; medians in ms\n", k[1], rounds
		printf "| ps -a | %.1f | %.1f | %+.1f |\n", median(1), median(2), median(1) - median(2)
		printf "| run --rm --network none base true | %.1f | %.1f | %+.1f |\n", median(3), median(4), median(3) - median(4)
	}'
