#!/bin/sh
# make demo: a throwaway 3-member cmem cluster on this machine.
# As root: three network namespaces on a private bridge (nothing touches
# the real network).  Otherwise: three daemons on this host with TTL 0 and
# multicast loop on the loopback interface, so that no packet leaves it.
set -u
build=$(cd "${1:-build}" && pwd)
dir=$(mktemp -d /tmp/cmem-demo.XXXXXX)
chmod 755 "$dir"
pids=""
nets=""
tag="cmdemo$$"

cleanup() {
	for p in $pids; do kill -TERM "$p" 2>/dev/null; done
	sleep 0.3
	for p in $pids; do kill -KILL "$p" 2>/dev/null; done
	for n in $nets; do ip netns del "$n" 2>/dev/null; done
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

"$build/cmem-keygen" new -o "$dir/cluster.keys" >/dev/null || exit 1
say "throwaway keyring $dir/cluster.keys (mode $(stat -c %a "$dir/cluster.keys"))"
"$build/cmem-keygen" list "$dir/cluster.keys"

if [ "$(id -u)" -eq 0 ] && command -v ip >/dev/null; then
	mode=netns
	ip netns add "${tag}sw"; nets="${tag}sw"
	ip -n "${tag}sw" link add br0 type bridge mcast_snooping 0
	ip -n "${tag}sw" link set br0 up
	mkdir -m 755 "$dir/chroot"
else
	mode=host
fi

start() { # start N: node-N
	n=$1 ns="${tag}h$n"
	if [ $mode = netns ]; then
		ip netns add "$ns"; nets="$nets $ns"
		ip -n "${tag}sw" link add "p$n" type veth peer name eth0 netns "$ns"
		ip -n "${tag}sw" link set "p$n" master br0 up
		ip -n "$ns" link set lo up
		ip -n "$ns" addr add "10.78.0.$n/24" dev eth0
		ip -n "$ns" link set eth0 up
		iface='interface = "eth0"; ttl = 1; user = "nobody"; chroot = "'"$dir/chroot"'";'
		run="ip netns exec $ns"
	else
		iface='interface = "lo"; ttl = 0; chroot = "";'
		run=""
	fi
	cat > "$dir/node-$n.conf" <<CONF
name = "node-$n";
group = "239.192.51.10";
port = 51510;
keyring = "$dir/cluster.keys";
control_socket = "$dir/node-$n.sock";
pidfile = "$dir/node-$n.pid";
$iface
CONF
	$run "$build/cmemd" -f -c "$dir/node-$n.conf" 2>"$dir/node-$n.log" &
	pids="$pids $!"
	eval "pid_$n=$!"
}


say "starting 3 daemons ($mode mode)"
start 1
sleep 0.3
"$build/cmemctl" -s "$dir/node-1.sock" watch > "$dir/events" 2>/dev/null &
pids="$pids $!"
start 2
start 3
sleep 0.5
say "membership seen by node-1"
"$build/cmemctl" -s "$dir/node-1.sock" members
say "node-1 status"
"$build/cmemctl" -s "$dir/node-1.sock" status

say "kill -9 node-3: the others notice it"
kill -KILL "$pid_3"
t0=$(date +%s%N)
i=0
while [ $i -lt 100 ]; do
	if "$build/cmemctl" -s "$dir/node-1.sock" --json members | grep -q '"name":"node-3"[^}]*"state":"failed"' &&
	   "$build/cmemctl" -s "$dir/node-2.sock" --json members | grep -q '"name":"node-3"[^}]*"state":"failed"'; then
		break
	fi
	sleep 0.02; i=$((i + 1))
done
echo "node-1 and node-2 declared node-3 failed after $(( ($(date +%s%N) - t0) / 1000000 )) ms"
"$build/cmemctl" -s "$dir/node-1.sock" members

say "SIGTERM node-2: it says leave"
kill -TERM "$pid_2"
sleep 0.2
"$build/cmemctl" -s "$dir/node-1.sock" members
say "events node-1 saw"
cat "$dir/events"
say "stats of node-1"
"$build/cmemctl" -s "$dir/node-1.sock" stats | head -30
say "stopping"
