#!/usr/bin/env bash
# record.sh - record the teardown detectors' real-stack captures.
#
# Usage (as root, from anywhere):  detectors/testdata/record/record.sh [SCENARIO...]
# Writes detectors/testdata/real/NAME.pcap. SCENARIO names are listed in ALL.
#
# Three network namespaces: clients (10.98.1.2, checker 10.98.1.3) - router
# (10.98.1.1 / 10.98.2.1, conntrack with 2 s closing-state timeouts) - server
# (10.98.2.2). tcpdump runs on the server's veth, as in the lab set, so TSO
# super-segments appear in the server's writes. The parameters differ from the
# lab set's on purpose (ports, intervals, timeouts, counts): the detectors must
# find the patterns, not the files. No traffic leaves the namespaces.
# Needs: ip, iptables, tcpdump, python3 (3.11), openssl.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
OUT=$HERE/../real
ALL=(healthcheck keepalive stale-reuse tls blackhole upstream-rst healthy)
SCEN=("$@")
[ ${#SCEN[@]} -eq 0 ] && SCEN=("${ALL[@]}")

C=tdrec-c R=tdrec-r S=tdrec-s
C_IP=10.98.1.2 HC_IP=10.98.1.3 S_IP=10.98.2.2
PEERS="$HERE/peers.py"
WORK=$(mktemp -d)
PIDS=()

cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	for ns in $C $R $S; do ip netns del $ns 2>/dev/null || true; done
	rm -rf "$WORK"
}
trap cleanup EXIT
[ -n "${TDREC_DEBUG:-}" ] && trap 'cat "$WORK"/client.log "$WORK"/server.log >&2; cleanup' EXIT

setup() {
	for ns in $C $R $S; do ip netns del $ns 2>/dev/null || true; ip netns add $ns; done
	ip link add tdc0 netns $C type veth peer name tdr0 netns $R
	ip link add tds0 netns $S type veth peer name tdr1 netns $R
	ip -n $C addr add $C_IP/24 dev tdc0
	ip -n $C addr add $HC_IP/24 dev tdc0
	ip -n $R addr add 10.98.1.1/24 dev tdr0
	ip -n $R addr add 10.98.2.1/24 dev tdr1
	ip -n $S addr add $S_IP/24 dev tds0
	for ns in $C $R $S; do ip -n $ns link set lo up; done
	ip -n $C link set tdc0 up
	ip -n $S link set tds0 up
	ip -n $R link set tdr0 up
	ip -n $R link set tdr1 up
	ip -n $C route add default via 10.98.1.1
	ip -n $S route add default via 10.98.2.1
	ip netns exec $R sysctl -qw net.ipv4.ip_forward=1
	ip netns exec $R sysctl -qw net.netfilter.nf_conntrack_tcp_loose=0
	for t in close_wait fin_wait last_ack time_wait close; do
		ip netns exec $R sysctl -qw net.netfilter.nf_conntrack_tcp_timeout_$t=2
	done
	ip netns exec $C ping -c 1 -W 2 $S_IP >/dev/null 2>&1 || true
	ip netns exec $C ping -c 1 -W 2 -I $HC_IP $S_IP >/dev/null 2>&1 || true
}

# blackhole on|off: the router drops packets conntrack calls INVALID (after a
# closing connection's entry expired) and non-SYN packets of unknown flows.
blackhole() {
	local op=-D
	[ "$1" = on ] && op=-A
	ip netns exec $R iptables $op FORWARD -m conntrack --ctstate INVALID -j DROP 2>/dev/null || true
	ip netns exec $R iptables $op FORWARD -p tcp ! --syn -m conntrack --ctstate NEW -j DROP 2>/dev/null || true
}

start_capture() { # FILE
	rm -f "$1"
	ip netns exec $S tcpdump -i tds0 -s 0 -U -w "$1" tcp 2>"$WORK/tcpdump.log" &
	CAP=$!
	PIDS+=("$CAP")
	for _ in $(seq 100); do
		grep -q "listening on" "$WORK/tcpdump.log" 2>/dev/null && return 0
		sleep 0.05
	done
	echo "tcpdump did not start" >&2
	return 1
}

# stop_capture lets tcpdump drain the kernel's buffer first: on a busy machine
# it lags behind, and packets still queued when it exits are lost.
stop_capture() {
	sleep 0.7
	kill -TERM "$CAP"
	wait "$CAP" 2>/dev/null || true
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

rec_healthcheck() { # probes every 0.3 s; from the 6th accept on the server never closes
	start_capture "$OUT/real-healthcheck.pcap"
	server 9181 srv-probes --leak-from 6
	client probe --addr $S_IP:9181 --src $HC_IP --sport 52000 --count 12 --interval 0.3
	sleep 0.1
	stop_capture
	stop "$SRV"
}

rec_keepalive() { # 1.5 s idle timeout; the client holds its sockets; capture stops early
	start_capture "$OUT/real-keepalive-young.pcap"
	server 9183 srv-keepalive --idle 1.5
	client hold --addr $S_IP:9183 --src $C_IP --sport 43500 --plan 0:1:0,0.3:2:0.5,0.6:1:0 --hold 30 &
	local cl=$!
	PIDS+=("$cl")
	sleep 3.6 # the client must not exit (and close its sockets) before the capture stops
	stop_capture
	stop "$cl" "$SRV"
}

rec_stale_reuse() { # 0.8 s idle timeout; the pool reuses 0.5, 1.0 and 1.8 s after the FIN
	start_capture "$OUT/real-stale-reuse.pcap"
	server 9184 srv-keepalive --idle 0.8
	client pool --addr $S_IP:9184 --src $C_IP --sport 44500 --reuse 1.3,1.8,2.6 --stagger 0.2
	sleep 0.2
	stop_capture
	stop "$SRV"
}

rec_tls() { # accepts 2 and 4 never start the handshake; clients give up after 1 s
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
		-subj /CN=rec.test -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
	start_capture "$OUT/real-tls-abandoned.pcap"
	server 9443 srv-tls --cert "$WORK/cert.pem" --key "$WORK/key.pem" --stall 2,4
	client tls --addr $S_IP:9443 --src $C_IP --sport 47500 --count 5 --interval 0.2 --timeout 1
	sleep 0.6
	stop_capture
	stop "$SRV"
}

rec_blackhole() { # LB timeout 1 s; backend writes 0.9, 1.4, 2.6, 3.4 s after the FIN; window 2 s
	blackhole on
	start_capture "$OUT/real-blackhole.pcap"
	server 9185 srv-slow --delays 1.9,2.4,3.6,4.4 --size 3000
	client lb --addr $S_IP:9185 --src $C_IP --sport 45500 --starts 0,0.25,0.5,0.75 --timeout 1
	sleep 5
	stop_capture
	stop "$SRV"
	blackhole off
}

rec_upstream_rst() { # the backend never answers; the proxy aborts with RST after 1.3 s
	start_capture "$OUT/real-upstream-rst.pcap"
	server 9186 srv-slow --never
	client lb --addr $S_IP:9186 --src $C_IP --sport 46500 --starts 0,0.2,0.4 --timeout 1.3 --rst
	sleep 0.2
	stop_capture
	stop "$SRV"
}

rec_healthy() { # keep-alive requests, graceful closes, no findings expected
	start_capture "$OUT/real-healthy.pcap"
	server 9180 srv-keepalive --idle 30
	client healthy --addr $S_IP:9180 --src $C_IP --sport 48500 --conns 4 --requests 3 --interval 0.05
	sleep 0.2
	stop_capture
	stop "$SRV"
}

mkdir -p "$OUT"
echo "kernel $(uname -r); $(tcpdump --version 2>&1 | head -1); $(python3 --version)"
for s in "${SCEN[@]}"; do
	echo "recording $s"
	setup # fresh namespaces: nothing of the previous scenario lingers
	"rec_${s//-/_}"
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	PIDS=()
done
ls -l "$OUT"
