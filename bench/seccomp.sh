#!/usr/bin/env bash
# bench/seccomp.sh: what Docker's default seccomp profile costs a
# syscall-heavy program. The test helper (tests/helper) makes N getppid
# calls and prints the CPU time one took (its thread's, so that other work
# on the machine does not count), in a container under the default
# profile, in one with seccomp=unconfined, and on the host, alternately,
# ROUNDS times; then medians and ratios. Needs root; state,
# binaries and cgroups (/minidocker-bench-seccomp) are its own and are
# removed at the end. Usage:
#
#   sudo env "PATH=$PATH" bench/seccomp.sh        (ROUNDS=40 N=300000 by default)
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=${ROUNDS:-40}
N=${N:-300000}
[[ $(id -u) == 0 ]] || { echo 'bench/seccomp.sh needs root: sudo env "PATH=$PATH" bench/seccomp.sh' >&2; exit 1; }
WORK=$(mktemp -d /var/tmp/minidocker-bench-seccomp.XXXXXX)
cleanup() {
	"$WORK/minidocker" --root "$WORK/root" cleanup >/dev/null 2>&1 || true
	find /sys/fs/cgroup/*/minidocker-bench-seccomp -depth -type d -exec rmdir {} + 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

(cd "$REPO" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$WORK/minidocker" ./final &&
	CGO_ENABLED=0 go build -o "$WORK/helper" ./tests/helper)
md=("$WORK/minidocker" --root "$WORK/root" run --rm --network none
	--cgroup-parent /minidocker-bench-seccomp -v "$WORK/helper:/helper:ro")
"${md[@]}" base true 2>/dev/null # makes the base image
for ((i = 0; i < ROUNDS; i++)); do
	echo "$("${md[@]}" base /helper getppid "$N")" \
		"$("${md[@]}" --security-opt seccomp=unconfined base /helper getppid "$N")" \
		"$("$WORK/helper" getppid "$N")"
done | awk -v rounds="$ROUNDS" '
	NF == 3 { d[++n] = $1; u[n] = $2; h[n] = $3; r[n] = $1 / $2; x[n] = $1 - $2 }
	function median(a, k,   i, j, t, b) {
		for (i = 1; i <= k; i++) b[i] = a[i]
		for (i = 2; i <= k; i++) for (j = i; j > 1 && b[j-1] > b[j]; j--) { t = b[j]; b[j] = b[j-1]; b[j-1] = t }
		return k % 2 ? b[(k+1)/2] : (b[k/2] + b[k/2+1]) / 2
	}
	END {
		printf "%d of %d rounds complete\n", n, rounds
		printf "getppid, CPU ns a call (median): default profile %.1f, unconfined %.1f, host %.1f\n", median(d, n), median(u, n), median(h, n)
		printf "default / unconfined: %.2f (median of the paired ratios); the filter: %+.1f ns a call\n", median(r, n), median(x, n)
	}'
