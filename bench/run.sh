#!/usr/bin/env bash
# bench/run.sh: minidocker against runc, crun, podman and a bare
# unshare+chroot, side by side, on this machine. Needs root; installs the
# peers from Debian when they are missing; rewrites the results section of
# docs/benchmarks.md and docs/benchmarks.svg. Usage:
#
#   sudo env "PATH=$PATH" bench/run.sh            (or: ... make bench; it needs go)
#   sudo env "PATH=$PATH" RUNS=10 bench/run.sh    (fewer rounds: quicker, noisier)
#
# Everything runs inside a mount and network namespace of its own (unshare
# -mn), so the bridges, veths, NAT rules and mounts of the run are never
# the machine's; all state lives under one directory in /var/tmp; cgroups
# go under /minidocker-bench (and podman's libpod_parent); the trap removes
# all of it on exit and on Ctrl-C.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${RUNS:-30}

# ---------------------------------------------------------------- outside
if [[ "${1:-}" != --inside ]]; then
	[[ $(id -u) == 0 ]] || { echo 'bench/run.sh needs root: sudo env "PATH=$PATH" bench/run.sh' >&2; exit 1; }
	WORK=$(mktemp -d /var/tmp/minidocker-bench.XXXXXX)
	export WORK
	# Directories podman writes to outside --root/--runroot; each gets a
	# tmpfs inside the namespace. Those that do not exist yet are made
	# here and removed again at the end.
	made=()
	for d in /var/lib/containers /etc/containers/networks; do
		[[ -d $d ]] || { mkdir -p "$d"; made+=("$d"); }
	done
	cgroups_before=$(ls -d /sys/fs/cgroup/*/libpod_parent 2>/dev/null || true)
	cleanup_outside() {
		# cgroups: ours, deepest first; libpod_parent only if we made it.
		for top in /sys/fs/cgroup/*/minidocker-bench /sys/fs/cgroup/*/libpod_parent; do
			[[ -d $top ]] || continue
			[[ $top == */libpod_parent && $cgroups_before == *"$top"* ]] && continue
			find "$top" -depth -type d -exec rmdir {} + 2>/dev/null || true
		done
		for d in "${made[@]}"; do rm -rf "$d"; done
		rm -rf "$WORK"
	}
	trap cleanup_outside EXIT
	trap 'exit 130' INT TERM

	missing=()
	for p in runc crun podman; do command -v $p >/dev/null || missing+=($p); done
	if ((${#missing[@]})); then
		echo "== installing ${missing[*]} from Debian"
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
	fi
	echo "== building minidocker (CGO_ENABLED=0 -trimpath -ldflags='-s -w') and benchtool"
	(cd "$REPO" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$WORK/minidocker" ./final &&
		go build -o "$WORK/benchtool" ./bench)
	# -m: our mounts stay ours; -n: our bridges and NAT rules stay ours.
	unshare --mount --net --propagation private bash "$0" --inside
	exit $?
fi

# ----------------------------------------------------------------- inside
MD="$WORK/minidocker --root $WORK/md --cgroup-parent /minidocker-bench/md"
MD10="$WORK/minidocker --root $WORK/md10 --cgroup-parent /minidocker-bench/md"
MD1000="$WORK/minidocker --root $WORK/md1000 --cgroup-parent /minidocker-bench/md"
TOOL=$WORK/benchtool
TSV=$WORK/results.tsv
ROOTFS=$WORK/rootfs
mkdir -p "$WORK/tmp" "$ROOTFS"
export TMPDIR=$WORK/tmp # minidocker cleanup also sweeps the steps' dirs in $TMPDIR: only ours

# crun refuses a hybrid v1/v2 host: hide the v2 mount, in this namespace only.
mountpoint -q /sys/fs/cgroup/unified && umount /sys/fs/cgroup/unified
# podman's files outside its --root: on tmpfs, so they vanish with us.
for d in /run /var/lib/containers /etc/containers/networks; do mount -t tmpfs bench "$d"; done
ip link set lo up

printf '[containers]\ndefault_ulimits = []\n[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n' >"$WORK/containers.conf"
export CONTAINERS_CONF=$WORK/containers.conf # as root the bounding set lacks CAP_SYS_RESOURCE: no ulimits
PODMAN="podman --root $WORK/podman/root --runroot $WORK/podman/run --storage-driver overlay --cgroup-manager cgroupfs"

cleanup_inside() {
	$PODMAN rm -af -t 0 >/dev/null 2>&1 || true
	$PODMAN system reset -f >/dev/null 2>&1 || true
	for r in md md10 md1000; do
		$WORK/minidocker --root "$WORK/$r" --cgroup-parent /minidocker-bench/md cleanup >/dev/null 2>&1 || true
	done
	runc --root "$WORK/runc" delete -f bench >/dev/null 2>&1 || true
	crun --root "$WORK/crun" delete -f bench >/dev/null 2>&1 || true
	# conmon and podman's own cleanup may outlive the last command briefly.
	for _ in $(seq 50); do pgrep -f -- "$WORK/podman" >/dev/null || break; sleep 0.1; done
}
trap cleanup_inside EXIT
trap 'exit 130' INT TERM

echo "== one rootfs for all: minidocker's base, exported"
$MD run --name export --network none base /bin/true
$MD export export >"$WORK/base.tar"
$MD rm export >/dev/null
tar -xf "$WORK/base.tar" -C "$ROOTFS"
$PODMAN import -q "$WORK/base.tar" localhost/base >/dev/null
for rt in runc crun; do
	mkdir -p "$WORK/bundle-$rt"
	(cd "$WORK/bundle-$rt" && runc spec)
	$TOOL spec "$WORK/bundle-$rt" "$ROOTFS" "/minidocker-bench/$rt"
done

LOAD_BEFORE=$(cut -d' ' -f1 /proc/loadavg) # how busy the machine was: in the report
section() { echo "== $1"; }
timeit() { $TOOL time -out "$TSV" "$@"; }

section "1. run /bin/true, no network"
timeit -group "1. run /bin/true, no network" -runs "$RUNS" -warmup 3 \
	"minidocker run --rm --network none=$MD run --rm --network none base /bin/true" \
	"runc run=runc --root $WORK/runc run -b $WORK/bundle-runc bench" \
	"crun run=crun --root $WORK/crun run -b $WORK/bundle-crun bench" \
	"podman run --rm --network none=$PODMAN run --rm --network none localhost/base /bin/true" \
	"unshare + chroot (the floor)=unshare --fork --pid --mount --uts --ipc --net chroot $ROOTFS /bin/true"

section "2. run /bin/true, bridge network"
timeit -group "2. run /bin/true, bridge network" -runs "$((RUNS / 2 + 1))" -warmup 2 \
	"minidocker run --rm=$MD run --rm base /bin/true" \
	"podman run --rm=$PODMAN run --rm localhost/base /bin/true"

section "3. commit a container that wrote 100 MB"
write100="dd if=/dev/urandom of=/big bs=1M count=100"
timeit -group "3. commit a container that wrote 100 MB" -runs 7 -warmup 1 \
	-before "minidocker commit=$MD run --name c100 --network none base $write100" \
	-after "minidocker commit=$MD rm c100 && $MD rmi bench-commit" \
	-before "podman commit=$PODMAN run --name c100 --network none localhost/base $write100" \
	-after "podman commit=$PODMAN rm c100 && $PODMAN rmi bench-commit" \
	"minidocker commit=$MD commit c100 bench-commit" \
	"podman commit=$PODMAN commit -q c100 bench-commit"

section "4. ps -a and run with 10 and with 1,000 containers"
make_containers() { # ROOT-COMMAND N: one exited container (it makes base), N-1 created ones (bench/scale.sh has more)
	$1 run --network none base /bin/true 2>/dev/null
	seq $(($2 - 1)) | xargs -P 2 -I{} $1 create --network none base /bin/true >/dev/null
}
make_containers "$MD10" 10
make_containers "$MD1000" 1000
timeit -group "4. ps -a with 10 and with 1,000 containers" -runs "$RUNS" -warmup 2 \
	"minidocker ps -a, 1,000=$MD1000 ps -a" \
	"minidocker ps -a, 10=$MD10 ps -a"
timeit -group "4. run with 10 and with 1,000 containers" -runs "$RUNS" -warmup 2 \
	"minidocker run, 1,000=$MD1000 run --rm --network none base /bin/true" \
	"minidocker run, 10=$MD10 run --rm --network none base /bin/true"

section "5. 20 containers started at once (bridge), every address unique"
parallel20() { # NAME START-COMMAND ADDRESS-COMMAND REMOVE-COMMAND
	local start end ids addrs
	start=$(date +%s%N)
	for i in $(seq 20); do $2 >"$WORK/p.$i" & done
	wait
	end=$(date +%s%N)
	ids=$(cat "$WORK"/p.*)
	addrs=$(for id in $ids; do $3 "$id"; done | sort)
	if [[ $(echo "$addrs" | grep -c .) != 20 || $(echo "$addrs" | uniq -d) != "" ]]; then
		echo "FAIL: $1: addresses not 20 unique ones: $addrs" >&2
		exit 1
	fi
	$4 $ids >/dev/null
	printf '%s\t%s\t%.3f\n' "5. 20 containers started at once (bridge), all addresses unique" "$1" \
		"$(((end - start) / 1000))e-3" >>"$TSV"
}
for round in 1 2 3 4 5; do
	parallel20 "minidocker run -d ×20" "$MD run -d base sleep 60" \
		"$MD inspect -f {{.NetworkSettings.IPAddress}}" "$MD rm -f"
	parallel20 "podman run -d ×20" "$PODMAN run -d localhost/base sleep 60" \
		"$PODMAN inspect -f {{.NetworkSettings.IPAddress}}" "$PODMAN rm -f -t 0"
done
echo "  20 unique addresses in every round"

section "report"
$TOOL report "$TSV" "$WORK/table.md" "$REPO/docs/benchmarks.svg"
{
	echo "Measured $(date -u +%Y-%m-%d) on $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo),"
	echo "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), kernel $(uname -r),"
	echo "cgroup v1, state on $(df -T "$WORK" | awk 'NR==2 {print $2}'); $(go version | cut -d' ' -f3),"
	echo "runc $(runc --version | awk 'NR==1 {print $3}'), crun $(crun --version | awk 'NR==1 {print $3}'), podman $(podman --version | awk '{print $3}');"
	echo "load average (1 min) $LOAD_BEFORE at the start, $(cut -d' ' -f1 /proc/loadavg) at the end, on $(nproc) cores."
	echo
	cat "$WORK/table.md"
} >"$WORK/section.md"
awk -v f="$WORK/section.md" '
	/<!-- results -->/ { print; while ((getline l < f) > 0) print l; skip = 1; next }
	/<!-- \/results -->/ { skip = 0 }
	!skip' "$REPO/docs/benchmarks.md" >"$WORK/benchmarks.md"
cp "$WORK/benchmarks.md" "$REPO/docs/benchmarks.md"
cat "$WORK/section.md"
