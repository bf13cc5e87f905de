// Package network gives a container the network Docker calls "bridge":
// a bridge on the host with the containers' gateway address, a veth pair
// per container whose inner end is the container's eth0, an address from
// the bridge's subnet, a default route, IP forwarding, source NAT to
// reach the world, and DNAT for published ports (-p). It is the
// production form of step 07 (step07-veth-bridge, docs/07-veth-bridge.md),
// without the narration; "--network host" and "--network none" need no
// calls here except WriteEtcFiles.
//
// A container's network has three moments, and the runtime calls one
// function for each:
//
//	Allocate  before the container exists: an address and host ports,
//	          leased to the process that lives as long as the container
//	Attach    once the container's process exists: bridge, veth, eth0,
//	          address, route, forwarding, NAT
//	Release   after it has ended: the lease and its ports; the veth pair
//	          goes with the container's network namespace, by the kernel
//
// The bridge, the nftables table and ip_forward stay after the last
// container, as Docker keeps docker0: the next container finds them made,
// and no run waits for the kernel to delete a bridge.
//
// Reclaim and Cleanup are the repair paths: Reclaim frees the leases of
// owners that are gone; Cleanup does too, takes down the bridges without
// leases (what "minidocker cleanup" is for), and once no lease is left in
// the namespace, removes by name what a killed run left without a record.
// A lease whose owner lives is never taken, whichever state root or step
// it belongs to.
//
// # State
//
// Leases live in one JSON file per bridge and network namespace,
// /run/minidocker/net-INODE/BRIDGE.json, where INODE is the inode of the
// namespace (/proc/thread-self/ns/net). Every change happens under
// flock(2) on that file. A lease's owner is a pid and that process's
// start time (field 22 of /proc/PID/stat), so a lease whose owner died is
// recognised even after the pid was reused, and reclaimed. What is about
// to be made (the bridge, ip_forward) is recorded before it is made, so a
// run killed half-way leaves a record from which the next one cleans up.
//
// # Living next to step 07
//
// The state file's path and format, the bridge and the nftables table
// ("table ip minidocker0", named after the bridge, rebuilt whole from the
// state on every change) are step 07's, on purpose: a step 07 run and
// minidocker in one network namespace share the bridge, see each other's
// leases and never hand out one address twice; a step 07 run that leaves
// last tears down, as step 07 always does. The veth names differ: step
// 07's are vethPID, after the owner; minidocker's are named after the
// address (vethName), so that a veth the kernel has yet to delete keeps
// its address from minidocker's next container. Step 07 does not know a
// published port's host address (-p 127.0.0.1:8080:80). It is kept in a
// file of its own, BRIDGE.hostip, which step 07 never opens, so that step
// 07 rewriting BRIDGE.json cannot lose it. Step 07's table is also
// smaller: no DNAT to 127.0.0.1 (it sets no route_localnet either) and no
// hairpin masquerade. So while step 07 has last rebuilt the table, a
// published port answers on every host address but 127.0.0.1, and not to
// other containers, until minidocker rebuilds it again.
//
// # Threads
//
// Everything here acts in the network namespace of the calling OS thread.
// A program whose threads all share one namespace, as the runtime's do,
// need not care; a test that moves one locked thread into a namespace of
// its own must call from that thread.
package network
