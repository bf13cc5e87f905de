#!/usr/bin/env bash
# bench/registry.sh: pull and push of an image of about 100 MB in six
# layers (minidocker's base and five of 20 MB, random, so gzip cannot
# shrink them) against Debian's docker-registry on loopback, side by side
# with skopeo: pull into an empty store next to skopeo's copy into an OCI
# directory (which does not unpack, or even decompress); push into an
# empty registry next to skopeo's copy of an OCI layout whose layers are
# already gzipped; and a re-pull of an image that is present. podman pull
# and push too when podman is installed. Needs root, docker-registry and skopeo;
# everything runs in a network namespace of its own, state is under one
# /var/tmp/minidocker-bench-registry.* directory, removed at the end. Usage:
#
#   sudo env "PATH=$PATH" bench/registry.sh        (RUNS=5 by default)
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${RUNS:-5}

if [[ "${1:-}" != --inside ]]; then
	[[ $(id -u) == 0 ]] || { echo 'bench/registry.sh needs root: sudo env "PATH=$PATH" bench/registry.sh' >&2; exit 1; }
	for p in docker-registry skopeo; do
		command -v $p >/dev/null || { echo "bench/registry.sh needs $p: apt-get install $p" >&2; exit 1; }
	done
	WORK=$(mktemp -d /var/tmp/minidocker-bench-registry.XXXXXX)
	export WORK
	cleanup_outside() {
		find /sys/fs/cgroup/*/minidocker-bench-registry -depth -type d -exec rmdir {} + 2>/dev/null || true
		rm -rf "$WORK"
	}
	trap cleanup_outside EXIT
	trap 'exit 130' INT TERM
	(cd "$REPO" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$WORK/minidocker" ./final &&
		go build -o "$WORK/benchtool" ./bench)
	unshare --mount --net --propagation private bash "$0" --inside
	exit $?
fi

# ----------------------------------------------------------------- inside
MD="$WORK/minidocker --root $WORK/md --cgroup-parent /minidocker-bench-registry"
PULLED="$WORK/minidocker --root $WORK/pulled --cgroup-parent /minidocker-bench-registry"
TOOL=$WORK/benchtool
TSV=$WORK/results.tsv
REG=127.0.0.1:5000
mkdir -p "$WORK/tmp"
export TMPDIR=$WORK/tmp
ip link set lo up

# The registry, restarted on empty storage by reset-registry.sh.
cat >"$WORK/config.yml" <<YAML
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $WORK/registry
http:
  addr: $REG
YAML
cat >"$WORK/reset-registry.sh" <<SH
#!/bin/sh
[ -f $WORK/registry.pid ] && kill \$(cat $WORK/registry.pid) 2>/dev/null && while kill -0 \$(cat $WORK/registry.pid) 2>/dev/null; do sleep 0.05; done
rm -rf $WORK/registry
docker-registry serve $WORK/config.yml >>$WORK/registry.log 2>&1 &
echo \$! >$WORK/registry.pid
i=0; until wget -q -O /dev/null http://$REG/v2/ 2>/dev/null || curl -fs -o /dev/null http://$REG/v2/ 2>/dev/null; do i=\$((i+1)); [ \$i -gt 200 ] && exit 1; sleep 0.05; done
SH
chmod +x "$WORK/reset-registry.sh"
cleanup_inside() {
	[[ -f $WORK/registry.pid ]] && kill "$(cat "$WORK/registry.pid")" 2>/dev/null || true
	[[ -z ${PODMAN_RUN:-} ]] || rm -rf "$PODMAN_RUN"
	$WORK/minidocker --root "$WORK/md" --cgroup-parent /minidocker-bench-registry cleanup >/dev/null 2>&1 || true
}
trap cleanup_inside EXIT
trap 'exit 130' INT TERM
"$WORK/reset-registry.sh"

echo "== the image: base and five layers of 20 MB"
img=base
for i in 1 2 3 4 5; do
	$MD run --name "l$i" --network none "$img" sh -c "head -c 20971520 /dev/urandom > /data$i" 2>/dev/null
	$MD commit "l$i" "layer$i" >/dev/null
	$MD rm "l$i" >/dev/null
	img=layer$i
done
$MD tag layer5 $REG/big:v1
$MD save -o "$WORK/big.tar" $REG/big:v1
skopeo --insecure-policy copy -q "oci-archive:$WORK/big.tar" "oci:$WORK/layout:v1"
du -sh "$WORK/layout" | awk '{print "  OCI layout (gzipped layers): " $1}'

timeit() { $TOOL time -out "$TSV" "$@"; }

PODMAN_RUN=$(mktemp -d /tmp/mdbr.XXXXXX) # podman refuses a runroot longer than 50 characters
PODMAN="podman --root $WORK/podman/root --runroot $PODMAN_RUN --storage-driver overlay"
push_cases=("minidocker push=$MD push -q $REG/big:v1"
	"skopeo copy oci: docker://=skopeo --insecure-policy copy -q --dest-tls-verify=false oci:$WORK/layout:v1 docker://$REG/big:v1")
push_afters=(-after "minidocker push=$WORK/reset-registry.sh" -after "skopeo copy oci: docker://=$WORK/reset-registry.sh")
if command -v podman >/dev/null; then
	# podman pushes from its own store: the image goes there first.
	$MD push -q $REG/big:v1 >/dev/null
	$PODMAN pull -q --tls-verify=false $REG/big:v1 >/dev/null
	"$WORK/reset-registry.sh"
	push_cases+=("podman push=$PODMAN push -q --tls-verify=false $REG/big:v1")
	push_afters+=(-after "podman push=$WORK/reset-registry.sh")
fi
echo "== push into an empty registry"
timeit -group "push, empty registry" -runs "$RUNS" -warmup 1 "${push_afters[@]}" "${push_cases[@]}"
if command -v podman >/dev/null; then
	$PODMAN rmi -a -f >/dev/null
fi

$MD push -q $REG/big:v1 >/dev/null
cases=("minidocker pull=$PULLED pull -q $REG/big:v1"
	"skopeo copy docker:// oci:=skopeo --insecure-policy copy -q --src-tls-verify=false docker://$REG/big:v1 oci:$WORK/copy:v1")
afters=(-after "minidocker pull=rm -rf $WORK/pulled" -after "skopeo copy docker:// oci:=rm -rf $WORK/copy")
if command -v podman >/dev/null; then
	cases+=("podman pull=$PODMAN pull -q --tls-verify=false $REG/big:v1")
	afters+=(-after "podman pull=$PODMAN rmi -a -f")
fi
echo "== pull into an empty store"
timeit -group "pull, empty store" -runs "$RUNS" -warmup 1 "${afters[@]}" "${cases[@]}"

echo "== pull of an image that is present"
$PULLED pull -q $REG/big:v1 >/dev/null
timeit -group "re-pull, image present" -runs "$((RUNS * 4))" -warmup 2 \
	"minidocker pull (present)=$PULLED pull -q $REG/big:v1"
$PULLED run --rm --network none $REG/big:v1 sh -c 'ls -l /data1 /data5' >/dev/null

echo
echo "Measured $(date -u +%Y-%m-%d) on $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'),"
echo "kernel $(uname -r), state on $(df -T "$WORK" | awk 'NR==2 {print $2}'); $(go version | cut -d' ' -f3), skopeo $(skopeo --version | awk '{print $3}'), docker-registry $(docker-registry --version | awk '{print $3}')."
