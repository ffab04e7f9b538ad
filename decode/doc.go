// Package decode reads packet captures and decodes their frames into the
// compact Packet record that the connection tracker consumes.
//
// It has two halves: a Reader that turns a byte stream (pcap or pcapng,
// optionally gzip or zstd compressed) into Frames, and a Decoder that
// turns a Frame into a Packet when it holds a TCP segment. Both are
// written for the hot path: after warm-up neither allocates per frame,
// and Frame.Data and Packet.Payload alias the Reader's buffer instead of
// copying it.
//
// # Reading captures
//
// Open a file (or "-" for standard input) and loop over Next:
//
//	r, err := decode.Open(path, decode.ReaderOptions{})
//	if err != nil {
//		return fmt.Errorf("read capture: %w", err)
//	}
//	defer r.Close()
//	var f decode.Frame
//	for {
//		err := r.Next(&f)
//		if err == io.EOF {
//			break
//		}
//		if err != nil {
//			return err // a *decode.ReadError; all frames before it were delivered
//		}
//		// use f; f.Data is valid until the next call to Next
//	}
//
// NewReader detects the format from the first bytes of the stream, never
// from the file name: the gzip and zstd magic numbers first, then the pcap
// magic numbers (both byte orders; microsecond, nanosecond and Kuznetsov's
// modified pcap) or the pcapng Section Header Block. Anything else is
// refused with an error wrapping ErrNotCapture. The input is read as a
// stream through one 256 KiB buffer and never seeked, so pipes work.
//
// For pcapng the Reader follows several sections (each may switch the byte
// order) and all Interface Description Blocks, with their link types,
// snaplens, if_tsresol (base 10 and base 2) and if_tsoffset. It delivers
// Enhanced, Simple and obsolete Packet Blocks as frames, records isb_ifdrop
// from Interface Statistics Blocks in Info, and skips every other block
// (name resolution, decryption secrets, custom, unknown) by its length.
// A packet naming an interface its section lacks is still delivered, with
// Frame.Iface -1 and LinkType LinkTypeUnknown, so that no packet is lost
// silently.
//
// A capture that is cut off or damaged makes Next return a *ReadError
// once every complete frame before the fault has been delivered. The error
// gives the offset of the bad record in the decompressed stream and the
// number of frames read, and wraps ErrTruncated (the input ends inside a
// record or block, or the compressed stream is cut), ErrCorrupt
// (inconsistent lengths, a length over ReaderOptions.MaxRecord, a damaged
// compressed stream) or ErrUnsupported (pcap major version other than 2,
// pcapng section version other than 1.0 or 1.2). Next keeps returning the
// same error afterwards.
//
// # Decoding frames
//
// A Decoder fills a Packet in place from a Frame:
//
//	d := decode.NewDecoder()
//	var p decode.Packet
//	if d.Decode(&f, &p) {
//		// p holds a TCP segment
//	}
//
// The decoder understands these link types: Ethernet (with any number of
// 802.1Q/802.1ad/QinQ tags, PPPoE sessions, MPLS label stacks and
// LLC/SNAP), Linux cooked captures v1 and v2, raw IP (LINKTYPE_RAW and the
// DLT_RAW values 12 and 14, IPv4-only, IPv6-only), BSD NULL and LOOP in
// either byte order with the IPv6 address families of Linux, the BSDs,
// Darwin and Windows, PPP and PPP in HDLC framing (and Cisco HDLC), Linux
// ARCNET, and NFLOG. Above the link layer it follows IPv4 (with options)
// and IPv6 (with hop-by-hop, routing, destination options, fragment and
// authentication headers), and the tunnels IP-in-IP, GRE (including
// PPTP's enhanced GRE carrying PPP, and ERSPAN types I, II and III),
// GTP-U, VXLAN (on 4789, and on Linux's 8472 with a stricter header check)
// and Geneve; the innermost TCP segment wins.
//
// Lengths come from the IP header, not from the captured bytes: on a
// headers-only capture (tcpdump -s 96) Packet.PayloadLen is the real
// payload length while Packet.Payload holds what was captured, and
// Packet.Truncated is set. Ethernet padding after the IP packet is never
// payload. An IPv4 total length (or IPv6 payload length) of 0, as stacks
// write for TSO, GSO and BIG TCP super-segments, means the frame's own
// length, as in Wireshark.
//
// Every frame is counted in Decoder.Stats under exactly one outcome: TCP,
// NonIP, NonTCP, IPFragments (non-first fragments; a first fragment's TCP
// header is decoded), Malformed, SnapTruncated (headers cut by the
// snaplen) or UnsupportedLink. TCPTruncated further counts the TCP
// segments whose payload was cut.
//
// # Limits
//
// The Reader never allocates from a length it read from the input. A
// record or block longer than ReaderOptions.MaxRecord (64 MiB by default)
// is an error before anything is allocated for it; a record that fits in
// the 256 KiB buffer is returned in place; a longer one is read into a
// record buffer that grows only as its bytes actually arrive, so a cut-off
// file claiming a huge record costs at most twice the bytes it holds. At
// most 65536 pcapng interfaces are accepted. zstd streams are decoded with
// one goroutine and a window of at most 32 MiB, which the zstd decoder
// allocates up front; that covers all compression levels up to --ultra
// -20, and streams made with --long are refused with ErrUnsupported.
//
// Records longer than the file's snaplen are read as long as they fit in
// MaxRecord, where tshark stops at 262144 bytes; a file whose record
// header claims more than what follows still ends in ErrTruncated after
// the frames before it. Timestamps are Unix nanoseconds; values beyond the
// int64 range (after year 2262) saturate instead of wrapping. pcapng Simple
// Packet Blocks have no timestamp and get 0.
//
// The Decoder never panics and never allocates per frame:
// Stats.UnsupportedLink is allocated once, on the first unknown link type.
// Tunnels nest at most 4 deep and IPv6 extension header chains at most 16
// long; deeper packets count as NonTCP or Malformed. TCP options other
// than MSS, window scale (clamped to 14 as RFC 7323 says), SACK-permitted,
// SACK and timestamps are skipped, and a malformed option ends option
// parsing without failing the segment.
//
// Readers and Decoders are not safe for concurrent use; use one of each
// per capture.
package decode
