#!/usr/bin/env bash
# lab/check-provision.sh: check the lab VM's files on this machine, as root,
# without a VM (no provider can run here):
#
#   Vagrantfile   vagrant validate, offline: the generic checks, the libvirt
#                 provider's (vagrant-libvirt, no daemon needed) and
#                 VirtualBox's (a stand-in VBoxManage that only tells its
#                 version). Vagrant comes from Debian's packages; where apt
#                 has none, ruby -c checks the syntax instead.
#   provision.sh  shellcheck when installed; two real runs: the second must
#                 change nothing; then sudo, sudo -u nobody and sudo's
#                 secure_path alone must find a Go >= 1.22.
#   failures      each in a private mount namespace, so nothing outside
#                 changes: TMPDIR on an overlay is refused; no Go at all is
#                 a clear error; a busybox on sudo's PATH is a warning;
#                 MINIDOCKER_LAB_CGROUP=v1 and v2 write and remove the GRUB
#                 drop-in once each (with a stand-in update-grub).
#
# It installs vagrant, vagrant-libvirt and what provision.sh installs, and
# links /usr/local/bin/go; it touches no network interface and no cgroup.
# The last line is "N passed, N failed"; the exit status is 1 on a failure.
#
# shellcheck disable=SC2016 # in_namespace's scripts expand $repo and $work themselves
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

if [ "$(id -u)" != 0 ]; then
	echo "lab/check-provision.sh: must run as root" >&2
	exit 1
fi

passed=0
failed=0
work=$(mktemp -d /tmp/minidocker-lab-check.XXXXXX)
trap 'rm -rf "$work"' EXIT

say() { printf 'check: %s\n' "$*"; }
pass() { passed=$((passed + 1)); say "ok: $1"; }
fail() { failed=$((failed + 1)); say "FAIL: $1"; [ -z "${2:-}" ] || sed 's/^/    /' "$2" | tail -n 25; }

# expect NAME LOG PATTERN...: every extended regular expression is in LOG.
expect() {
	local name=$1 log=$2 p
	shift 2
	for p in "$@"; do
		if ! grep -qE -- "$p" "$log"; then
			fail "$name: no line matches /$p/" "$log"
			return
		fi
	done
	pass "$name"
}

# go_minor_of prints the minor version in "go version go1.22.2 linux/amd64".
go_minor_of() { sed -n 's/.*go1\.\([0-9][0-9]*\).*/\1/p' | head -n 1; }

#
# The Vagrantfile.
#
apt_install() {
	DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "$@" \
		>"$work/apt.log" 2>&1 || { cat "$work/apt.log" >&2; return 1; }
}

installed() { [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]; }

has_candidate() {
	local c
	c=$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2}')
	[ -n "$c" ] && [ "$c" != "(none)" ]
}

check_vagrantfile() {
	local need=() p
	for p in vagrant vagrant-libvirt; do
		installed "$p" || need+=("$p")
	done
	if [ ${#need[@]} -gt 0 ]; then
		has_candidate vagrant || apt-get update -q >"$work/apt.log" 2>&1 || true
		if has_candidate vagrant; then
			say "apt-get install --no-install-recommends ${need[*]}"
			# No recommends: vagrant's pull in libvirt, a kernel and busybox.
			apt_install "${need[@]}"
		fi
	fi
	if ! command -v vagrant >/dev/null; then
		say "this machine's apt offers no vagrant package: checking the Vagrantfile's Ruby syntax only"
		command -v ruby >/dev/null || apt_install ruby
		if ruby -c Vagrantfile >"$work/ruby.log" 2>&1; then
			pass "ruby -c Vagrantfile (syntax only)"
		else
			fail "ruby -c Vagrantfile" "$work/ruby.log"
		fi
		return
	fi
	say "$(vagrant --version 2>/dev/null | head -n 1)"
	# A home and a .vagrant of its own: nothing lands in the repository or
	# root's home, and no box is fetched (validate needs none).
	local env=(VAGRANT_HOME="$work/vagrant.d" VAGRANT_DOTFILE_PATH="$work/dot" VAGRANT_CHECKPOINT_DISABLE=1)
	if env "${env[@]}" vagrant validate --ignore-provider >"$work/validate.log" 2>&1; then
		expect "vagrant validate --ignore-provider (machines default and v1)" "$work/validate.log" \
			'default: Ignoring provider' 'v1: Ignoring provider' 'validated successfully'
	else
		fail "vagrant validate --ignore-provider" "$work/validate.log"
	fi
	if installed vagrant-libvirt; then
		if env "${env[@]}" VAGRANT_DEFAULT_PROVIDER=libvirt vagrant validate >"$work/validate-libvirt.log" 2>&1; then
			pass "vagrant validate with the libvirt provider"
		else
			fail "vagrant validate with the libvirt provider" "$work/validate-libvirt.log"
		fi
	else
		say "no vagrant-libvirt: its provider block is not validated"
	fi
	mkdir -p "$work/vbox"
	printf '#!/bin/sh\necho 7.0.14r161095\n' >"$work/vbox/VBoxManage"
	chmod +x "$work/vbox/VBoxManage"
	if env "${env[@]}" PATH="$work/vbox:$PATH" VAGRANT_DEFAULT_PROVIDER=virtualbox vagrant validate >"$work/validate-vbox.log" 2>&1; then
		pass "vagrant validate with the virtualbox provider (stand-in VBoxManage)"
	else
		fail "vagrant validate with the virtualbox provider" "$work/validate-vbox.log"
	fi
}

#
# provision.sh, for real.
#
check_provision() {
	if command -v shellcheck >/dev/null; then
		if shellcheck lab/provision.sh lab/check-provision.sh >"$work/shellcheck.log" 2>&1; then
			pass "shellcheck lab/*.sh"
		else
			fail "shellcheck lab/*.sh" "$work/shellcheck.log"
		fi
	fi
	local run
	for run in 1 2; do
		say "bash lab/provision.sh (run $run)"
		if ! bash lab/provision.sh >"$work/provision-$run.log" 2>&1; then
			fail "provision.sh run $run exited non-zero" "$work/provision-$run.log"
			return
		fi
		grep -E '^provision: (changed|warning|summary)' "$work/provision-$run.log" | sed 's/^/    /'
	done
	expect "provision.sh run 2 changes nothing and says so" "$work/provision-2.log" \
		'^provision: summary: nothing to change, the machine was already provisioned'
	if grep -q '^provision: changed:' "$work/provision-2.log"; then
		fail "provision.sh run 2 printed a change" "$work/provision-2.log"
	fi
}

# check_sudo_finds_go runs go the ways a learner and the tests do.
check_sudo_finds_go() {
	local secure minor
	secure=$(LC_ALL=C sudo -V | sed -n "s/^Value to override user's \$PATH with: //p")
	say "sudo's secure_path: ${secure:-none}"
	local ways=(
		"sudo go version|sudo go version"
		"sudo -u nobody go version|sudo -u nobody go version"
		"go on secure_path alone (env -i PATH=$secure)|env -i PATH=$secure go version"
		"gofmt on secure_path alone|env -i PATH=$secure sh -c 'echo package x | gofmt >/dev/null && go version'"
		"root's login shell|env -i HOME=/root bash -lc 'go version'"
	)
	local w name cmd
	for w in "${ways[@]}"; do
		name=${w%%|*} cmd=${w#*|}
		if ! (cd / && eval "$cmd") >"$work/way.log" 2>&1; then
			fail "$name: $cmd" "$work/way.log"
			continue
		fi
		minor=$(go_minor_of <"$work/way.log")
		if [ -n "$minor" ] && [ "$minor" -ge 22 ]; then
			pass "$name: $(head -n 1 "$work/way.log")"
		else
			fail "$name: not a Go >= 1.22" "$work/way.log"
		fi
	done
	if [ "$(env -i PATH="$secure" go env GOROOT)" = "$(dirname "$(dirname "$(readlink -f "$(env -i PATH="$secure" sh -c 'command -v go')")")")" ]; then
		pass "go through the link finds its GOROOT: $(env -i PATH="$secure" go env GOROOT)"
	else
		fail "go through the link: GOROOT is $(env -i PATH="$secure" go env GOROOT)"
	fi
}

#
# Failure paths, each in a private mount namespace.
#
# in_namespace LOG SCRIPT: runs SCRIPT (bash) in a new mount namespace, with
# $repo and $work set; its output goes to LOG; returns its exit status.
in_namespace() {
	local log=$1 script=$2
	repo=$repo work=$work unshare --mount --propagation private bash -euo pipefail -c "$script" >"$log" 2>&1
}

check_tmpdir_refused() {
	local status=0
	in_namespace "$work/tmpdir.log" '
		mkdir -p "$work/ovl"
		mount -t tmpfs tmpfs "$work/ovl"
		mkdir "$work/ovl/lower" "$work/ovl/upper" "$work/ovl/work" "$work/ovl/merged"
		mount -t overlay overlay -o "lowerdir=$work/ovl/lower,upperdir=$work/ovl/upper,workdir=$work/ovl/work" "$work/ovl/merged"
		cd "$repo"
		TMPDIR=$work/ovl/merged MINIDOCKER_LAB_WARM=0 bash lab/provision.sh
	' || status=$?
	if [ "$status" = 0 ]; then
		fail "TMPDIR on an overlay: provision.sh accepted it" "$work/tmpdir.log"
	else
		expect "TMPDIR on an overlay is refused, naming the fix" "$work/tmpdir.log" \
			'error: TMPDIR in this script.s environment is .*, which is on overlay' 'the writable layer cannot live in' 'Remove the line that sets TMPDIR'
	fi
}

check_no_go() {
	local status=0
	# Hide every Go: /usr/local/go under a tmpfs (the /usr/local/bin links
	# then dangle; a copy of /usr/local/bin takes any new link), and no go
	# on PATH. apt offers Debian 12's Go 1.19; where apt offers a Go >= 1.22
	# this really installs it (dpkg has no namespace), as the VM would.
	in_namespace "$work/nogo.log" '
		mkdir -p "$work/localbin"
		cp -a /usr/local/bin/. "$work/localbin/"
		mount --bind "$work/localbin" /usr/local/bin
		if [ -d /usr/local/go ]; then mount -t tmpfs tmpfs /usr/local/go; fi
		for d in /usr/lib/go-1.*; do
			if [ -d "$d" ]; then mount -t tmpfs tmpfs "$d"; fi
		done
		for f in /usr/bin/go /usr/local/bin/go; do
			if [ -e "$f" ] && [ ! -L "$f" ]; then mount --bind /dev/null "$f"; fi
		done
		cd "$repo"
		env PATH=/usr/sbin:/usr/bin:/sbin:/bin MINIDOCKER_LAB_WARM=0 bash lab/provision.sh
	' || status=$?
	if [ "$status" = 0 ]; then
		if grep -q 'changed: installed golang' "$work/nogo.log"; then
			pass "no Go: provision.sh installed the distribution's Go (apt offers Go >= 1.22 here)"
		else
			fail "no Go: provision.sh succeeded without a Go" "$work/nogo.log"
		fi
	else
		expect "no Go >= 1.22 anywhere: a clear error naming the ways out" "$work/nogo.log" \
			'error: no Go >= 1.22 here, and apt offers none' 'bookworm-backports' 'tarball into /usr/local/go'
	fi
}

check_busybox_warned() {
	in_namespace "$work/busybox.log" '
		mkdir -p "$work/sbin"
		printf "#!/bin/sh\nexit 0\n" >"$work/sbin/busybox"
		chmod +x "$work/sbin/busybox"
		mount --bind "$work/sbin" /usr/local/sbin
		cd "$repo"
		MINIDOCKER_LAB_WARM=0 bash lab/provision.sh
	' || true
	expect "a busybox on sudo's PATH is a warning about step03" "$work/busybox.log" \
		'warning: /usr/local/sbin/busybox is on PATH: step03 will copy busybox' 'summary: nothing to change.*1 warning'
}

check_cgroup_dropin() {
	in_namespace "$work/cgroup.log" '
		# A copy of /etc/default to write in, and an update-grub that only counts.
		mkdir -p "$work/default" "$work/bin"
		cp -a /etc/default/. "$work/default/"
		rm -rf "$work/default/grub.d"
		mount --bind "$work/default" /etc/default
		printf "#!/bin/sh\necho called >>%s/update-grub.calls\n" "$work" >"$work/bin/update-grub"
		chmod +x "$work/bin/update-grub"
		cd "$repo"
		for mode in v1 v1 v2 v2; do
			echo "=== MINIDOCKER_LAB_CGROUP=$mode"
			PATH=$work/bin:$PATH MINIDOCKER_LAB_CGROUP=$mode MINIDOCKER_LAB_WARM=0 bash lab/provision.sh
			echo "update-grub calls: $(cat "$work/update-grub.calls" 2>/dev/null | wc -l)"
			if [ -f /etc/default/grub.d/90-minidocker-cgroup.cfg ]; then
				echo "cmdline: $(GRUB_CMDLINE_LINUX_DEFAULT=quiet; . /etc/default/grub.d/90-minidocker-cgroup.cfg; echo "$GRUB_CMDLINE_LINUX_DEFAULT")"
			else
				echo "no drop-in"
			fi
		done
	' || true
	# Four runs: v1 writes and calls update-grub, v1 again does nothing, v2
	# removes and calls it, v2 again does nothing.
	local calls
	calls=$(grep '^update-grub calls:' "$work/cgroup.log" | awk '{print $3}' | tr '\n' ' ')
	expect "MINIDOCKER_LAB_CGROUP=v1 then v2, twice each (GRUB drop-in)" "$work/cgroup.log" \
		'changed: wrote /etc/default/grub.d/90-minidocker-cgroup.cfg: cgroup v1 from the next boot' \
		'^cmdline: quiet systemd.unified_cgroup_hierarchy=0 SYSTEMD_CGROUP_ENABLE_LEGACY_FORCE=1$' \
		'ok: cgroup: /etc/default/grub.d/90-minidocker-cgroup.cfg asks for v1' \
		'changed: removed /etc/default/grub.d/90-minidocker-cgroup.cfg: cgroup v2 from the next boot' \
		'ok: cgroup: .* no v1 override'
	if [ "$calls" = "1 1 2 2 " ] && [ "$(grep -c 'summary: nothing to change' "$work/cgroup.log")" = 2 ]; then
		pass "update-grub ran only when the drop-in changed (calls after each run: $calls)"
	else
		fail "update-grub calls after each run: $calls (want 1 1 2 2), or a repeated run changed something" "$work/cgroup.log"
	fi
	[ ! -e /etc/default/grub.d/90-minidocker-cgroup.cfg ] || fail "the real /etc/default got the drop-in"
}

started=$SECONDS
check_vagrantfile
check_provision
check_sudo_finds_go
check_tmpdir_refused
check_no_go
check_busybox_warned
check_cgroup_dropin
say "took $((SECONDS - started))s"
echo "lab: $passed passed, $failed failed"
[ "$failed" = 0 ]
