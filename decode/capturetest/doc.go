// Package capturetest builds small packet captures from a line-oriented text
// script, for tests (cf. net/http/httptest). The captures are real pcap or
// pcapng bytes: frames are serialized with gopacket (FixLengths and
// ComputeChecksums) and written with pcapgo, so every decoder sees exactly
// what it would read from tcpdump.
//
// Package capturetest imports nothing from pcapsleuth, so package decode's own
// tests can use it.
//
// # Script
//
// One statement per line; '#' starts a comment (outside quotes); blank lines
// are ignored. A packet line is
//
//	TIME DIR FLAGS [OPTION...]
//
// for example
//
//	# comment
//	client 10.0.0.1:40000
//	server 10.0.0.2:8080
//	0.000 C>S SYN mss=1460 ws=7 sackok ts
//	0.001 S>C SYN,ACK mss=1412 ws=7
//	0.002 C>S ACK
//	0.010 C>S PSH,ACK data="GET / HTTP/1.1\r\nHost: x\r\n\r\n"
//	0.020 S>C ACK len=1412
//	0.030 S>C ACK len=1412 retrans
//	0.040 S>C ACK len=100 seq=+5000
//	1.000 C>S FIN,ACK
//
// TIME is seconds after the capture start (decimal, up to nanoseconds), or
// +SECONDS after the previous packet line. DIR is C>S (client to server) or
// S>C, optionally followed by @NAME to address connection NAME without
// switching to it. FLAGS is a comma-separated list of SYN, ACK, FIN, RST, PSH,
// URG, ECE, CWR, NS (any case), or "none".
//
// Packet options:
//
//	mss=N ws=N sackok   SYN options (MSS, window scale, SACK permitted)
//	ts                  add a timestamp option (TSval from the packet time,
//	                    TSecr the last TSval received from the peer); once
//	                    both SYNs carried ts, every segment of the
//	                    connection carries one automatically
//	ts=VAL[/ECR]        explicit timestamp values
//	nots                no timestamp option on this segment
//	sack=L-R[,L-R...]   SACK blocks, in the peer's relative sequence numbers
//	data="..."          payload, a Go-quoted string (\r \n \x00 ...)
//	hex=0a0b...         payload given in hex
//	len=N               N payload bytes of filler text (a..z by offset)
//	tls=clienthello     a TLS 1.3 ClientHello record (with sni=NAME, default
//	                    "example.com"); tls=serverhello: ServerHello,
//	                    ChangeCipherSpec and one encrypted record;
//	                    tls=appdata: one application-data record (len=N)
//	retrans             resend the side's previous new segment: same seq and,
//	                    unless len/data is given, same payload
//	retrans=una         resend from the first byte the peer has not ACKed
//	lost                the peer never receives this segment (it is in the
//	                    capture, but the peer's ACKs do not cover it)
//	seq=+N, seq=-N      sequence number N bytes after/before the next one
//	                    (a gap or an overlap)
//	seq=N               relative sequence number N (Wireshark's relative
//	                    seq: the SYN is 0, the first data byte 1)
//	ack=N               relative acknowledgment number (default: everything
//	                    received in order from the peer)
//	rawseq=N rawack=N   absolute numbers
//	win=N               raw window field (default 64240 on SYNs, then 502
//	                    when both SYNs had ws, else 64240)
//	isn=N               this side's initial sequence number; only on the
//	                    side's first segment (e.g. isn=4294967000 to wrap)
//	iface=N             pcapng interface (0 or 1) of this frame
//	caplen=N            truncate this frame to N bytes (keeps wire length)
//	badsum              corrupt the TCP checksum
//
// Sequence and acknowledgment numbers are tracked per connection and side, in
// script order: a segment that carries data, SYN or FIN advances its side's
// next sequence number; ACK numbers acknowledge everything the peer sent that
// arrived in order (lost segments leave a hole until retransmitted). ISNs are
// chosen per connection from its name, deterministically. Frames are written
// in time order (a stable sort), so connections may be written one after the
// other; the header line "unsorted" keeps script order instead.
//
// Statements:
//
//	client ADDR:PORT    client of the current connection (default
//	                    10.0.0.1:40000); IPv6 as [fd00::1]:40000
//	server ADDR:PORT    server of the current connection (default 10.0.0.2:80)
//	conn NAME [client A] [server B] [iface=N]
//	                    create connection NAME (or switch to it when it
//	                    exists); later packet lines belong to it. A new
//	                    connection may reuse an older one's 4-tuple (port
//	                    reuse). The first packet lines, before any conn,
//	                    belong to the connection "default".
//	section             (pcapng) start a new section header block
//
// Whole-capture options, each at most once:
//
//	link ether|vlan [ID]|qinq [OUTER INNER]|sll|sll2|raw|raw4|null|loop
//	link2 TYPE          second interface's link type for pcapng-multi
//	                    (default raw, or ether when link is raw)
//	format pcap|pcap-nano|pcap-be|pcap-nano-be|pcapng|pcapng-multi
//	snaplen N           truncate every frame to N bytes, like tcpdump -s N;
//	                    the wire length stays the original one
//	start EPOCH         Unix time of t=0, e.g. 1700000000.000000 (default)
//	ethpad              pad Ethernet frames to 60 bytes as seen on a wire
//	                    (default: unpadded, as captured on the sending host)
//	unsorted            write frames in script order, not time order
//
// Link types: ether (LINKTYPE_ETHERNET), vlan (802.1Q tag, default ID 100),
// qinq (802.1ad 0x88a8 outer tag 200 then 802.1Q 100), sll (LINKTYPE_LINUX_SLL,
// 113), sll2 (LINKTYPE_LINUX_SLL2, 276), raw (LINKTYPE_RAW, 101, IPv4 or IPv6),
// raw4 (LINKTYPE_IPV4, 228, IPv4 only), null (LINKTYPE_NULL, 0, host-order
// family, little-endian; AF_INET6 as 30) and loop (LINKTYPE_LOOP, 108,
// network-order family; AF_INET6 as 24). Formats: pcap is microsecond
// little-endian (pcapgo.NewWriter), pcap-nano nanosecond (NewWriterNanos),
// -be variants the same in big-endian byte order, pcapng one interface, and
// pcapng-multi two interfaces of different link types (pcapgo's NgWriter
// always writes nanosecond timestamps, if_tsresol 9). A script whose file
// name ends in .pcapng (before .gz/.zst) and that has no format line is
// written as pcapng by WriteFile.
//
// # Txtar
//
// Scenario files (testdata/scenarios/NAME.txtar) hold a "packets" section with
// a script and a "want" section with the expected findings; see LoadTxtar and
// ParseTxtar.
package capturetest
