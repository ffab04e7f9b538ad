#!/usr/bin/env bash
# record.sh - record pcapsleuth's real captures on real Linux TCP stacks.
#
# Usage (as root, from anywhere):  testdata/record/record.sh [OUTDIR] [SCENARIO...]
#   OUTDIR defaults to testdata/captures; SCENARIO names are listed in ALL below.
#
# Creates two network namespaces joined by a veth pair (client side
# 10.99.0.1 and 10.99.0.9, server side 10.99.0.2), runs tiny Python peers
# (peers.py) in them, captures on the server's veth with
#   tcpdump -i psl-s0 -s 0 -U --immediate-mode -w FILE tcp
# (--immediate-mode: without it, packets still in the kernel's capture ring
# when tcpdump is stopped are lost)
# and removes everything on exit. No traffic leaves the namespaces.
# Needs: ip (iproute2), tcpdump, python3 (3.11), openssl for the TLS capture.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${1:-$HERE/../captures}
shift || true
ALL=(keepalive server-close rst-linger0 close-wait-leak idle-timeout-client-closewait data-after-fin-rst tls-handshake demo tunnels tunnels-any)
SCEN=("$@")
[ ${#SCEN[@]} -eq 0 ] && SCEN=("${ALL[@]}")

NS_C=psl-rec-c NS_S=psl-rec-s
VC=psl-c0 VS=psl-s0
C_IP=10.99.0.1 HC_IP=10.99.0.9 S_IP=10.99.0.2
PEERS="$HERE/peers.py"
WORK=$(mktemp -d)
PIDS=()

cleanup() {
	local rc=$?
	if [ $rc -ne 0 ]; then
		echo "record.sh failed ($rc); logs:" >&2
		tail -n 30 "$WORK"/*.log >&2 2>/dev/null || true
	fi
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	ip netns del $NS_C 2>/dev/null || true
	ip netns del $NS_S 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT

inc() { ip netns exec $NS_C "$@"; }
ins() { ip netns exec $NS_S "$@"; }

setup() {
	ip netns del $NS_C 2>/dev/null || true
	ip netns del $NS_S 2>/dev/null || true
	ip netns add $NS_C
	ip netns add $NS_S
	ip link add $VC netns $NS_C type veth peer name $VS netns $NS_S
	ip -n $NS_C addr add $C_IP/24 dev $VC
	ip -n $NS_C addr add $HC_IP/24 dev $VC
	ip -n $NS_S addr add $S_IP/24 dev $VS
	for ns in $NS_C $NS_S; do ip -n $ns link set lo up; done
	ip -n $NS_C link set $VC up
	ip -n $NS_S link set $VS up
	# resolve neighbours now so the first SYN is not delayed by ARP
	inc ping -c 1 -W 2 $S_IP >/dev/null 2>&1 || true
	inc ping -c 1 -W 2 -I $HC_IP $S_IP >/dev/null 2>&1 || true
}

# start_capture FILE [SNAPLEN [FILTER [INTERFACE]]]: tcpdump on the server's
# veth (or INTERFACE); sets CAP_PID.
start_capture() {
	local file=$1 snap=${2:-0} filter=${3:-tcp} iface=${4:-$VS}
	rm -f "$file"
	# not through ins(): $! must be tcpdump itself (ip netns exec execs it)
	ip netns exec $NS_S tcpdump -i "$iface" -s "$snap" -U --immediate-mode -w "$file" "$filter" 2>"$WORK/tcpdump.$snap.log" &
	CAP_PID=$!
	PIDS+=("$CAP_PID")
	for _ in $(seq 100); do
		grep -q "listening on" "$WORK/tcpdump.$snap.log" 2>/dev/null && return 0
		sleep 0.05
	done
	echo "tcpdump did not start" >&2
	cat "$WORK/tcpdump.$snap.log" >&2
	return 1
}

stop_capture() { # PID
	sleep 1
	kill -TERM "$1" # background jobs ignore SIGINT; tcpdump flushes on SIGTERM too
	wait "$1" 2>/dev/null || true
}

# start_server PORT ARGS...: sets SRV_PID.
start_server() {
	local port=$1
	shift
	ip netns exec $NS_S python3 "$PEERS" server --addr $S_IP:"$port" "$@" 2>>"$WORK/server.log" >/dev/null &
	SRV_PID=$!
	PIDS+=("$SRV_PID")
	for _ in $(seq 100); do
		ins ss -Hltn "sport = :$port" | grep -q LISTEN && return 0
		sleep 0.05
	done
	echo "server did not start" >&2
	cat "$WORK/server.log" >&2
	return 1
}

client() { ip netns exec $NS_C python3 "$PEERS" "$@" 2>>"$WORK/client.log" >/dev/null; }

stop() { for p in "$@"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; }

note_sockets() { # what the kernels hold at capture end, for the README
	echo "  server sockets: $(ins ss -Htan state all "( sport = :$1 )" | awk '{print $1}' | sort | uniq -c | tr -s ' ' | tr '\n' ';')"
	echo "  client sockets: $(inc ss -Htan state all "( dport = :$1 )" | awk '{print $1}' | sort | uniq -c | tr -s ' ' | tr '\n' ';')"
}

rec_keepalive() { # (1) + (7): 3 requests on one keep-alive connection, client closes
	start_capture "$OUT/real-http-keepalive.pcap"
	local full=$CAP_PID
	start_capture "$OUT/real-http-keepalive-s96.pcap" 96
	local s96=$CAP_PID
	start_server 8081 --body-repeat 40
	client client --addr $S_IP:8081 --src $C_IP --sport 40001 --requests 3 --interval 0.2
	stop_capture "$full"
	stop_capture "$s96"
	stop "$SRV_PID"
}

rec_server_close() { # (2): the server closes first (the 2nd request says Connection: close)
	start_capture "$OUT/real-server-close.pcap"
	local cap=$CAP_PID
	start_server 8082
	client client --addr $S_IP:8082 --src $C_IP --sport 40011 --requests 2 --interval 0.1 --ask-close
	stop_capture "$cap"
	stop "$SRV_PID"
}

rec_rst_linger0() { # (3): the server resets the connection (SO_LINGER 0)
	start_capture "$OUT/real-rst-linger0.pcap"
	local cap=$CAP_PID
	start_server 8083 --linger0
	client client --addr $S_IP:8083 --src $C_IP --sport 40021 --requests 1 --hold 0.5 || true
	stop_capture "$cap"
	stop "$SRV_PID"
}

rec_close_wait_leak() { # (4): the server never closes after the client's FIN
	start_capture "$OUT/real-close-wait-leak.pcap"
	local cap=$CAP_PID
	start_server 8084 --leak-on-eof --leak-max 2
	client client --addr $S_IP:8084 --src $C_IP --sport 40031 --conns 2 --requests 1 --gap 0.3
	sleep 2
	# a healthy connection 2 s later: the capture goes on while the leak stays
	client client --addr $S_IP:8084 --src $C_IP --sport 40035 --requests 1
	sleep 0.5
	note_sockets 8084
	stop_capture "$cap"
	stop "$SRV_PID"
}

rec_idle_timeout() { # (5): 2 s idle timeout; the client leaves its socket in CLOSE_WAIT
	start_capture "$OUT/real-idle-timeout-client-closewait.pcap"
	local cap=$CAP_PID
	start_server 8085 --idle-timeout 2
	ip netns exec $NS_C python3 "$PEERS" client --addr $S_IP:8085 --src $C_IP --sport 40041 --requests 2 --interval 0.3 --hold 30 2>>"$WORK/client.log" >/dev/null &
	local cl=$!
	PIDS+=("$cl")
	sleep 5.5
	# another, short connection: the capture goes on 3 s after the server's FIN
	client client --addr $S_IP:8085 --src $C_IP --sport 40045 --requests 1
	sleep 0.5
	note_sockets 8085
	stop_capture "$cap"
	stop "$cl" "$SRV_PID"
}

rec_data_after_fin() { # (6): the server closes at once; the client writes after its FIN
	start_capture "$OUT/real-data-after-fin-rst.pcap"
	local cap=$CAP_PID
	start_server 8086 --close-immediately
	client write-after-fin --addr $S_IP:8086 --src $C_IP --sport 40051 --delay 0.5
	stop_capture "$cap"
	stop "$SRV_PID"
}

rec_tls() { # (8): a short TLS handshake and one request
	command -v openssl >/dev/null || { echo "no openssl: skipping tls-handshake" >&2; return 0; }
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
		-subj /CN=pcapsleuth.test -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
	start_capture "$OUT/real-tls-handshake.pcap"
	local cap=$CAP_PID
	start_server 8443 --tls-cert "$WORK/cert.pem" --tls-key "$WORK/key.pem"
	client client --addr $S_IP:8443 --src $C_IP --sport 40061 --requests 1 --tls
	stop_capture "$cap"
	stop "$SRV_PID"
}

rec_demo() { # demo: healthy keep-alive traffic + a health checker whose probes leak
	start_capture "$OUT/demo.pcap"
	local cap=$CAP_PID
	# From the checker's 9th probe on, the sockets the acceptor takes are never
	# registered (incident 001): the checker's FIN is ACKed by the kernel only.
	start_server 8080 --leak-after-count 8 --leak-from $HC_IP --body-repeat 3
	ip netns exec $NS_C python3 "$PEERS" app --addr $S_IP:8080 --src $C_IP --sport 41001 --conns 2 --interval 0.4 --duration 9 2>>"$WORK/client.log" >/dev/null &
	local app=$!
	PIDS+=("$app")
	ip netns exec $NS_C python3 "$PEERS" probe --addr $S_IP:8080 --src $HC_IP --sport 50001 --count 18 --interval 0.5 2>>"$WORK/client.log" >/dev/null &
	local hc=$!
	PIDS+=("$hc")
	sleep 0.3
	client client --addr $S_IP:8080 --src $C_IP --sport 41011 --conns 3 --requests 1 --gap 0.3
	wait "$app" "$hc" || true
	sleep 0.5
	note_sockets 8080
	stop_capture "$cap"
	stop "$SRV_PID"
}

rec_tunnels() { # FILE [FILTER [INTERFACE]]: TCP inside the tunnels of mirrored and cloud captures, seen on the underlay
	local file=${1:-$OUT/real-tunnels.pcap} filter=${2:-"udp port 4789 or udp port 6081 or udp port 8472 or ip proto 47"} iface=${3:-$VS}
	# Up to five tunnels over the veth pair, each with inner addresses of its
	# own: VXLAN (AWS Traffic Mirroring), Geneve (AWS Gateway Load Balancer),
	# ERSPAN types II and III (switch port mirrors), VXLAN on Linux's port
	# 8472 (flannel, Cilium). A kernel without one of these device types (a
	# minimal VM's) skips it, and says so.
	local i t made=()
	for i in 1 2 3 4 5; do
		local c=10.98.$i.1 sv=10.98.$i.2 dev=psl-t$i cargs sargs
		case $i in
		1) t=vxlan cargs="type vxlan id 42 local $C_IP remote $S_IP dstport 4789" sargs="type vxlan id 42 local $S_IP remote $C_IP dstport 4789" ;;
		2) t=geneve cargs="type geneve id 7 remote $S_IP" sargs="type geneve id 7 remote $C_IP" ;;
		3) t=erspan-II cargs="type erspan local $C_IP remote $S_IP seq key 10 erspan_ver 1 erspan 100" sargs="type erspan local $S_IP remote $C_IP seq key 10 erspan_ver 1 erspan 100" ;;
		4) t=erspan-III cargs="type erspan local $C_IP remote $S_IP seq key 11 erspan_ver 2 erspan_dir ingress erspan_hwid 7" sargs="type erspan local $S_IP remote $C_IP seq key 11 erspan_ver 2 erspan_dir ingress erspan_hwid 7" ;;
		5) t=vxlan-8472 cargs="type vxlan id 1 local $C_IP remote $S_IP dstport 8472" sargs="type vxlan id 1 local $S_IP remote $C_IP dstport 8472" ;;
		esac
		# shellcheck disable=SC2086 # the arguments are words on purpose
		if ! inc ip link add $dev $cargs 2>/dev/null || ! ins ip link add $dev $sargs 2>/dev/null; then
			echo "  $t: this kernel has no such device; skipped"
			inc ip link del $dev 2>/dev/null || true
			continue
		fi
		inc ip addr add $c/24 dev $dev
		ins ip addr add $sv/24 dev $dev
		inc ip link set $dev up
		ins ip link set $dev up
		inc ping -c 1 -W 2 $sv >/dev/null 2>&1 || true
		made+=("$i")
		echo "  $t: 10.98.$i.1 -> 10.98.$i.2:8090"
	done
	[ ${#made[@]} -gt 0 ] || { echo "no tunnel device available: skipping tunnels" >&2; return 0; }
	start_capture "$file" 0 "$filter" "$iface"
	local cap=$CAP_PID
	start_server 8090 --addr 0.0.0.0:8090
	for i in "${made[@]}"; do
		client client --addr 10.98.$i.2:8090 --src 10.98.$i.1 --sport $((40070 + i)) --requests 2 --interval 0.1
	done
	stop_capture "$cap"
	stop "$SRV_PID"
	for i in "${made[@]}"; do
		inc ip link del psl-t$i 2>/dev/null || true
		ins ip link del psl-t$i 2>/dev/null || true
	done
}

mkdir -p "$OUT"
setup
echo "kernel $(uname -r); tcpdump $(tcpdump --version 2>&1 | head -1); $(python3 --version)"
for s in "${SCEN[@]}"; do
	echo "== $s"
	case $s in
	keepalive) rec_keepalive ;;
	server-close) rec_server_close ;;
	rst-linger0) rec_rst_linger0 ;;
	close-wait-leak) rec_close_wait_leak ;;
	idle-timeout-client-closewait) rec_idle_timeout ;;
	data-after-fin-rst) rec_data_after_fin ;;
	tls-handshake) rec_tls ;;
	demo) rec_demo ;;
	tunnels) rec_tunnels ;;
	tunnels-any) # the same on `tcpdump -i any`, as on a Kubernetes node: every
		# segment twice, in its tunnel on the veth and plain on the tunnel device
		rec_tunnels "$OUT/real-tunnels-any.pcap" "tcp or udp port 4789 or udp port 6081 or udp port 8472 or ip proto 47" any ;;
	*) echo "unknown scenario $s (want one of: ${ALL[*]})" >&2; exit 2 ;;
	esac
done
# tcpdump drops privileges: give the files the output directory's owner
chown --reference="$OUT" "$OUT"/real-*.pcap "$OUT"/demo.pcap 2>/dev/null || true
echo "== logs"
cat "$WORK/server.log" "$WORK/client.log" 2>/dev/null | sed 's/^/  /' | tail -n 80
ls -l "$OUT"/real-*.pcap "$OUT"/demo.pcap 2>/dev/null || true
