#!/bin/bash
# Network namespaces for the NAT tests. Source it (functions below) or run
#   topo.sh up PREFIX single|double|asym  /  topo.sh down PREFIX
# to look at a topology by hand. Every namespace name starts with PREFIX
# (the tests use pbn<pid>), so concurrent runs do not meet.
#
# single:  [priv] 10.0.0.2 --- 10.0.0.1 [nat] 203.0.113.1 --+
#          (nftables masquerade to random ports 20000-29999) |
#                                                           | bridge in [wan]
#          [pub]  203.0.113.10  pstnbridged ----------------+
#          [att]  203.0.113.66  the attacker ---------------+
# double:  [priv] 10.1.0.2 --- 10.1.0.1 [nat2] 10.0.0.2 --- 10.0.0.1 [nat] ...
#          (nat2 masquerades to random ports 40000-49999)
# asym:    [priv] 203.0.113.20 on the bridge itself: no NAT at all
#
# pub and att have no route to 10.0.0.0/8: a gateway that sends RTP to the
# private address in the client's SDP gets ENETUNREACH. The NAT's forward
# chain drops unsolicited inbound packets, as a home router does. No SIP
# ALG: no conntrack helper is assigned (kernels >= 6.0 assign none unless
# a rule asks); the tests check the SDP seen in pub still names 10.x.

topo_nx() {
	local ns=$1
	shift
	ip netns exec "$TOPO_P-$ns" "$@"
}

# topo_nat_rules NS LAN_NET PORTS: masquerade LAN_NET out of wan0 to random
# PORTS, forward only lan->wan and established/related back.
topo_nat_rules() {
	topo_nx "$1" nft -f - <<EOF
table ip nat {
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "wan0" ip saddr $2 meta l4proto { tcp, udp } masquerade to :$3 fully-random
		oifname "wan0" ip saddr $2 masquerade
	}
	chain prerouting {
		type nat hook prerouting priority dstnat; policy accept;
	}
}
table ip filter {
	chain forward {
		type filter hook forward priority filter; policy drop;
		ct state established,related accept
		ct status dnat accept
		iifname "lan0" oifname "wan0" accept
	}
}
EOF
}

# topo_link NS_A IF_A NS_B IF_B: a veth pair between two namespaces.
topo_link() {
	ip link add "$2" netns "$TOPO_P-$1" type veth peer name "$4" netns "$TOPO_P-$3" &&
		topo_nx "$1" ip link set "$2" up && topo_nx "$3" ip link set "$4" up
}

# topo_up PREFIX KIND: build the topology; sets TOPO_P, TOPO_KIND,
# CLIENT_IP (the client's own address), TOPO_NS (namespaces made).
topo_up() {
	TOPO_P=$1
	TOPO_KIND=$2
	TOPO_NS=()
	local ns h nss="wan pub att priv"
	case $TOPO_KIND in
	single) nss="$nss nat" ;;
	double) nss="$nss nat nat2" ;;
	asym) ;;
	*) echo "topo_up: unknown kind $TOPO_KIND" >&2; return 2 ;;
	esac
	for ns in $nss; do
		ip netns add "$TOPO_P-$ns" || return 1
		TOPO_NS+=("$TOPO_P-$ns")
		topo_nx "$ns" ip link set lo up
		topo_nx "$ns" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
		topo_nx "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
	done
	topo_nx wan ip link add br0 type bridge || return 1
	topo_nx wan ip link set br0 up
	# the public segment
	local pubhosts="pub att"
	[ "$TOPO_KIND" = asym ] && pubhosts="$pubhosts priv" || pubhosts="$pubhosts nat"
	for h in $pubhosts; do
		topo_link wan "w-$h" "$h" wan0 || return 1
		topo_nx wan ip link set "w-$h" master br0
	done
	topo_nx pub ip addr add 203.0.113.10/24 dev wan0
	topo_nx att ip addr add 203.0.113.66/24 dev wan0
	case $TOPO_KIND in
	asym)
		topo_nx priv ip addr add 203.0.113.20/24 dev wan0
		CLIENT_IP=203.0.113.20
		;;
	single)
		topo_nx nat ip addr add 203.0.113.1/24 dev wan0
		topo_link nat lan0 priv eth0 || return 1
		topo_nx nat ip addr add 10.0.0.1/24 dev lan0
		topo_nx priv ip addr add 10.0.0.2/24 dev eth0
		topo_nx priv ip route add default via 10.0.0.1
		topo_nx nat sysctl -qw net.ipv4.ip_forward=1
		topo_nat_rules nat 10.0.0.0/24 20000-29999 || return 1
		CLIENT_IP=10.0.0.2
		;;
	double)
		topo_nx nat ip addr add 203.0.113.1/24 dev wan0
		topo_link nat lan0 nat2 wan0 || return 1
		topo_nx nat ip addr add 10.0.0.1/24 dev lan0
		topo_nx nat2 ip addr add 10.0.0.2/24 dev wan0
		topo_nx nat2 ip route add default via 10.0.0.1
		topo_link nat2 lan0 priv eth0 || return 1
		topo_nx nat2 ip addr add 10.1.0.1/24 dev lan0
		topo_nx priv ip addr add 10.1.0.2/24 dev eth0
		topo_nx priv ip route add default via 10.1.0.1
		topo_nx nat sysctl -qw net.ipv4.ip_forward=1
		topo_nx nat2 sysctl -qw net.ipv4.ip_forward=1
		topo_nat_rules nat 10.0.0.0/24 20000-29999 || return 1
		topo_nat_rules nat2 10.1.0.0/24 40000-49999 || return 1
		CLIENT_IP=10.1.0.2
		;;
	esac
	return 0
}

topo_down() {
	local ns
	for ns in "${TOPO_NS[@]}"; do
		ip netns del "$ns" 2>/dev/null
	done
	TOPO_NS=()
}

# topo_rebind PORT: forget the outer NAT's mapping of the client's UDP flows
# from PORT; the next packet leaves with a new random public port.
topo_rebind() {
	topo_nx nat conntrack -D -p udp -s 10.0.0.2 --sport "$1" 2>&1
}

# topo_forward_sip: 203.0.113.1:5062 -> 10.0.0.2:5060 (UDP, SIP only), so
# the gateway can INVITE the client behind the NAT.
topo_forward_sip() {
	topo_nx nat nft add rule ip nat prerouting iifname wan0 udp dport 5062 dnat to 10.0.0.2:5060
}

# topo_conntrack: the NAT's UDP entries (for the logs).
topo_conntrack() {
	topo_nx nat conntrack -L -p udp 2>/dev/null
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	case "${1:-}" in
	up)
		topo_up "${2:?prefix}" "${3:-single}" || { topo_down; exit 1; }
		echo "up: ${TOPO_NS[*]} (client $CLIENT_IP)"
		;;
	down)
		for ns in $(ip netns list | awk '{print $1}' | grep "^${2:?prefix}-"); do
			ip netns del "$ns"
		done
		;;
	*)
		echo "usage: $0 up PREFIX single|double|asym | down PREFIX" >&2
		exit 2
		;;
	esac
fi
