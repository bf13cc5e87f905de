#!/usr/bin/env bash
# lab/walk/image.sh: build the lab walk's disk image, a systemd Debian 12
# standing in for the Vagrant box (docs/labs/lab-walk.md). Called by
# lab/walk/run.sh, which caches the result under a key made of this file,
# the mirror, the Go version and the kernel; as root:
#
#   bash lab/walk/image.sh OUTDIR MIRROR REPO
#
# OUTDIR receives disk.raw (ext4, the VM's /), vmlinuz and initrd.img (the
# kernel Debian installed into it, for QEMU's -kernel) and kernel (its
# release, e.g. 6.1.0-50-cloud-amd64). What goes in, and
# why each is there:
#
#   debootstrap --variant=minbase bookworm, plus systemd (PID 1, shared root
#       propagation, cgroup v2), udev, dbus, sudo and kmod, and
#       linux-image-cloud-amd64: the kernel tests/vm boots, installed the
#       ordinary way, so initramfs-tools makes its initrd and modules.dep.
#       Nothing lab/provision.sh installs is here: its first run installs
#       them through QEMU's user network, as on a fresh box.
#   learner  uid 1000 with passwordless sudo, like the box's vagrant user.
#   Go       the host's /usr/local/go copied to the image's /usr/local/go:
#       Debian 12's golang-go is 1.19 and go.mod wants 1.22, and the box's
#       Go comes with the box (Ubuntu 24.04's golang-go, in /usr/bin). A Go
#       in /usr/local/go is what provision.sh's "sudo go" symlink is for.
#   Go build caches, warmed by building REPO (a snapshot, removed again)
#       with the image's own Go in a chroot, as root and as learner, at the
#       path the VM sees (/vagrant): under TCG a cold standard library
#       build takes many minutes, which says nothing about the lab.
#   /etc/systemd/system/lab-walk.service: runs /vagrant/lab/walk/guest.sh
#       once the network is up, its output on the serial console.
set -euo pipefail

out=$1 mirror=$2 repo=$3
root=$out/rootfs
readonly INCLUDE=systemd,systemd-sysv,udev,dbus,sudo,kmod,linux-image-cloud-amd64
readonly LEARNER=learner

say() { echo "lab-walk: image: $*" >&2; }

# in_root runs a command chrooted into the image, with /proc and /dev of
# its own mount namespace (nothing leaks onto the host's mount table).
in_root() {
	unshare -m --propagation private -- sh -c '
		r=$1; shift
		mount -t proc proc "$r/proc" && mount --rbind /dev "$r/dev" && mount -t tmpfs tmpfs "$r/tmp" &&
			exec chroot "$r" "$@"' sh "$root" "$@"
}

# bootstrap runs debootstrap into $root, its log kept beside the image.
bootstrap() {
	say "debootstrap bookworm from $mirror (a few minutes)"
	# In a mount namespace of its own: the /proc and /sys it mounts in the
	# tree go away with it, even when it is killed.
	unshare -m --propagation private -- debootstrap --variant=minbase --include="$INCLUDE" bookworm "$root" "$mirror" \
		>"$out/debootstrap.log" 2>&1 ||
		{ tail -n 30 "$out/debootstrap.log" >&2; exit 1; }
}

# configure makes the tree a bootable lab machine: names, disks, network,
# the learner, the walk's unit.
configure() {
	echo minidocker-lab >"$root/etc/hostname"
	printf '127.0.0.1 localhost\n127.0.1.1 minidocker-lab\n::1 localhost\n' >"$root/etc/hosts"
	printf 'deb %s bookworm main\ndeb %s bookworm-updates main\n' "$mirror" "$mirror" >"$root/etc/apt/sources.list"
	printf 'LABEL=lab-root / ext4 defaults 0 1\nLABEL=vagrant /vagrant ext4 defaults 0 2\n' >"$root/etc/fstab"
	mkdir -p "$root/vagrant"
	# QEMU's user network: DHCP from 10.0.2.2, DNS at 10.0.2.3.
	cat >"$root/etc/systemd/network/80-lab.network" <<-'EOF'
		[Match]
		Name=en* eth*
		[Network]
		DHCP=ipv4
	EOF
	rm -f "$root/etc/resolv.conf"
	echo 'nameserver 10.0.2.3' >"$root/etc/resolv.conf"
	in_root systemctl enable systemd-networkd systemd-networkd-wait-online >/dev/null 2>&1
	in_root useradd -m -u 1000 -s /bin/bash "$LEARNER"
	echo "$LEARNER ALL=(ALL) NOPASSWD: ALL" >"$root/etc/sudoers.d/$LEARNER"
	chmod 440 "$root/etc/sudoers.d/$LEARNER"
	passwd_root_locked
	walk_unit
}

# passwd_root_locked leaves root without a password: nobody logs in, the
# walk runs from its unit.
passwd_root_locked() { in_root passwd -l root >/dev/null; }

# walk_unit installs lab-walk.service, which runs the walk from /vagrant.
walk_unit() {
	cat >"$root/etc/systemd/system/lab-walk.service" <<-'EOF'
		[Unit]
		Description=minidocker lab walk (lab/walk/guest.sh)
		Wants=network-online.target
		After=network-online.target multi-user.target
		RequiresMountsFor=/vagrant
		[Service]
		Type=oneshot
		ExecStart=/bin/bash /vagrant/lab/walk/guest.sh
		StandardOutput=tty
		StandardError=tty
		TTYPath=/dev/ttyS0
		[Install]
		WantedBy=multi-user.target
	EOF
	in_root systemctl enable lab-walk.service >/dev/null 2>&1
	# The console is the walk's: no login prompt on it.
	in_root systemctl mask serial-getty@ttyS0.service getty@tty1.service >/dev/null 2>&1
}

# copy_go puts the host's Go where a tarball install would put it.
copy_go() {
	say "copying $(go env GOROOT) into the image as /usr/local/go"
	mkdir -p "$root/usr/local"
	cp -a "$(go env GOROOT)" "$root/usr/local/go"
}

# warm_go fills root's and learner's Go build caches from a snapshot of REPO
# at /vagrant: the commands provision.sh and the walk run (go build ./...,
# go run of a step, the README's minidocker build) then find the standard
# library and the vendored modules compiled.
warm_go() {
	say "warming the Go build caches (chroot, native speed)"
	(cd "$repo" && git ls-files -z -co --exclude-standard | tar --null -T - --ignore-failed-read -cf - 2>/dev/null) |
		tar -xf - -C "$root/vagrant"
	chown -R 1000:1000 "$root/vagrant"
	local build='cd /vagrant && export PATH=/usr/local/go/bin:$PATH GOFLAGS=-buildvcs=false &&
		go build ./... && go build -o /dev/null ./step01-clone-ns &&
		CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /dev/null ./final'
	in_root env -i HOME=/root sh -c "$build" >&2
	# The cache is content-addressed: the learner's is a copy of root's.
	mkdir -p "$root/home/$LEARNER/.cache"
	cp -a "$root/root/.cache/go-build" "$root/home/$LEARNER/.cache/"
	chown -R 1000:1000 "$root/home/$LEARNER/.cache"
	find "$root/vagrant" -mindepth 1 -delete
}

# pack makes the ext4 image from the tree, without mounting anything, and
# takes the kernel and initrd out for QEMU.
pack() {
	in_root apt-get clean
	local vmlinuz
	vmlinuz=$(echo "$root"/boot/vmlinuz-*)
	cp "$vmlinuz" "$out/vmlinuz"
	cp "$root"/boot/initrd.img-* "$out/initrd.img"
	# The kernel that boots, for run.sh's lines and the docs.
	echo "${vmlinuz##*/vmlinuz-}" >"$out/kernel"
	say "making disk.raw (ext4, 8 GiB sparse)"
	mke2fs -q -t ext4 -L lab-root -d "$root" "$out/disk.raw" 8G
	rm -rf "$root"
}

# main builds the image; in a function, so that bash has read the whole file
# before it runs any of it.
main() {
	mkdir -p "$out"
	bootstrap
	configure
	copy_go
	warm_go
	pack
}

main
