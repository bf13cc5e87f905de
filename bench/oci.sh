#!/usr/bin/env bash
# bench/oci.sh: minidocker-runc next to runc and crun on one OCI bundle:
# `run` of /bin/true (create, start, wait, delete), the three alternately,
# ROUNDS times, with benchtool; then medians. The rootfs is the busybox
# tarball of the runtime-tools suite (from the Go module cache or proxy),
# each runtime's bundle is `runc spec` with benchtool's edits. It runs in
# a mount namespace of its own, where cgroup v1's "unified" v2 mount is
# hidden (crun refuses a hybrid host). Needs root; state and binaries are
# under one /var/tmp directory, cgroups under /minidocker-bench-oci; both
# are removed at the end. Usage:
#
#   sudo env "PATH=$PATH" bench/oci.sh            (ROUNDS=30 by default)
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=${ROUNDS:-30}
if [[ "${1:-}" != --inside ]]; then
	[[ $(id -u) == 0 ]] || { echo 'bench/oci.sh needs root: sudo env "PATH=$PATH" bench/oci.sh' >&2; exit 1; }
	for p in runc crun; do command -v $p >/dev/null || { echo "bench/oci.sh: needs $p (apt-get install $p)" >&2; exit 1; }; done
	WORK=$(mktemp -d /var/tmp/minidocker-bench-oci.XXXXXX)
	export WORK ROUNDS
	cleanup() {
		find /sys/fs/cgroup/*/minidocker-bench-oci -depth -type d -exec rmdir {} + 2>/dev/null || true
		rm -rf "$WORK"
	}
	trap cleanup EXIT INT TERM
	(cd "$REPO" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$WORK/minidocker" ./final &&
		go build -o "$WORK/benchtool" ./bench)
	ln -s minidocker "$WORK/minidocker-runc"
	tools=$(cd "$REPO/tests/testdata/runtime-tools" && GOFLAGS=-mod=mod GOWORK=off go list -m -f '{{.Dir}}' github.com/opencontainers/runtime-tools)
	mkdir "$WORK/rootfs" && tar -xzf "$tools/rootfs-amd64.tar.gz" -C "$WORK/rootfs"
	unshare --mount --propagation private bash "$0" --inside
	exit $?
fi

mountpoint -q /sys/fs/cgroup/unified && umount /sys/fs/cgroup/unified
for rt in md runc crun; do
	mkdir "$WORK/bundle-$rt"
	(cd "$WORK/bundle-$rt" && runc spec)
	"$WORK/benchtool" spec "$WORK/bundle-$rt" "$WORK/rootfs" "/minidocker-bench-oci/$rt"
done
"$WORK/benchtool" time -out "$WORK/results.tsv" -group "run of one bundle" -runs "$ROUNDS" -warmup 3 \
	"minidocker-runc run=$WORK/minidocker-runc --root $WORK/md run -b $WORK/bundle-md bench" \
	"runc run=runc --root $WORK/runc run -b $WORK/bundle-runc bench" \
	"crun run=crun --root $WORK/crun run -b $WORK/bundle-crun bench"
