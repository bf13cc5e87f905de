#!/usr/bin/env bash
# lab/walk/guest.sh: the learner's path, walked inside the lab walk's VM
# (lab/walk/run.sh boots it; docs/labs/lab-walk.md says what it proves).
# lab-walk.service runs it as root on the serial console once the network
# is up; it provisions the machine as Vagrant would, then acts as the
# learner through sudo, then checks the machine survived. One line per
# check; the first failure prints what the command printed and ends the
# walk. The last line is MINIDOCKER-WALK-EXIT=<status>, then the VM powers
# off.
set -uo pipefail

readonly LEARNER=learner REPO=/vagrant
export HOME=/root LC_ALL=C.UTF-8
log=/var/tmp/lab-walk
mkdir -p "$log"
check=none
started=$SECONDS

# say prints one line on the console.
say() { printf 'walk: %s\n' "$*"; }

# finish prints the exit marker and powers the machine off.
finish() {
	say "the walk took $((SECONDS - started))s in the VM"
	echo "MINIDOCKER-WALK-EXIT=$1"
	systemctl poweroff --no-block
	exit "$1"
}

# fail ends the walk at the current check, with the tail of file $2 if given.
fail() {
	say "FAIL $check: $1"
	if [ -n "${2:-}" ] && [ -s "$2" ]; then
		sed 's/^/    | /' "$2" | tail -n 40
	fi
	finish 1
}

# begin names the check that the next commands belong to.
begin() { check=$1 t0=$SECONDS; }

# pass ends the current check.
pass() { say "ok   $check${1:+: $1} ($((SECONDS - t0))s)"; }

# stamp prefixes each line of its input with the seconds since the walk began.
stamp() {
	local line
	while IFS= read -r line; do printf '[%ss] %s\n' "$((SECONDS - started))" "$line"; done
}

# as_learner runs a command line in the learner's login shell, in the
# repository, as "vagrant ssh" then "cd /vagrant" would; output to file $1.
as_learner() {
	local out=$1
	shift
	runuser -l "$LEARNER" -c "cd $REPO && $*" >"$out" 2>&1 </dev/null
}

# mounts prints the mount table as mount point, type and propagation, sorted:
# what must be the same before and after the learner's runs.
mounts() { findmnt -rn -o TARGET,FSTYPE,PROPAGATION | grep -v '^/run/user/' | sort; }

# machine checks the VM is the lab's kind of machine before anything runs.
machine() {
	begin "the machine: systemd, cgroup v2, / shared"
	local pid1 cg prop
	pid1=$(ps -p 1 -o comm= 2>/dev/null || cat /proc/1/comm)
	cg=$(stat -f -c %T /sys/fs/cgroup)
	prop=$(findmnt -n -o PROPAGATION /)
	[ "$pid1" = systemd ] || fail "PID 1 is $pid1, not systemd"
	[ "$cg" = cgroup2fs ] || fail "/sys/fs/cgroup is $cg, not cgroup2fs"
	[ "$prop" = shared ] || fail "/ has $prop propagation, systemd makes it shared"
	pass "$(. /etc/os-release && echo "$PRETTY_NAME"), kernel $(uname -r), $(nproc) CPUs, controllers: $(cat /sys/fs/cgroup/cgroup.subtree_control)"
}

# provision runs lab/provision.sh as Vagrant's shell provisioner does: the
# script copied to /tmp/vagrant-shell, run as root through the login
# user's sudo, with the Vagrantfile's environment.
provision() {
	local n=$1 out=$log/provision.$1
	begin "provision run $n (as Vagrant: sudo /tmp/vagrant-shell)"
	install -m 755 "$REPO/lab/provision.sh" /tmp/vagrant-shell
	runuser -u "$LEARNER" -- sudo env MINIDOCKER_LAB_REPO=$REPO MINIDOCKER_LAB_USER=$LEARNER \
		MINIDOCKER_LAB_CGROUP=v2 MINIDOCKER_LAB_REMOVE_BUSYBOX=1 MINIDOCKER_LAB_QEMU=0 \
		/tmp/vagrant-shell 2>&1 </dev/null | stamp >"$out"
	local status=${PIPESTATUS[0]}
	# The whole output, each line with the second it came at, for the console log.
	sed 's/^/provision.'"$n"' /' "$out"
	sed -i 's/^\[[0-9]*s\] //' "$out"
	[ "$status" = 0 ] || fail "provision.sh exited with status $status" "$out"
	summary=$(grep '^provision: summary: ' "$out" | tail -n 1)
	[ -n "$summary" ] || fail "no summary line" "$out"
	[ "$(tail -n 1 "$out")" = "$summary" ] || fail "the summary is not the last line" "$out"
	if [ "$n" = 2 ]; then
		case "$summary" in
		*"nothing to change"*) ;;
		*) fail "the second run changed something: $summary" "$out" ;;
		esac
	fi
	grep '^provision: warning: ' "$out" | sed 's/^provision: /walk:      /'
	summary=${summary#provision: summary: }
	pass "${summary% (*s)}"
}

# sudo_go checks that the learner's "sudo go" finds a Go (provision.sh's link).
sudo_go() {
	begin "sudo finds Go (sudo's secure_path)"
	as_learner "$log/sudo-go" 'sudo go version' || fail "sudo go version failed" "$log/sudo-go"
	pass "$(cat "$log/sudo-go")"
}

# step01 runs chapter 01's first command: the container has its own hostname.
step01() {
	begin "sudo go run ./step01-clone-ns -- hostname"
	as_learner "$log/step01" 'sudo go run ./step01-clone-ns -- hostname' || fail "status $?" "$log/step01"
	grep -qx box "$log/step01" || fail "no line \"box\" in the output" "$log/step01"
	[ "$(hostname)" = minidocker-lab ] || fail "the VM's hostname is now $(hostname)"
	pass "the container says box, the VM is still $(hostname)"
}

# step04 checks the container's / is the rootfs after pivot_root, not the VM's.
step04() {
	begin "sudo go run ./step04-pivot-root -- ls /"
	as_learner "$log/step04" 'sudo go run ./step04-pivot-root -q -- ls /' || fail "status $?" "$log/step04"
	grep -qx proc "$log/step04" || fail "no /proc in the container's /" "$log/step04"
	! grep -qxE 'vagrant|home|boot' "$log/step04" || fail "the host's / shows inside" "$log/step04"
	pass "$(tr '\n' ' ' <"$log/step04")"
}

# step05 runs chapter 05's OOM experiment: the limit is written, the kernel kills.
step05() {
	begin "sudo go run ./step05-cgroups -m 64m -- load mem 100m (OOM kill)"
	local status=0
	as_learner "$log/step05" 'sudo go run ./step05-cgroups -m 64m --memory-swap 64m -- load mem 100m' || status=$?
	[ "$status" != 0 ] || fail "load mem 100m survived a 64m limit" "$log/step05"
	grep -q 'memory.max = 67108864' "$log/step05" || fail "no memory.max = 67108864 in the narration" "$log/step05"
	grep -q 'the container was OOM killed' "$log/step05" || fail "not reported as OOM killed" "$log/step05"
	pass "memory.max = 67108864, OOM killed (status 137)"
}

# step07 starts the step's load program as a server on the VM and connects
# to it from a container, through the container's default route: the
# bridge's gateway address.
step07() {
	begin "sudo go run ./step07-veth-bridge -- load connect 10.99.0.1:8099 (the gateway)"
	as_learner "$log/step07-build" 'go build -o /tmp/load ./step07-veth-bridge' || fail "build load" "$log/step07-build"
	runuser -u "$LEARNER" -- /tmp/load serve 8099 >"$log/step07-serve" 2>&1 &
	local server=$!
	as_learner "$log/step07" 'sudo go run ./step07-veth-bridge -- load connect 10.99.0.1:8099'
	local status=$?
	kill "$server" 2>/dev/null
	wait "$server" 2>/dev/null
	[ "$status" = 0 ] || fail "status $status" "$log/step07"
	local line
	line=$(grep '^hello from minidocker-lab: you are 10\.99\.0\.' "$log/step07") || fail "no answer from the gateway" "$log/step07"
	pass "$line"
}

# final builds minidocker as the README says and runs a container of base.
final() {
	begin "sudo ./minidocker run --rm base echo hi (built as the README says)"
	as_learner "$log/final-build" "CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o minidocker ./final" ||
		fail "build minidocker" "$log/final-build"
	as_learner "$log/final" 'sudo ./minidocker run --rm base echo hi' || fail "status $?" "$log/final"
	[ "$(tail -n 1 "$log/final")" = hi ] || fail "the last line is not hi" "$log/final"
	pass "hi ($(head -n 1 "$log/final"))"
}

# runs runs the command of every "Run it" block of the chapters (each
# <!-- run: STEP ARGS --> marker of docs/*.md) on this machine, as the
# learner would: the step built by the learner, run through sudo from a
# login shell, with the environment of the docs' generator on the build
# machine (tests/docs_test.go) but in the VM's own mount and network
# namespaces, where / is shared. In the chapters' order, on a machine
# where nothing has run yet, as a learner meets them: the first run that
# needs a controller systemd has not enabled in the root (cpu, cpuset)
# narrates enabling it, and later runs do not. What each prints is kept on /vagrant,
# in .lab-walk-runs/N.args (the words, NUL-ended) and N.out; run.sh reads
# them from the disk afterwards and checks the chapters' run-v2 blocks
# against them (tests/docs_labvm_test.go).
runs() {
	begin "the chapters' Run it commands, through sudo (for the docs' v2 blocks)"
	local out=$REPO/.lab-walk-runs bin=/tmp/lab-walk-steps n=0 args steps
	local -a words
	mkdir -p "$out"
	grep -ho '^<!-- run: .* -->$' "$REPO"/docs/*.md | sed -e 's/^<!-- run: //' -e 's/ -->$//' | awk '!seen[$0]++' >"$log/runs"
	[ -s "$log/runs" ] || fail "no <!-- run: --> markers in $REPO/docs"
	steps=$(awk '!seen[$1]++ { print "./" $1 }' "$log/runs" | tr '\n' ' ')
	as_learner "$log/runs-build" "go build -o $bin/ $steps" || fail "go build -o $bin/ $steps" "$log/runs-build"
	while IFS= read -r args; do
		n=$((n + 1))
		# The marker's words as tests/docs_test.go's shellWords splits them
		# ('quoted' words whole, nothing else special): no globbing here.
		set -f
		eval "words=($args)"
		set +f
		printf '%s\0' "${words[@]}" >"$out/$n.args"
		words[0]=$bin/${words[0]}
		runuser -l "$LEARNER" -c "cd /tmp && sudo env NO_COLOR=1 MINIDOCKER_BUSYBOX=none $(printf '%q ' "${words[@]}")" \
			>"$out/$n.out" 2>&1 </dev/null
	done <"$log/runs"
	rm -rf "$bin"
	pass "$n commands of $(wc -w <<<"$steps") steps, their output kept in $out"
}

# intact checks that the learner's runs left the VM as they found it.
intact() {
	begin "the VM's own /proc, mounts and cgroups are intact"
	mounts >"$log/mounts.after"
	diff "$log/mounts.before" "$log/mounts.after" >"$log/mounts.diff" || fail "the mount table changed" "$log/mounts.diff"
	[ "$(findmnt -n -o PROPAGATION /)" = shared ] || fail "/ is no longer shared"
	[ "$(findmnt -n /proc | wc -l)" = 1 ] || fail "/proc is mounted $(findmnt -n /proc | wc -l) times"
	ps -e >"$log/ps" 2>&1 || fail "ps -e fails" "$log/ps"
	[ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ] || fail "/sys/fs/cgroup is no longer cgroup2fs"
	# A runtime may enable more controllers for its children, as runc does;
	# none that systemd had enabled may be gone.
	local c now added=
	now=" $(cat /sys/fs/cgroup/cgroup.subtree_control) "
	for c in $controllers; do
		case "$now" in *" $c "*) ;; *) fail "the root's cgroup.subtree_control lost $c (before: $controllers; now:$now)" ;; esac
	done
	for c in $now; do
		case " $controllers " in *" $c "*) ;; *) added+=" $c" ;; esac
	done
	find /sys/fs/cgroup -mindepth 2 -maxdepth 2 -type d -path '*/minidocker*' >"$log/cgroups.left"
	[ ! -s "$log/cgroups.left" ] || fail "cgroups left behind" "$log/cgroups.left"
	# The boot is not over while this unit runs (systemd says "starting"):
	# what counts is that no unit failed.
	systemctl list-units --failed --no-legend --plain >"$log/failed" 2>&1
	[ ! -s "$log/failed" ] || fail "systemd has failed units" "$log/failed"
	pass "$(wc -l <"$log/mounts.after") mounts as before, / shared, one /proc, no minidocker cgroups left${added:+, controllers enabled in the root:$added}, no failed systemd unit"
}

# main walks the path in order; the first failure ends it.
main() {
	say "the walk starts: $(cat /proc/cmdline)"
	machine
	provision 1
	provision 2
	sudo_go
	mounts >"$log/mounts.before"
	controllers=$(cat /sys/fs/cgroup/cgroup.subtree_control)
	runs
	step01
	step04
	step05
	step07
	final
	intact
	say "all checks passed"
	finish 0
}

main
