#!/usr/bin/env bash
# record.sh - record the transport detectors' real-stack captures.
#
# Usage (as root):  detectors/testdata/transport/record/record.sh [SCENARIO...]
# Writes detectors/testdata/transport/real-NAME.pcap (headers only, -s 96, to
# stay small). Scenarios: loss rto tso zero-window backlog (all by default).
#
# Three network namespaces: client trrec-c (10.98.11.2) - router trrec-r
# (10.98.11.1 / 10.98.12.1) - server trrec-s (10.98.12.2), joined by veth pairs
# (TSO/GSO on, as veth has by default). The kernel has no netem: loss is
# iptables' statistic match in the router, a blackout a DROP rule added and
# removed. tcpdump runs on the server's veth (the sender of the bulk data),
# except where a scenario says otherwise. No traffic leaves the namespaces.
# Needs: ip, iptables, tcpdump, python3, ethtool.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
OUT=$HERE/..
ALL=(loss rto tso zero-window backlog)
SCEN=("$@")
[ ${#SCEN[@]} -eq 0 ] && SCEN=("${ALL[@]}")

C=trrec-c R=trrec-r S=trrec-s
C_IP=10.98.11.2 S_IP=10.98.12.2
PEERS="$HERE/peers.py"
WORK=$(mktemp -d)
PIDS=()
CAPS=()

cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	for ns in $C $R $S; do ip netns del $ns 2>/dev/null || true; done
	rm -rf "$WORK"
}
trap cleanup EXIT

setup() {
	for ns in $C $R $S; do ip netns del $ns 2>/dev/null || true; ip netns add $ns; done
	ip link add trc0 netns $C type veth peer name trr0 netns $R
	ip link add trs0 netns $S type veth peer name trr1 netns $R
	ip -n $C addr add $C_IP/24 dev trc0
	ip -n $R addr add 10.98.11.1/24 dev trr0
	ip -n $R addr add 10.98.12.1/24 dev trr1
	ip -n $S addr add $S_IP/24 dev trs0
	for ns in $C $R $S; do ip -n $ns link set lo up; done
	ip -n $C link set trc0 up
	ip -n $S link set trs0 up
	ip -n $R link set trr0 up
	ip -n $R link set trr1 up
	ip -n $C route add default via 10.98.11.1
	ip -n $S route add default via 10.98.12.1
	ip netns exec $R sysctl -qw net.ipv4.ip_forward=1
	ip netns exec $C ping -c 1 -W 2 $S_IP >/dev/null 2>&1 || true
}

start_capture() { # NS IFACE FILE
	rm -f "$3"
	ip netns exec "$1" tcpdump -i "$2" -s 96 -U -w "$3" tcp 2>"$WORK/tcpdump-$(basename "$3").log" &
	local pid=$!
	PIDS+=("$pid")
	CAPS+=("$pid")
	for _ in $(seq 100); do
		grep -q "listening on" "$WORK/tcpdump-$(basename "$3").log" 2>/dev/null && return 0
		sleep 0.05
	done
	echo "tcpdump did not start" >&2
	return 1
}

stop_captures() {
	sleep 0.7 # let tcpdump drain the kernel's buffer
	for p in "${CAPS[@]}"; do kill -TERM "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
	CAPS=()
}

server() { # PORT SUBCOMMAND ARGS...
	local port=$1
	shift
	ip netns exec $S python3 "$PEERS" "$@" --addr $S_IP:"$port" 2>>"$WORK/server.log" &
	SRV=$!
	PIDS+=("$SRV")
	for _ in $(seq 100); do
		ip netns exec $S ss -Hltn "sport = :$port" | grep -q LISTEN && return 0
		sleep 0.05
	done
	echo "server did not start" >&2
	cat "$WORK/server.log" >&2
	return 1
}

client() { ip netns exec $C python3 "$PEERS" "$@" 2>>"$WORK/client.log" || { cat "$WORK/client.log" >&2; return 1; }; }

stop() { for p in "$@"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; }

rtr() { ip netns exec $R iptables "$@"; }

rec_loss() { # 4 % random loss of the server's packets, two 250 KB downloads, TSO/GSO off
	ip netns exec $S ethtool -K trs0 tso off gso off >/dev/null
	start_capture $S trs0 "$OUT/real-loss.pcap"
	server 9201 source --bytes 250000
	rtr -A FORWARD -i trr1 -m statistic --mode random --probability 0.04 -j DROP
	client fetch --addr $S_IP:9201 --src $C_IP --sport 46100 --count 2 --gap 0.2
	rtr -D FORWARD -i trr1 -m statistic --mode random --probability 0.04 -j DROP
	stop_captures
	stop "$SRV"
	ip netns exec $S ethtool -K trs0 tso on gso on >/dev/null
}

rec_rto() { # the path goes dark mid-response: once for 2.5 s (recovers), once for good
	start_capture $S trs0 "$OUT/real-rto.pcap"
	server 9202 source --bytes 40000 --delay 1.5
	client fetch --addr $S_IP:9202 --src $C_IP --sport 46200 --count 1 &
	local cl=$!
	PIDS+=("$cl")
	sleep 1.0 # connected, request sent; the response leaves at 1.5 s
	rtr -A FORWARD -i trr1 -j DROP
	sleep 2.5
	rtr -D FORWARD -i trr1 -j DROP
	wait "$cl" || true
	client fetch --addr $S_IP:9202 --src $C_IP --sport 46201 --count 1 &
	cl=$!
	PIDS+=("$cl")
	sleep 1.0
	rtr -A FORWARD -i trr1 -j DROP
	sleep 5
	stop_captures
	rtr -D FORWARD -i trr1 -j DROP
	stop "$cl" "$SRV"
}

rec_tso() { # one download, captured on the sender (TSO) and on the receiver (GRO)
	# The router cuts the server's super-segments into MSS-sized packets
	# (its client-side veth has TSO/GSO off); the client's veth merges them
	# again with GRO before its capture point.
	ip netns exec $R ethtool -K trr0 tso off gso off >/dev/null
	ip netns exec $C ethtool -K trc0 gro on >/dev/null
	start_capture $S trs0 "$OUT/real-tso-sender.pcap"
	start_capture $C trc0 "$OUT/real-tso-receiver.pcap"
	server 9203 source --bytes 400000
	client fetch --addr $S_IP:9203 --src $C_IP --sport 46300 --count 1
	stop_captures
	stop "$SRV"
	ip netns exec $R ethtool -K trr0 tso on gso on >/dev/null
	ip netns exec $C ethtool -K trc0 gro off >/dev/null
}

rec_zero_window() { # a client with a 4 KiB receive buffer stops reading for 2 s
	start_capture $S trs0 "$OUT/real-zero-window.pcap"
	server 9204 source --bytes 200000
	client slowread --addr $S_IP:9204 --src $C_IP --sport 46400 --rcvbuf 4096 --pause 2
	stop_captures
	stop "$SRV"
}

rec_backlog() { # backlog 1, never accepts; six clients 0.3 s apart
	start_capture $S trs0 "$OUT/real-backlog.pcap"
	server 9205 noaccept --backlog 1 --hold 30
	client connect --addr $S_IP:9205 --src $C_IP --sport 46500 --count 6 --gap 0.3 --timeout 2.5
	stop_captures
	stop "$SRV"
}

setup
for s in "${SCEN[@]}"; do
	echo "recording $s" >&2
	"rec_${s//-/_}"
done
ls -l "$OUT"/real-*.pcap >&2
