#!/usr/bin/env bash
# lab/walk/run.sh: boot a systemd Debian as the lab VM would be and walk the
# learner's path in it (make lab-walk; docs/labs/lab-walk.md). As root:
#
#   bash lab/walk/run.sh
#
#   1. image  lab/walk/image.sh builds a Debian 12 disk image with
#             debootstrap, from this machine's apt mirror, into the cache,
#             once per key: a hash of image.sh, the mirror, the Go version
#             and the kernel package debootstrap installs (bookworm's, not
#             bookworm-security's). Later runs reuse it (a copy-on-write
#             overlay per run; the image itself is never written).
#   2. share  the repository's tracked and new files, owned by uid 1000 as
#             Vagrant's synced folder belongs to the vagrant user, on a
#             second disk that the VM mounts at /vagrant.
#   3. boot   QEMU (TCG: no KVM here), 2 CPUs and 2 GiB like the
#             Vagrantfile, user-mode network (the VM reaches the apt mirror
#             the way this machine does), the image's own kernel and initrd.
#   4. walk   systemd starts lab-walk.service, which runs lab/walk/guest.sh
#             from /vagrant: provision twice, the learner's runs, the checks.
#             Its "walk:" lines are printed here as they come; on a failure
#             the tail of the console follows.
#   5. docs   what the chapters' "Run it" commands printed in the VM, read
#             from the shared disk, is checked against the chapters' run-v2
#             blocks (and the run blocks that have none) by
#             tests/docs_labvm_test.go; with MINIDOCKER_WALK_UPDATE_DOCS=1
#             (make lab-walk UPDATE_DOCS=1) the run-v2 blocks are rewritten.
#             The exit status is 0 when the walk and the docs check pass.
#
# Settings (environment):
#   MINIDOCKER_VM_CACHE         cache directory (default /var/cache/minidocker-vm,
#                               shared with tests/vm; the image lives in lab-walk/)
#   MINIDOCKER_WALK_MIRROR      Debian mirror (default: this machine's, from apt)
#   MINIDOCKER_WALK_TIMEOUT     seconds the VM may run (default 1500)
#   MINIDOCKER_WALK_KEEP=1      keep the work directory (console log, disks,
#                               .lab-walk-runs: the outputs of the docs' commands)
#   MINIDOCKER_WALK_UPDATE_DOCS=1  rewrite the chapters' run-v2 blocks from
#                               the VM's outputs instead of checking them
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"
export PATH=$PATH:/usr/local/go/bin

cache=${MINIDOCKER_VM_CACHE:-/var/cache/minidocker-vm}/lab-walk
timeout=${MINIDOCKER_WALK_TIMEOUT:-1500}
exit_marker=MINIDOCKER-WALK-EXIT=

say() { echo "lab-walk: $*"; }
die() { say "error: $*" >&2; exit 1; }

# need installs the Debian packages whose commands are missing.
need() {
	local missing=() pair
	for pair in "$@"; do
		command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}")
	done
	[ ${#missing[@]} -eq 0 ] && return
	say "installing ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >"$work/apt.log" 2>&1 ||
		{ apt-get update -q >>"$work/apt.log" 2>&1 &&
			DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >>"$work/apt.log" 2>&1; } ||
		{ tail -n 20 "$work/apt.log" >&2; die "could not install ${missing[*]}"; }
}

# mirror prints the Debian mirror apt uses here: the first URI of a
# bookworm "main" source, in deb822 or one-line form.
mirror() {
	[ -n "${MINIDOCKER_WALK_MIRROR:-}" ] && { echo "$MINIDOCKER_WALK_MIRROR"; return; }
	local m
	m=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '
		/^URIs:/ { uri = $2 } /^Suites:/ { suites = $0 }
		/^$/ { if (suites ~ /bookworm( |$)/ && uri != "") { print uri; exit } uri = ""; suites = "" }
		END { if (suites ~ /bookworm( |$)/ && uri != "") print uri }' | head -n 1)
	[ -n "$m" ] || m=$(grep -hE '^deb +(\[[^]]*\] +)?[a-z]+://[^ ]+ +bookworm +' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
		sed -E 's/^deb +(\[[^]]*\] +)?//' | awk '{print $1; exit}')
	echo "${m:-http://deb.debian.org/debian}"
}

# kernel_package names the kernel package debootstrap installs: the one
# that linux-image-cloud-amd64 of bookworm's main depends on, as this
# machine's apt lists know it. Not apt's candidate: that may come from
# bookworm-security or -updates, which debootstrap does not read.
kernel_package() {
	local ver
	ver=$(apt-cache madison linux-image-cloud-amd64 2>/dev/null | awk -F' *[|] *' '$3 ~ / bookworm\/main / { print $2; exit }')
	[ -n "$ver" ] || return 0
	apt-cache depends "linux-image-cloud-amd64=$ver" 2>/dev/null | awk '$1 == "Depends:" && $2 ~ /^linux-image-/ { print $2; exit }'
}

# image sets img to the cached image directory for the current key,
# building it when missing.
image() {
	local key kpkg gov
	kpkg=$(kernel_package)
	gov=$(go env GOVERSION)
	key=$( {
		cat lab/walk/image.sh
		echo "$mir $gov $kpkg"
	} | sha256sum | cut -c1-16)
	img=$cache/$key
	mkdir -p "$cache"
	exec 9>"$cache/.lock"
	flock 9
	if [ -e "$img/.complete" ]; then
		say "image: cached ($img; Debian 12 from $mir, $gov, kernel $(cat "$img/kernel"))"
	else
		local t=$SECONDS tmp
		say "image: building $img (Debian 12 from $mir, $gov, $kpkg)"
		# Under the lock no other build runs: a .build.* left is from a killed one.
		rm -rf "$cache"/.build.*
		tmp=$(mktemp -d "$cache/.build.XXXXXX")
		bash lab/walk/image.sh "$tmp" "$mir" "$repo" || { rm -rf "$tmp"; die "the image build failed"; }
		# One image at a time: a new key replaces the old images.
		find "$cache" -mindepth 1 -maxdepth 1 ! -name '.*' -exec rm -rf {} +
		mv "$tmp" "$img"
		touch "$img/.complete"
		say "image: built in $((SECONDS - t))s (kernel $(cat "$img/kernel"))"
	fi
	exec 9>&-
}

# share puts the repository on an ext4 disk of its own, owned by uid 1000.
share() {
	mkdir "$work/src"
	(git ls-files -z -co --exclude-standard 2>/dev/null || find . -path ./.git -prune -o -print0) |
		tar --null -T - --ignore-failed-read -cf - 2>/dev/null | tar -xf - -C "$work/src"
	chown -R 1000:1000 "$work/src"
	truncate -s 2G "$work/vagrant.img"
	mke2fs -q -t ext4 -L vagrant -E root_owner=1000:1000 -d "$work/src" "$work/vagrant.img"
	# A synced folder has no lost+found (root's, mode 700: "go build ./..."
	# as the learner cannot read it).
	debugfs -w -R 'rmdir lost+found' "$work/vagrant.img" >/dev/null 2>&1
	qemu-img create -q -f qcow2 -F raw -b "$img/disk.raw" "$work/root.qcow2"
}

# boot runs the VM and streams its "walk:" lines; sets vm_exit.
boot() {
	local log=$work/console.log start=$SECONDS
	: >"$log"
	qemu-system-x86_64 -accel tcg -cpu max -M pc -smp 2 -m 2048 -nographic -no-reboot \
		-kernel "$img/vmlinuz" -initrd "$img/initrd.img" \
		-append "console=ttyS0 root=LABEL=lab-root rw panic=-1 quiet" \
		-drive "file=$work/root.qcow2,if=virtio,format=qcow2" \
		-drive "file=$work/vagrant.img,if=virtio,format=raw" \
		-netdev user,id=net0 -device virtio-net-pci,netdev=net0 \
		</dev/null >"$log" 2>&1 &
	qpid=$!
	tail -n +1 -F --pid="$qpid" "$log" 2>/dev/null | sed -u -n -e 's/\r$//' -e '/^walk: /p' -e "/^$exit_marker/q" &
	local tpid=$!
	while kill -0 "$qpid" 2>/dev/null; do
		if ((SECONDS - start >= timeout)); then
			say "timeout: the VM ran ${timeout}s (MINIDOCKER_WALK_TIMEOUT): killing QEMU"
			kill "$qpid"
		fi
		sleep 1
	done
	wait "$qpid" || say "QEMU exited with status $?"
	qpid=
	wait "$tpid" || true
	say "the VM ran $((SECONDS - start))s"
	vm_exit=$(tr -d '\r' <"$log" | grep -ao "^$exit_marker[0-9]*" | tail -n 1 | cut -d= -f2) || vm_exit=
}

# docs checks the chapters' run-v2 blocks against what the VM printed
# (tests/docs_labvm_test.go), or rewrites them under
# MINIDOCKER_WALK_UPDATE_DOCS=1. The outputs are read from the shared
# disk with debugfs, which needs no mount.
docs() {
	local t=$SECONDS runs=$work/.lab-walk-runs update=
	[ -z "${MINIDOCKER_WALK_UPDATE_DOCS:-}" ] || update=-update
	debugfs -R "rdump /.lab-walk-runs $work" "$work/vagrant.img" >"$work/debugfs.log" 2>&1
	[ -n "$(ls -A "$runs" 2>/dev/null)" ] || { cat "$work/debugfs.log" >&2; say "FAIL docs: no outputs in /vagrant/.lab-walk-runs"; return 1; }
	if ! nice -n 10 go test -count=1 ./tests -run '^TestDocsOutputOnTheLabVM$' -v -lab-vm-runs="$runs" $update >"$work/docs.log" 2>&1; then
		grep -v '^=== RUN' "$work/docs.log" | tail -n 80 | sed 's/^/  | /'
		say "FAIL docs: the chapters' run-v2 blocks (or run blocks without one) do not match what the lab VM printed; make lab-walk UPDATE_DOCS=1 rewrites the run-v2 blocks"
		return 1
	fi
	say "docs: $(sed -n 's/^ *docs_labvm_test.go:[0-9]*: //p' "$work/docs.log" | tail -n 1) ($((SECONDS - t))s)"
}

# cleanup stops QEMU if it still runs and removes the work directory.
cleanup() {
	[ -z "${qpid:-}" ] || kill "$qpid" 2>/dev/null || true
	if [ -n "${MINIDOCKER_WALK_KEEP:-}" ]; then say "work directory kept: $work"; else rm -rf "$work"; fi
}

# main runs the four phases; everything is in functions so that bash has read
# the whole file before it runs any of it.
main() {
	local t0=$SECONDS
	[ "$(id -u)" = 0 ] || die "run me as root (debootstrap, chroot): sudo make lab-walk"
	work=$(mktemp -d "${TMPDIR:-/tmp}/lab-walk.XXXXXX")
	qpid=
	trap cleanup EXIT
	trap 'exit 130' INT TERM
	need debootstrap:debootstrap qemu-system-x86_64:qemu-system-x86 qemu-img:qemu-utils mke2fs:e2fsprogs
	mir=$(mirror)
	image
	share
	boot
	if [ "$vm_exit" != 0 ]; then
		[ -n "$vm_exit" ] || say "the console has no ${exit_marker}<code> line: the VM stopped before the walk ended"
		say "the console's last lines:"
		tr -d '\r' <"$work/console.log" | tail -n 60 | sed 's/^/  | /'
		say "FAIL after $((SECONDS - t0))s"
		return 1
	fi
	docs || { say "FAIL after $((SECONDS - t0))s"; return 1; }
	say "ok after $((SECONDS - t0))s"
}

main "$@"
