#!/usr/bin/env bash
# lab/provision.sh: make a Debian or Ubuntu machine ready for minidocker's
# steps, so that "cd /vagrant && sudo go run ./step01-clone-ns" works on the
# first try, offline. Vagrant runs it as root on the lab VM (see Vagrantfile);
# on any other Linux VM of that family run, as root:
#
#   bash lab/provision.sh
#
# What it does, in order, each part checked before it is changed:
#
#   packages   util-linux procps iproute2 e2fsprogs git make sudo: what the
#              steps and the tests call; binutils (readelf), attr
#              (getfattr), nftables (nft), curl and jq: what the chapters'
#              experiments and the teacher's pages call
#              (tests/docs_commands_test.go checks that every command the
#              docs show is here). Never busybox:
#              step03 must build its rootfs from the host's own binaries,
#              and uses busybox instead whenever one is on PATH.
#   go         a Go >= 1.22 (go.mod says "go 1.22"): one already here (on
#              PATH, /usr/local/go/bin, /usr/lib/go-1.NN), else the
#              distribution's golang-go or golang-1.NN-go if new enough,
#              else a clear failure.
#   sudo PATH  sudo replaces PATH with its secure_path, which has no
#              /usr/local/go/bin; a symlink /usr/local/bin/go (and gofmt)
#              to the real binary puts Go where sudo, "sudo -i" and
#              scripts with a minimal PATH all look.
#   git        the repository marked safe for root when another user owns it
#              (a synced folder belongs to the vagrant user).
#   TMPDIR     the steps put writable layers under $TMPDIR (default /tmp)
#              and step08 its state under /var/lib: none may be on a shared
#              folder (vboxsf, NFS, 9p) or an overlay, which overlayfs
#              cannot use. Checked, never silently changed.
#   cgroup     MINIDOCKER_LAB_CGROUP=v1 adds systemd.unified_cgroup_hierarchy=0
#              to the kernel command line (GRUB) for the next boot; v2 takes
#              it away again; unset leaves the boot alone.
#   warm-up    "go build ./..." in the repository as root and as the learner,
#              so that both module caches hold the dependencies (with a
#              vendor/ directory nothing is downloaded at all). Offline,
#              a failure here is a warning, not an error.
#
# Running it again changes nothing and says so: the last line is
# "provision: summary: ...". Settings, all optional:
#
#   MINIDOCKER_LAB_REPO=DIR          the repository (default: this script's ..)
#   MINIDOCKER_LAB_USER=NAME         the learner's account (default: $SUDO_USER,
#                                    else vagrant; skipped if it does not exist)
#   MINIDOCKER_LAB_QEMU=1            also install QEMU, xz and zstd for "make test-v2"
#   MINIDOCKER_LAB_CGROUP=v1|v2      choose the cgroup version of the next boot
#   MINIDOCKER_LAB_REMOVE_BUSYBOX=1  remove the busybox packages (the lab VM
#                                    does; elsewhere the script only warns)
#   MINIDOCKER_LAB_WARM=0            skip the warm-up build
set -euo pipefail

# The secure_path of Debian's and Ubuntu's /etc/sudoers (Ubuntu adds
# /snap/bin): the directories "sudo go" searches, unless sudo -V says others.
readonly DEFAULT_SUDO_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/snap/bin
readonly GO_MIN_MINOR=22
readonly GRUB_DROPIN=/etc/default/grub.d/90-minidocker-cgroup.cfg
readonly PACKAGES=(util-linux procps iproute2 e2fsprogs git make sudo binutils attr nftables curl jq)
readonly QEMU_PACKAGES=(qemu-system-x86 xz-utils zstd)

started=$SECONDS
changes=()
warnings=()
apt_updated=
go_bin=
SUDO_PATH=$DEFAULT_SUDO_PATH

# say prints one line of what the script does.
say() { printf 'provision: %s\n' "$*"; }
# changed records and prints a change to the machine.
changed() { changes+=("$1"); say "changed: $1"; }
# ok prints a part that was already as it should be.
ok() { say "ok: $1"; }
# warn records something the learner should know but that does not stop the lab.
warn() { warnings+=("$1"); say "warning: $1"; }
# die explains a failure and stops.
die() { printf 'provision: error: %s\n' "$*" >&2; exit 1; }

# apt_get runs apt-get without questions; it waits for the dpkg lock, which
# unattended-upgrades holds for minutes after a fresh VM's first boot.
apt_get() {
	local log
	log=$(mktemp)
	if ! DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 -y -q "$@" >"$log" 2>&1; then
		tail -n 20 "$log" >&2
		rm -f "$log"
		die "apt-get $* failed (output above)"
	fi
	rm -f "$log"
}

# apt_update_once refreshes the package lists, at most once per run and only
# when something is to be installed. Offline, the lists as they are may do.
apt_update_once() {
	[ -n "$apt_updated" ] && return
	apt_updated=1
	say "apt-get update"
	local log
	log=$(mktemp)
	if ! DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 -q update >"$log" 2>&1; then
		warn "apt-get update failed, using the package lists as they are: $(tail -n 1 "$log")"
	fi
	rm -f "$log"
}

# installed reports whether a Debian package is installed.
installed() {
	[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]
}

# go_version prints the version the Go binary $1 reports (go1.22.2). It asks
# from / with GOTOOLCHAIN=local: inside the repository an older Go would
# otherwise try to download the toolchain go.mod asks for.
go_version() { (cd / && GOTOOLCHAIN=local "$1" env GOVERSION 2>/dev/null) || echo unknown; }

# go_minor prints the minor version of the Go binary $1 (22 for go1.22.2), or
# nothing when it does not run.
go_minor() {
	local v
	v=$(go_version "$1")
	v=${v#go1.}
	printf '%s' "${v%%[!0-9]*}"
}

# new_enough reports whether the Go binary $1 is at least 1.GO_MIN_MINOR.
new_enough() {
	local minor
	minor=$(go_minor "$1")
	[ -n "$minor" ] && [ "$minor" -ge "$GO_MIN_MINOR" ]
}

# apt_minor prints the minor Go version of package $1's install candidate
# (22 for golang-go 2:1.22~2), or nothing when apt offers none.
apt_minor() {
	local v
	v=$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2}')
	[ -z "$v" ] || [ "$v" = "(none)" ] && return 0
	v=${v#*:}
	v=${v#1.}
	printf '%s' "${v%%[!0-9]*}"
}

# fs_type prints the statfs(2) magic number of the file system that holds
# $1, in hex, as stat -f shows it.
fs_type() { stat -f -c %t "$1" 2>/dev/null || true; }

# unfit_name names a file system that overlayfs cannot use as an upper dir
# (the same list as step06's upperUnfit, plus FUSE and SMB), or prints nothing.
unfit_name() {
	case "$1" in
	786f4256) echo "vboxsf (the VirtualBox shared folder, Vagrant's /vagrant)" ;;
	1021997) echo "9p (a virtio-9p shared folder)" ;;
	6969) echo "NFS" ;;
	794c7630) echo "overlay (a container's own filesystem)" ;;
	65735546) echo "FUSE (virtiofs, sshfs, ...)" ;;
	ff534d42 | fe534d42) echo "SMB/CIFS" ;;
	esac
}

#
# Where the script runs.
#
check_machine() {
	[ "$(id -u)" = 0 ] || die "run me as root: sudo bash $0"
	if ! command -v apt-get >/dev/null || ! command -v dpkg-query >/dev/null; then
		die "this machine has no apt: install by hand what lab/README.md lists (Go >= 1.$GO_MIN_MINOR, ${PACKAGES[*]})"
	fi
	local name=unknown
	# shellcheck disable=SC1091 # the machine's own file
	[ -r /etc/os-release ] && name=$(. /etc/os-release && echo "${PRETTY_NAME:-$ID}")
	say "machine: $name, kernel $(uname -r), $(nproc) CPUs, $(awk '/MemTotal/ {printf "%d MiB", $2/1024}' /proc/meminfo)"
	repo=${MINIDOCKER_LAB_REPO:-$(cd "$(dirname "$0")/.." && pwd)}
	if [ -f "$repo/go.mod" ]; then
		say "repository: $repo"
	else
		warn "no go.mod in $repo: set MINIDOCKER_LAB_REPO to the repository; skipping the git and warm-up parts"
		repo=
	fi
	learner=${MINIDOCKER_LAB_USER:-${SUDO_USER:-vagrant}}
	if [ "$learner" = root ] || ! id -u "$learner" >/dev/null 2>&1; then
		say "learner account: none (no user \"$learner\"); only root is set up"
		learner=
	else
		learner_home=$(getent passwd "$learner" | cut -d: -f6)
		say "learner account: $learner ($learner_home)"
	fi
}

#
# Packages.
#
ensure_packages() {
	local want=("${PACKAGES[@]}") missing=() p
	[ "${MINIDOCKER_LAB_QEMU:-0}" = 1 ] && want+=("${QEMU_PACKAGES[@]}")
	for p in "${want[@]}"; do
		installed "$p" || missing+=("$p")
	done
	if [ ${#missing[@]} -eq 0 ]; then
		ok "packages installed: ${want[*]}"
		return
	fi
	apt_update_once
	say "apt-get install --no-install-recommends ${missing[*]}"
	# No recommends: they bring in more than the lab needs (busybox among them).
	apt_get install --no-install-recommends "${missing[@]}"
	changed "installed ${missing[*]}"
}

# ensure_no_busybox keeps step03 on its host-binaries path: with busybox on
# PATH the step copies busybox instead, and the learner's output no longer
# matches the chapter's.
ensure_no_busybox() {
	local bb pkgs=() p
	if ! bb=$(PATH=$SUDO_PATH command -v busybox); then
		ok "no busybox on PATH: step03 builds its rootfs from host binaries"
		return
	fi
	for p in busybox-static busybox; do
		installed "$p" && pkgs+=("$p")
	done
	if [ "${MINIDOCKER_LAB_REMOVE_BUSYBOX:-0}" = 1 ] && [ ${#pkgs[@]} -gt 0 ]; then
		say "apt-get remove ${pkgs[*]} (step03 would use $bb instead of host binaries)"
		apt_get remove "${pkgs[@]}"
		changed "removed ${pkgs[*]}"
		return
	fi
	warn "$bb is on PATH: step03 will copy busybox into its rootfs instead of host binaries, so its output differs from the chapter's (remove it with: apt-get remove ${pkgs[*]:-busybox})"
}

# read_sudo_path sets SUDO_PATH to the secure_path sudo really uses.
read_sudo_path() {
	local p
	p=$(LC_ALL=C sudo -V 2>/dev/null | sed -n "s/^Value to override user's \$PATH with: //p")
	if [ -n "$p" ]; then
		SUDO_PATH=$p
		say "sudo's secure_path: $p"
	else
		say "sudo sets no secure_path: assuming $SUDO_PATH"
	fi
}

#
# Go.
#
# find_go sets go_bin to an installed Go >= 1.22, preferring the one on PATH.
find_go() {
	local c candidates
	# On PATH first, then the usual homes; /usr/lib/go-1.NN newest first.
	mapfile -t candidates < <(
		command -v go || true
		printf '%s\n' /usr/local/go/bin/go /usr/local/bin/go /usr/bin/go
		find /usr/lib -maxdepth 3 -path '/usr/lib/go-1.*/bin/go' 2>/dev/null | sort -t. -k2,2nr
	)
	for c in "${candidates[@]}"; do
		if [ -z "$c" ] || [ ! -x "$c" ]; then
			continue
		fi
		if new_enough "$c"; then
			go_bin=$(readlink -f "$c")
			return 0
		fi
		say "found $c ($(go_version "$c")): older than go1.$GO_MIN_MINOR, not used"
	done
	return 1
}

# install_go installs the distribution's golang-go if it is Go >= 1.22 (it
# puts go in /usr/bin), else the newest golang-1.NN-go that is.
install_go() {
	local minor pkg best='' best_minor=0
	apt_update_once
	minor=$(apt_minor golang-go)
	if [ -n "$minor" ] && [ "$minor" -ge "$GO_MIN_MINOR" ]; then
		best=golang-go best_minor=$minor
	fi
	# Versioned packages (golang-1.22-go, ...) come from backports or -updates.
	if [ -z "$best" ]; then
		for pkg in $(apt-cache pkgnames golang-1. 2>/dev/null | grep -E '^golang-1\.[0-9]+-go$' || true); do
			minor=$(apt_minor "$pkg")
			if [ -n "$minor" ] && [ "$minor" -ge "$GO_MIN_MINOR" ] && [ "$minor" -gt "$best_minor" ]; then
				best=$pkg best_minor=$minor
			fi
		done
	fi
	if [ -z "$best" ]; then
		local offered
		offered=$(apt_minor golang-go)
		offered=${offered:+Go 1.$offered}
		die "no Go >= 1.$GO_MIN_MINOR here, and apt offers none (its golang-go is ${offered:-not available}; Ubuntu 24.04's is 1.22, Debian 12's 1.19).
  Install Go 1.$GO_MIN_MINOR or newer, then run this script again; it finds Go on PATH, in /usr/local/go/bin or /usr/lib/go-1.NN/bin:
  - Debian 12: enable bookworm-backports (it has golang-1.22-go and newer); this script then installs the newest;
  - any Linux: unpack the official release tarball into /usr/local/go (go.dev/doc/install).
  (A Go >= 1.21 can switch to a newer toolchain by itself, go.dev/doc/toolchain, but only online and once per
  user and module cache: the lab must work offline once provisioned, so this script does not rely on it.)"
	fi
	say "apt-get install --no-install-recommends $best (Go 1.$best_minor)"
	apt_get install --no-install-recommends "$best"
	changed "installed $best"
	find_go || die "installed $best, but found no Go >= 1.$GO_MIN_MINOR afterwards"
}

ensure_go() {
	if find_go; then
		ok "Go: $go_bin ($(go_version "$go_bin"))"
	else
		install_go
	fi
}

# ensure_sudo_finds makes "sudo TOOL" run the TOOL next to go_bin: sudo
# searches only its secure_path, so a Go in /usr/local/go/bin is invisible
# to it. A symlink in /usr/local/bin (first in secure_path after sbin) fixes
# that for sudo, "sudo -i", root's login shell and cron alike, without
# touching the sudoers policy; Go finds its GOROOT through the link.
ensure_sudo_finds() {
	local tool=$1 target found link=/usr/local/bin/$1
	target=$(dirname "$go_bin")/$tool
	[ -x "$target" ] || { warn "no $target: skipped"; return; }
	found=$(PATH=$SUDO_PATH command -v "$tool" || true)
	if [ -n "$found" ] && [ "$(readlink -f "$found")" = "$(readlink -f "$target")" ]; then
		ok "sudo finds $tool: $found -> $(readlink -f "$found")"
		return
	fi
	if [ -e "$link" ] && [ ! -L "$link" ]; then
		die "$link is a file, not a link, and is not $target: sudo would run it instead; move it away and run this script again"
	fi
	# $found is an older Go, or none: the link comes first on secure_path.
	ln -sfn "$target" "$link"
	changed "linked $link -> $target${found:+ (sudo found $found before)}"
}

#
# git: root may run git in a repository another user owns only if it is
# marked safe (git >= 2.35.2); go build stamps binaries from git, and the
# tests compare files with git diff.
#
ensure_git_safe() {
	[ -n "$repo" ] || return 0
	local owner
	owner=$(stat -c %u "$repo")
	if [ "$owner" = 0 ]; then
		ok "git: $repo belongs to root, no safe.directory needed"
		return
	fi
	if git config --system --get-all safe.directory 2>/dev/null | grep -qxF "$repo"; then
		ok "git: $repo is a safe.directory for root"
		return
	fi
	git config --system --add safe.directory "$repo"
	changed "git config --system --add safe.directory $repo (owned by uid $owner)"
}

#
# TMPDIR and state directories.
#
# login_tmpdir prints TMPDIR as an interactive login shell of user $1 (home
# $2) sets it, or nothing.
login_tmpdir() {
	# shellcheck disable=SC2016 # expanded by the login shell, not here
	local out cmd='printf "\nMINIDOCKER-TMPDIR=[%s]\n" "${TMPDIR-}"'
	if [ "$1" = root ]; then
		out=$(env -i HOME=/root USER=root LOGNAME=root PATH="$SUDO_PATH" bash -lic "$cmd" </dev/null 2>/dev/null || true)
	else
		out=$(runuser -u "$1" -- env -i HOME="$2" USER="$1" LOGNAME="$1" PATH=/usr/local/bin:/usr/bin:/bin \
			bash -lic "$cmd" </dev/null 2>/dev/null || true)
	fi
	printf '%s' "$out" | sed -n 's/^MINIDOCKER-TMPDIR=\[\(.*\)\]$/\1/p' | tail -n 1
}

# check_dir fails when directory $2 (what $1 names) is where a writable
# layer or step08's state cannot live.
check_dir() {
	local what=$1 dir=$2 probe bad
	probe=$dir
	while [ ! -e "$probe" ]; do probe=$(dirname "$probe"); done
	bad=$(unfit_name "$(fs_type "$probe")")
	if [ -n "$bad" ]; then
		die "$what is $dir, which is on $bad: overlayfs cannot put a writable layer there, and step06 refuses with
  \"the writable layer cannot live in $dir/minidocker-container-..., which is on $bad: ... set TMPDIR ...\".
  Remove the line that sets TMPDIR (grep -n TMPDIR /etc/environment /etc/profile /etc/profile.d/* /etc/bash.bashrc ~/.bashrc ~/.profile)
  and run this script again. Keep TMPDIR on the machine's own disk (/tmp, /var/tmp)."
	fi
	[ -d "$dir" ] || warn "$what is $dir, which does not exist: the steps will fail to make their temporary directories"
}

ensure_tmpdir() {
	local t shown=()
	check_dir "/tmp" /tmp
	check_dir "/var/lib (step08 keeps /var/lib/minidocker-step08 there)" /var/lib
	if [ -n "${TMPDIR:-}" ]; then
		check_dir "TMPDIR in this script's environment" "$TMPDIR"
		shown+=("here: $TMPDIR")
	fi
	t=$(login_tmpdir root /root)
	[ -n "$t" ] && { check_dir "TMPDIR in root's login shell" "$t"; shown+=("root: $t"); }
	if [ -n "$learner" ]; then
		t=$(login_tmpdir "$learner" "$learner_home")
		[ -n "$t" ] && { check_dir "TMPDIR in $learner's login shell" "$t"; shown+=("$learner: $t"); }
	fi
	if [ -n "$repo" ]; then
		local bad
		bad=$(unfit_name "$(fs_type "$repo")")
		[ -n "$bad" ] && say "note: the repository is on $bad: fine for sources, never for writable layers"
	fi
	if [ ${#shown[@]} -eq 0 ]; then
		ok "TMPDIR unset for root${learner:+ and $learner}: writable layers go to /tmp ($(stat -f -c %T /tmp))"
	else
		ok "TMPDIR on a local disk (${shown[*]})"
	fi
}

#
# cgroup version of the next boot.
#
cgroup_now() {
	case "$(stat -f -c %T /sys/fs/cgroup 2>/dev/null)" in
	cgroup2fs) echo "v2 (unified)" ;;
	tmpfs) echo "v1 ($(grep -q ' cgroup2 ' /proc/mounts && echo hybrid || echo legacy))" ;;
	*) echo "unknown" ;;
	esac
}

# update_grub regenerates grub.cfg after a change to $GRUB_DROPIN.
update_grub() {
	command -v update-grub >/dev/null ||
		die "no update-grub: this machine does not boot with GRUB; add systemd.unified_cgroup_hierarchy=0 to its kernel command line by hand"
	say "update-grub"
	update-grub >/dev/null 2>&1 || die "update-grub failed: run it by hand to see why"
}

ensure_cgroup() {
	local mode=${MINIDOCKER_LAB_CGROUP:-} now
	now=$(cgroup_now)
	case "$mode" in
	"")
		ok "cgroup: $now now (MINIDOCKER_LAB_CGROUP unset: boot left alone)"
		;;
	v1)
		# systemd 255 (Ubuntu 24.04) still boots cgroup v1 with this
		# parameter; from 256 on it also needs the second one.
		# shellcheck disable=SC2016 # grub-mkconfig expands it
		local content='# Written by minidocker lab/provision.sh (MINIDOCKER_LAB_CGROUP=v1): boot with
# cgroup v1, in systemd'"'"'s hybrid layout, so step05 can show both versions.
# Remove this file and run update-grub to return to cgroup v2.
GRUB_CMDLINE_LINUX_DEFAULT="${GRUB_CMDLINE_LINUX_DEFAULT:-} systemd.unified_cgroup_hierarchy=0 SYSTEMD_CGROUP_ENABLE_LEGACY_FORCE=1"'
		if [ -f "$GRUB_DROPIN" ] && [ "$(cat "$GRUB_DROPIN")" = "$content" ]; then
			ok "cgroup: $GRUB_DROPIN asks for v1"
		else
			mkdir -p "$(dirname "$GRUB_DROPIN")"
			printf '%s\n' "$content" >"$GRUB_DROPIN"
			update_grub
			changed "wrote $GRUB_DROPIN: cgroup v1 from the next boot"
		fi
		case "$now" in
		v1*) ok "cgroup: $now now" ;;
		*) say "cgroup: $now now; v1 after a reboot (the Vagrantfile's v1 machine reboots by itself)" ;;
		esac
		;;
	v2)
		if [ -f "$GRUB_DROPIN" ]; then
			rm -f "$GRUB_DROPIN"
			update_grub
			changed "removed $GRUB_DROPIN: cgroup v2 from the next boot"
		else
			ok "cgroup: $now now, no v1 override in $GRUB_DROPIN"
		fi
		;;
	*) die "MINIDOCKER_LAB_CGROUP=$mode: want v1, v2 or nothing" ;;
	esac
}

#
# Warm-up: compile everything once as root and as the learner, so that both
# module caches hold the dependencies before the first "sudo go run".
#
# go_env prints the variables the warm-up passes through: those that point
# the go command at a proxy or change its flags.
go_env() {
	local v
	for v in GOPROXY GOFLAGS GONOSUMDB GONOSUMCHECK GOPRIVATE GOSUMDB GOTOOLCHAIN http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY; do
		[ -n "${!v:-}" ] && printf '%s=%s\n' "$v" "${!v}"
	done
	return 0
}

# warm_as builds the repository as user $1 (home $2) with a PATH like sudo's.
warm_as() {
	local user=$1 home=$2 log status=0 envs=()
	mapfile -t envs < <(go_env)
	log=$(mktemp)
	chmod 644 "$log"
	if [ "$user" = root ]; then
		(cd "$repo" && env -i HOME="$home" PATH="$SUDO_PATH" "${envs[@]}" go build ./...) >"$log" 2>&1 || status=$?
	else
		(cd "$repo" && runuser -u "$user" -- env -i HOME="$home" PATH="$SUDO_PATH" "${envs[@]}" go build ./...) >"$log" 2>&1 || status=$?
	fi
	local downloads who='"sudo go run"'
	[ "$user" = root ] || who="$user's go commands"
	downloads=$(grep -c '^go: downloading' "$log" || true)
	if [ "$status" != 0 ]; then
		if grep -qE 'dial tcp|lookup .* on|connection refused|no such host|GOPROXY=off|network is unreachable|i/o timeout' "$log"; then
			warn "warm-up as $user: offline, and the modules are not in $home/go/pkg/mod yet: $who will need the network once (or a vendor/ directory)"
		else
			warn "warm-up as $user: go build ./... failed: $(head -n 3 "$log" | tr '\n' ' ')"
		fi
	elif [ "$downloads" -gt 0 ]; then
		changed "warm-up as $user: go build ./... downloaded $downloads modules into $home/go/pkg/mod"
	else
		ok "warm-up as $user: go build ./... needed no download"
	fi
	rm -f "$log"
}

ensure_warm() {
	[ -n "$repo" ] || return 0
	if [ "${MINIDOCKER_LAB_WARM:-1}" = 0 ]; then
		say "warm-up skipped (MINIDOCKER_LAB_WARM=0)"
		return
	fi
	[ -d "$repo/vendor" ] && say "warm-up: $repo/vendor is there, so nothing needs downloading"
	warm_as root /root
	[ -n "$learner" ] && warm_as "$learner" "$learner_home"
	return 0
}

summary() {
	local took=$((SECONDS - started)) line
	say "go: $(PATH=$SUDO_PATH command -v go) ($(go_version "$go_bin")); cgroup: $(cgroup_now); TMPDIR for the steps: ${TMPDIR:-/tmp}"
	if [ -n "$repo" ]; then
		say "next, as ${learner:-the learner}: cd $repo && sudo go run ./step01-clone-ns -- hostname"
	fi
	if [ ${#changes[@]} -eq 0 ]; then
		line="nothing to change, the machine was already provisioned"
	else
		line="${#changes[@]} change(s): $(printf '%s; ' "${changes[@]}")"
		line=${line%; }
	fi
	[ ${#warnings[@]} -gt 0 ] && line="$line (${#warnings[@]} warning(s), see above)"
	say "summary: $line (${took}s)"
}

check_machine
ensure_packages
read_sudo_path
ensure_no_busybox
ensure_go
ensure_sudo_finds go
ensure_sudo_finds gofmt
ensure_git_safe
ensure_tmpdir
ensure_cgroup
ensure_warm
summary
