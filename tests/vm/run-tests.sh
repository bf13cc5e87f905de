#!/usr/bin/env bash
# vm/run-tests.sh — run the test suite as root on a real cgroup v2 kernel, in
# a throw-away QEMU (TCG) virtual machine. See vm/README.md.
#
#   bash tests/vm/run-tests.sh [go test binary flags...]     e.g. -test.run TestX -test.v
#
# Design, in the order it runs:
#   1. fetch   Debian's cloud kernel (the package linux-image-cloud-amd64
#              depends on) and busybox-static, with `apt-get download` and
#              `dpkg-deb -x`: unpacked into the cache, never installed. QEMU
#              is installed with apt-get when missing.
#   2. build   the test binary (go test -c), every step and final, the VM's
#              /init (vm/init) and the initramfs packer (vm/mkinitramfs), all
#              static (CGO_ENABLED=0): the VM has no libc.
#   3. pack    a staging tree (busybox and its applets, /etc, the binaries,
#              the repository's sources for tests that read them) into an
#              initramfs, with the kernel modules the tests need; no root.
#   4. boot    QEMU with the test binary's flags after "--" on the kernel
#              command line; /init runs the tests and powers off. A boot that
#              has not started the tests within MINIDOCKER_VM_BOOT_TIMEOUT
#              seconds is killed and retried once; a run that outlasts
#              MINIDOCKER_VM_TIMEOUT is killed (init's own watchdog fires a
#              minute earlier and dumps the process list).
#   5. report  the console streams to stdout; the exit status is the one /init
#              printed as MINIDOCKER-VM-EXIT=<code> (1 when it is missing),
#              after a go-test-style "ok"/"FAIL" line.
#
# Settings (environment):
#   MINIDOCKER_VM_PKG           test package (default ./tests, or ./tests/vm/selftest
#                               while ./tests has no *_test.go)
#   MINIDOCKER_VM_CACHE         download cache (default /var/cache/minidocker-vm)
#   MINIDOCKER_VM_TIMEOUT       hard limit of one boot in seconds (default 2400)
#   MINIDOCKER_VM_BOOT_TIMEOUT  seconds until the tests must have started (60)
#   MINIDOCKER_VM_MEM, _SMP     memory in MiB (1024) and CPUs (2)
#   MINIDOCKER_VM_MODULES       comma-separated kernel modules to load
#   MINIDOCKER_VM_ENV           space-separated KEY=VALUE for the test binary
#   MINIDOCKER_VM_APPEND        extra kernel parameters (e.g. loglevel=3)
#   MINIDOCKER_VM_KERNEL_PKG    kernel package to use instead of the resolved one
#   MINIDOCKER_VM_KEEP=1        keep the work directory (console logs, initrd)
#   MINIDOCKER_VM_HOST_PROGRAMS host programs copied in with their libraries
#                               (default docker-registry newuidmap newgidmap slirp4netns)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"

cache=${MINIDOCKER_VM_CACHE:-/var/cache/minidocker-vm}
timeout=${MINIDOCKER_VM_TIMEOUT:-2400}
boot_timeout=${MINIDOCKER_VM_BOOT_TIMEOUT:-60}
mem=${MINIDOCKER_VM_MEM:-1024}
smp=${MINIDOCKER_VM_SMP:-2}
modules=${MINIDOCKER_VM_MODULES:-overlay,veth,bridge,brd,loop,dummy,tun,nf_tables,nf_conntrack,nf_nat,nft_chain_nat,nft_masq,nft_nat,nft_ct,nft_compat,nft_fib_inet,nft_reject_inet,nf_defrag_ipv4,nf_defrag_ipv6,x_tables,xt_MASQUERADE,xt_nat,xt_conntrack,xt_addrtype,xt_tcpudp,xt_comment,ip_tables,iptable_nat,iptable_filter,ip6_tables,ip6table_nat,ip6table_filter,ipt_REJECT}
started_marker=MINIDOCKER-VM-TESTS-STARTED
exit_marker=MINIDOCKER-VM-EXIT=

say() { echo "vm: $*" >&2; }
die() { say "error: $*"; exit 1; }

# ensure_qemu installs qemu-system-x86 when qemu-system-x86_64 is missing.
ensure_qemu() {
	command -v qemu-system-x86_64 >/dev/null && return
	[ "$(id -u)" = 0 ] || die "qemu-system-x86_64 is missing: run 'sudo apt-get install qemu-system-x86'"
	say "installing qemu-system-x86"
	export DEBIAN_FRONTEND=noninteractive
	local install=(apt-get install -y -q --no-install-recommends qemu-system-x86)
	"${install[@]}" >"$work/apt.log" 2>&1 ||
		{ apt-get update -q >>"$work/apt.log" 2>&1 && "${install[@]}" >>"$work/apt.log" 2>&1; } ||
		{ cat "$work/apt.log" >&2; die "could not install qemu-system-x86"; }
}

# apt_retry runs an apt command, and once more after apt-get update if it fails.
apt_retry() {
	"$@" 2>/dev/null && return
	[ "$(id -u)" = 0 ] || return 1
	apt-get update -q >&2 && "$@"
}

# kernel_package prints the name of the package linux-image-cloud-amd64 depends on.
kernel_package() {
	apt-cache depends linux-image-cloud-amd64 | awk '$1 == "Depends:" && $2 ~ /^linux-image-/ { print $2; exit }' | grep .
}

# fetch_deb unpacks package $1 into $cache/$1 unless it is already there.
# It is called as a condition, where set -e does not apply: hence the &&.
fetch_deb() {
	local pkg=$1 dest="$cache/$1" tmp rc=0
	[ -e "$dest/.complete" ] && return
	say "downloading $pkg into $cache"
	tmp=$(mktemp -d "$cache/.fetch.XXXXXX") || return
	! id _apt >/dev/null 2>&1 || chown _apt "$tmp" # apt downloads as _apt
	(cd "$tmp" && apt_retry apt-get download -q "$pkg" >&2) &&
		dpkg-deb -x "$tmp"/*.deb "$tmp/root" &&
		rm -rf "$dest" && mv "$tmp/root" "$dest" && touch "$dest/.complete" || rc=1
	rm -rf "$tmp"
	return $rc
}

# fetch sets kdir (the unpacked kernel) and busybox, downloading them once.
fetch() {
	mkdir -p "$cache" || die "cannot create $cache: set MINIDOCKER_VM_CACHE to a writable directory"
	exec 9>"$cache/.lock"
	flock 9
	local kpkg=${MINIDOCKER_VM_KERNEL_PKG:-}
	[ -n "$kpkg" ] || kpkg=$(apt_retry kernel_package) || kpkg=
	if [ -n "$kpkg" ] && fetch_deb "$kpkg"; then
		kdir=$cache/$kpkg
		# A security update brings a new kernel package: drop the older ones.
		find "$cache" -mindepth 1 -maxdepth 1 -name 'linux-image-*' ! -name "$kpkg" -exec rm -rf {} +
	else
		# Offline, or apt has no lists: fall back to a kernel fetched before.
		kdir=$(ls -d "$cache"/linux-image-*/.complete 2>/dev/null | sort -V | tail -n1) || true
		kdir=${kdir%/.complete}
		[ -n "$kdir" ] || die "cannot resolve or download the kernel (apt-cache depends linux-image-cloud-amd64)"
		say "using cached kernel $kdir"
	fi
	fetch_deb busybox-static || die "cannot download busybox-static"
	busybox=$cache/busybox-static/bin/busybox
	exec 9>&-
	vmlinuz=$(ls "$kdir"/boot/vmlinuz-* | head -n1)
	kmods=$(ls -d "$kdir"/lib/modules/* | head -n1)
}

# pick_package sets pkg to the test package to build.
pick_package() {
	pkg=${MINIDOCKER_VM_PKG:-./tests}
	if [ -z "${MINIDOCKER_VM_PKG:-}" ] && ! ls tests/*_test.go >/dev/null 2>&1; then
		say "./tests has no test files yet: running ./tests/vm/selftest"
		pkg=./tests/vm/selftest
	fi
}

# build compiles every program into the staging tree $root.
build() {
	export CGO_ENABLED=0
	mkdir -p "$root/minidocker/bin"
	go build -o "$root/init" ./tests/vm/init
	go build -o "$work/mkinitramfs" ./tests/vm/mkinitramfs
	go test -c -o "$root/minidocker/tests.test" "$pkg"
	[ -x "$root/minidocker/tests.test" ] || die "$pkg has no test files"
	local d mains=()
	for d in step[0-9][0-9]-*/ final/ tests/helper/; do
		d=${d%/}
		[ -d "$d" ] && [ "$(go list -f '{{.Name}}' "./$d" 2>/dev/null)" = main ] && mains+=("./$d")
	done
	if [ ${#mains[@]} -gt 0 ]; then
		go build -o "$root/minidocker/bin/" "${mains[@]}"
	fi
	say "built $pkg and ${#mains[@]} programs: ${mains[*]:-none}"
	build_runtime_tools
}

# build_runtime_tools packs the runtime-tools validation programs that can
# pass on cgroup v2 (tests/testdata/runtime-tools/expected-pass-v2.txt),
# runtimetest and the suite's rootfs into /minidocker/runtime-tools.tar.zst,
# for TestOCIRuntimeToolsSuite: the VM has no Go and no network to build
# them. Each is a static program of about 4.7 MB, mostly the same bytes, so
# zstd with a long window packs them all into a few MB, which the test
# unpacks. Without the module proxy or zstd the suite skips in the VM.
build_runtime_tools() {
	[ "$pkg" = ./tests ] || return 0
	local dir=tests/testdata/runtime-tools out=$work/runtime-tools module g pkgs=()
	command -v zstd >/dev/null || { say "no zstd: the runtime-tools suite will skip in the VM"; return 0; }
	for g in $(grep -v '^#' "$dir/expected-pass-v2.txt"); do
		pkgs+=("github.com/opencontainers/runtime-tools/validation/$g")
	done
	mkdir -p "$out"
	if ! (cd "$dir" && GOFLAGS=-mod=mod GOWORK=off go build -ldflags='-s -w' -o "$out/" "${pkgs[@]}" github.com/opencontainers/runtime-tools/cmd/runtimetest); then
		say "cannot build the runtime-tools suite (it needs the Go module proxy): it will skip in the VM"
		return 0
	fi
	module=$(cd "$dir" && GOFLAGS=-mod=mod GOWORK=off go list -m -f '{{.Dir}}' github.com/opencontainers/runtime-tools)
	# The programs unpack it with "tar -xf rootfs-amd64.tar.gz"; busybox's
	# tar does not detect gzip, so the VM gets a plain tar by that name.
	gzip -dc "$module/rootfs-amd64.tar.gz" >"$out/rootfs-amd64.tar.gz"
	tar -C "$out" -cf - . | zstd -q -3 --long=24 -o "$root/minidocker/runtime-tools.tar.zst"
	say "packed ${#pkgs[@]} runtime-tools groups into $(du -h "$root/minidocker/runtime-tools.tar.zst" | cut -f1)"
}

# stage fills $root with busybox, /etc and the sources, then packs it.
stage() {
	mkdir -p "$root"/{bin,etc,root,proc,sys,dev,run,mnt,var/lib,usr} "$root/minidocker/src"
	mkdir -m 1777 -p "$root/tmp" "$root/var/tmp"
	ln -s bin "$root/sbin"
	ln -s ../bin "$root/usr/bin"
	ln -s ../bin "$root/usr/sbin"
	cp "$busybox" "$root/bin/busybox"
	# The daemon's tests drive it with the docker CLI: it comes along when
	# the host's is one static binary (docker's own builds are; the VM has no libc).
	local docker
	if docker=$(command -v docker) && ! ldd "$docker" >/dev/null 2>&1; then
		cp "$docker" "$root/bin/docker"
	fi
	printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' 'nobody:x:65534:65534:nobody:/nonexistent:/bin/false' >"$root/etc/passwd"
	printf '%s\n' 'root:x:0:' 'tty:x:5:' 'nogroup:x:65534:' >"$root/etc/group"
	printf '%s\n' '127.0.0.1 localhost' '::1 localhost' '127.0.1.1 minidocker-vm' >"$root/etc/hosts"
	echo 'nameserver 127.0.0.53' >"$root/etc/resolv.conf" # as on a systemd-resolved host
	echo minidocker-vm >"$root/etc/hostname"
	# The sources, for tests that read them (step diffs); tracked and new files.
	if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		git ls-files -z -co --exclude-standard | tar --null -T - --ignore-failed-read -cf - 2>/dev/null
	else
		tar --exclude=.git -cf - .
	fi | tar -xf - -C "$root/minidocker/src"
	stage_host_programs
	"$work/mkinitramfs" -root "$root" -o "$work/initrd.img" -busybox bin/busybox -kmods "$kmods" -modules "$modules"
}

# stage_host_programs copies the host programs the tests need and the VM
# lacks (MINIDOCKER_VM_HOST_PROGRAMS, default docker-registry for the
# registry tests, newuidmap, newgidmap and slirp4netns for the rootless
# ones, podman and conmon for TestOCIPodman) into /bin, with the shared
# libraries ldd names, at the same paths: a dynamically linked program
# finds its loader and libc as on the host. Modes are kept (cp -p):
# newuidmap and newgidmap are setuid root, and the initramfs makes every
# file root's. podman also gets its configuration (stage_podman_config).
# A program the host lacks is left out (its tests then skip).
stage_host_programs() {
	local name path lib
	for name in ${MINIDOCKER_VM_HOST_PROGRAMS-docker-registry newuidmap newgidmap slirp4netns podman conmon}; do
		path=$(command -v "$name") || { say "no $name on this host: its tests will skip in the VM"; continue; }
		cp -p "$path" "$root/bin/$name"
		for lib in $(ldd "$path" 2>/dev/null | grep -o '/[^ ]*'); do
			mkdir -p "$root$(dirname "$lib")"
			cp -L "$lib" "$root$lib"
		done
		if [ "$name" = podman ]; then
			stage_podman_config
		fi
	done
}

# stage_podman_config copies podman's configuration (the signature policy
# that import reads, the seccomp profile) and makes minidocker the VM's
# default OCI runtime: podman checks for one even to pull, and the VM has
# no crun or runc. The tests that run containers name theirs.
stage_podman_config() {
	local dir
	for dir in /etc/containers /usr/share/containers; do
		[ ! -d "$dir" ] || { mkdir -p "$root$(dirname "$dir")" && cp -r "$dir" "$root$dir"; }
	done
	mkdir -p "$root/etc/containers" "$root/usr/local/bin"
	ln -sf /minidocker/bin/final "$root/usr/local/bin/minidocker-runc"
	printf '%s\n' '# run-tests.sh: minidocker is the VM'"'"'s OCI runtime.' '[engine]' 'runtime = "minidocker"' \
		'[engine.runtimes]' 'minidocker = ["/usr/local/bin/minidocker-runc"]' >"$root/etc/containers/containers.conf"
}

# kernel_args prints the test binary's flags quoted for the kernel command line.
kernel_args() {
	local a out=()
	for a in "$@"; do
		case $a in
		*\"*) die "a double quote cannot pass through the kernel command line: $a" ;;
		*[[:space:]]*) out+=("\"$a\"") ;;
		*) out+=("$a") ;;
		esac
	done
	echo "${out[*]}"
}

# boot runs the VM once, streaming its console; it sets started=1 once the
# tests began, and vm_exit to the code /init printed (empty if none).
boot() {
	local log="$work/console.$1.log" start=$SECONDS
	started=0 vm_exit=
	: >"$log"
	qemu-system-x86_64 -accel tcg -cpu max -M pc -smp "$smp" -m "$mem" \
		-nographic -no-reboot -nic none \
		-kernel "$vmlinuz" -initrd "$work/initrd.img" -append "$append" \
		</dev/null >"$log" 2>&1 &
	qpid=$!
	# Strip the carriage returns and SeaBIOS's terminal resets (ESC c, ESC [2J);
	# stop at the exit line, after which only the kernel's "Power down" comes.
	tail -n +1 -F --pid="$qpid" "$log" 2>/dev/null |
		sed -u -e 's/\r$//' -e 's/\x1bc//g' -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' -e "/$exit_marker[0-9]/q" &
	local tpid=$!
	while kill -0 "$qpid" 2>/dev/null; do
		if [ "$started" = 0 ] && grep -aq "$started_marker" "$log"; then
			started=1
			say "tests started $((SECONDS - start))s after QEMU did"
		elif [ "$started" = 0 ] && ((SECONDS - start >= boot_timeout)); then
			say "no $started_marker within ${boot_timeout}s: killing QEMU"
			kill "$qpid"
		elif ((SECONDS - start >= timeout)); then
			say "hard timeout: the VM ran ${timeout}s (MINIDOCKER_VM_TIMEOUT): killing QEMU"
			kill "$qpid"
			vm_exit=124
		fi
		sleep 0.5
	done
	wait "$qpid" || say "QEMU exited with status $?"
	say "the VM ran $((SECONDS - start))s"
	qpid=
	wait "$tpid" || true
	[ "$started" = 1 ] || ! grep -aq "$started_marker" "$log" || started=1
	[ -n "$vm_exit" ] || vm_exit=$(grep -ao "$exit_marker[0-9]*" "$log" | tail -n1 | cut -d= -f2) || vm_exit=
}

# cleanup stops QEMU if it still runs and removes the work directory.
cleanup() {
	[ -z "${qpid:-}" ] || kill "$qpid" 2>/dev/null || true
	if [ -n "${MINIDOCKER_VM_KEEP:-}" ]; then say "work directory kept: $work"; else rm -rf "$work"; fi
}

# main runs the five phases; everything lives in functions so that bash has
# read the whole file before it runs any of it (editing the script while it
# runs cannot then break the run).
main() {
	local t0 phase deadline workdir kv secs import
	t0=$(date +%s.%N)
	work=$(mktemp -d "${TMPDIR:-/tmp}/minidocker-vm.XXXXXX")
	root=$work/root
	qpid=
	trap cleanup EXIT
	trap 'exit 130' INT TERM

	pick_package
	ensure_qemu
	fetch
	phase=$SECONDS
	build
	say "build took $((SECONDS - phase))s"
	phase=$SECONDS
	stage
	say "packing took $((SECONDS - phase))s"

	deadline=$((timeout >= 240 ? timeout - 60 : timeout * 3 / 4)) # init's watchdog fires first
	workdir=/minidocker/src/$(go list -f '{{.Dir}}' "$pkg" | sed "s|^$repo/*||")
	append="console=ttyS0 panic=-1 quiet minidocker.deadline=$deadline minidocker.workdir=$workdir"
	for kv in ${MINIDOCKER_VM_ENV:-}; do append+=" minidocker.env=$kv"; done
	append+=" ${MINIDOCKER_VM_APPEND:-} -- $(kernel_args "$@")"
	[ ${#append} -lt 2000 ] || die "kernel command line too long (${#append} bytes; the limit is 2048)"

	say "booting $(basename "$vmlinuz") with $(du -h "$work/initrd.img" | cut -f1) initramfs (TCG, ${smp} CPUs, ${mem} MiB)"
	boot 1
	if [ "$started" = 0 ] && [ "$vm_exit" != 124 ]; then
		say "the VM did not start the tests: retrying once"
		boot 2
	fi

	secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.3f", b - a }')
	import=$(go list "$pkg")
	if [ -z "$vm_exit" ]; then
		say "the console has no ${exit_marker}<code> line: the VM died before the tests finished"
		vm_exit=1
	fi
	if [ "$vm_exit" = 0 ]; then
		printf 'ok  \t%s\t%ss\n' "$import" "$secs"
	else
		printf 'FAIL\t%s\t%ss\n' "$import" "$secs"
	fi
	return "$vm_exit"
}

main "$@"; exit $?
