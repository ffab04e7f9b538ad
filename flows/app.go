package flows

import (
	"bytes"

	"github.com/pcapsleuth/pcapsleuth/decode"
)

// reassembly holds the first bytes of one direction, in sequence order, across
// retransmissions, overlaps and out-of-order arrival, until the sniffers are
// done with them. Only captured bytes are stored: on a headers-only capture
// the prefix stops at the first byte the snaplen cut off.
type reassembly struct {
	buf    []byte
	ranges [8]seqRange // filled [start,end) offsets, sorted, merged
	nr     int
	known  int // length of the contiguous prefix
	proto  appProto
	done   bool
}

type appProto uint8

const (
	protoUnknown appProto = iota
	protoTLS
	protoHTTP
	protoOther
)

const maxLine = 256 // longest request/status line or header value kept

// httpMethods are the request methods recognised at the start of a turn.
var httpMethods = [][]byte{
	[]byte("GET "), []byte("POST "), []byte("PUT "), []byte("HEAD "), []byte("DELETE "),
	[]byte("OPTIONS "), []byte("PATCH "), []byte("CONNECT "), []byte("TRACE "),
}

func isHTTPRequest(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	switch b[0] { // the methods' first letters: most payloads fail here
	case 'G', 'P', 'H', 'D', 'O', 'C', 'T':
	default:
		return false
	}
	for _, m := range httpMethods {
		if bytes.HasPrefix(b, m) {
			return true
		}
	}
	return false
}

func isHTTPResponse(b []byte) bool { return bytes.HasPrefix(b, []byte("HTTP/1.")) }

// httpLine returns the request or status line a payload starts with (b's
// first line, without its line end, at most maxLine bytes); the caller
// checked that it is one (isHTTPRequest, isHTTPResponse).
func httpLine(b []byte) string {
	line := b
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		line = b[:i]
	}
	line = bytes.TrimRight(line, "\r")
	if len(line) > maxLine {
		line = line[:maxLine]
	}
	return string(line)
}

// sniff feeds a payload segment to the direction's reassembly and runs the
// TLS and HTTP sniffers over the contiguous prefix when it grew.
func (c *Conn) sniff(dir Dir, p *decode.Packet, kind SegKind, limit int) {
	if len(p.Payload) == 0 {
		return
	}
	ra := c.app[dir]
	e := c.Endpoint(dir)
	off := int64(SeqDiff(e.ISN+1, p.Seq))
	if ra == nil {
		if c.appDone(dir) {
			return
		}
		if off == 0 && len(p.Payload) >= 8 && !looksLikeApp(p.Payload) {
			c.markAppDone(dir) // neither TLS nor HTTP: nothing to buffer
			return
		}
		ra = &reassembly{}
		c.app[dir] = ra
	}
	if off >= int64(limit) || off+int64(len(p.Payload)) <= 0 {
		return
	}
	data := p.Payload
	if off < 0 {
		data = data[-off:]
		off = 0
	}
	if end := off + int64(len(data)); end > int64(limit) {
		data = data[:int64(limit)-off]
	}
	before := ra.known
	ra.insert(int(off), data)
	if ra.known > before {
		c.runSniffers(dir, ra, p)
	}
	if ra.done || ra.known >= limit {
		c.app[dir] = nil
		c.markAppDone(dir)
	}
}

// appDone and markAppDone use the App fields to remember that a direction
// was fully sniffed, so no buffer is allocated again.
func (c *Conn) appDone(dir Dir) bool { return c.appFlags&(1<<dir) != 0 }
func (c *Conn) markAppDone(dir Dir)  { c.appFlags |= 1 << dir }

// insert copies data at offset off and updates the contiguous prefix.
func (ra *reassembly) insert(off int, data []byte) {
	end := off + len(data)
	if end > len(ra.buf) {
		if end > cap(ra.buf) {
			nb := make([]byte, end, max(end, 2*cap(ra.buf)))
			copy(nb, ra.buf)
			ra.buf = nb
		} else {
			ra.buf = ra.buf[:end]
		}
	}
	copy(ra.buf[off:end], data)
	// merge [off,end) into the sorted range list
	r := seqRange{start: uint32(off), end: uint32(end)}
	out := ra.ranges[:0:0]
	var tmp [9]seqRange
	out = tmp[:0]
	placed := false
	for i := 0; i < ra.nr; i++ {
		x := ra.ranges[i]
		switch {
		case x.end < r.start:
			out = append(out, x)
		case r.end < x.start:
			if !placed {
				out = append(out, r)
				placed = true
			}
			out = append(out, x)
		default:
			r.start, r.end = min(r.start, x.start), max(r.end, x.end)
		}
	}
	if !placed {
		out = append(out, r)
	}
	// keep it sorted (r may belong before elements appended earlier)
	for i := len(out) - 1; i > 0 && out[i].start < out[i-1].start; i-- {
		out[i], out[i-1] = out[i-1], out[i]
	}
	if len(out) > len(ra.ranges) {
		out = out[:len(ra.ranges)] // drop the farthest range; it can come again
	}
	ra.nr = copy(ra.ranges[:], out)
	if ra.nr > 0 && ra.ranges[0].start == 0 {
		ra.known = int(ra.ranges[0].end)
	}
}

// looksLikeApp reports whether a stream's first bytes may be TLS or HTTP.
func looksLikeApp(b []byte) bool {
	return (b[0] >= 20 && b[0] <= 23 && b[1] == 3 && b[2] <= 4) || isHTTPRequest(b) || isHTTPResponse(b)
}

func (c *Conn) runSniffers(dir Dir, ra *reassembly, p *decode.Packet) {
	b := ra.buf[:ra.known]
	if ra.proto == protoUnknown {
		switch {
		case len(b) >= 3 && b[0] >= 20 && b[0] <= 23 && b[1] == 3 && b[2] <= 4:
			ra.proto = protoTLS
		case len(b) >= 8 && (isHTTPRequest(b) || isHTTPResponse(b)):
			ra.proto = protoHTTP
		case len(b) >= 8:
			ra.proto = protoOther
			ra.done = true
			return
		default:
			return
		}
	}
	switch ra.proto {
	case protoTLS:
		ra.done = sniffTLS(&c.appRecord().TLS, dir, b, p.TS, p.Frame)
	case protoHTTP:
		ra.done = sniffHTTP(&c.appRecord().HTTP, dir, b)
	}
}

// sniffHTTP parses the request or status line and the Host and Connection
// headers. It returns true once the header block is complete.
func sniffHTTP(h *HTTPInfo, dir Dir, b []byte) bool {
	h.Seen = true
	eol := bytes.IndexByte(b, '\n')
	if eol < 0 {
		return false
	}
	line := bytes.TrimRight(b[:eol], "\r")
	if dir == Orig && h.Method == "" {
		parts := bytes.SplitN(line, []byte(" "), 3)
		if len(parts) == 3 {
			h.Method = clip(parts[0])
			h.Target = clip(parts[1])
			h.Version = clip(parts[2])
		}
	}
	if dir == Resp && h.Status == 0 {
		parts := bytes.SplitN(line, []byte(" "), 3)
		if len(parts) >= 2 && len(parts[1]) == 3 {
			st := 0
			for _, d := range parts[1] {
				if d < '0' || d > '9' {
					st = -1
					break
				}
				st = st*10 + int(d-'0')
			}
			if st > 0 {
				h.Status = st
			}
			if len(parts) == 3 {
				h.Reason = clip(parts[2])
			}
		}
	}
	rest := b[eol+1:]
	for len(rest) > 0 {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			return false
		}
		hl := bytes.TrimRight(rest[:i], "\r")
		rest = rest[i+1:]
		if len(hl) == 0 {
			return true
		}
		colon := bytes.IndexByte(hl, ':')
		if colon < 0 {
			continue
		}
		name, val := bytes.TrimSpace(hl[:colon]), bytes.TrimSpace(hl[colon+1:])
		switch {
		case bytes.EqualFold(name, []byte("host")) && dir == Orig && h.Host == "":
			h.Host = clip(val)
		case bytes.EqualFold(name, []byte("connection")) && h.ConnHeader == "":
			h.ConnHeader = clip(val)
		}
	}
	return false
}

func clip(b []byte) string {
	if len(b) > maxLine {
		b = b[:maxLine]
	}
	return string(b)
}

// TLS record and handshake types.
const (
	tlsChangeCipherSpec = 20
	tlsAlert            = 21
	tlsHandshake        = 22
	tlsApplicationData  = 23
	hsClientHello       = 1
	hsServerHello       = 2
)

// sniffTLS walks the TLS records of one direction's prefix and fills info. It
// returns true when nothing more is to be learned from this direction.
func sniffTLS(info *TLSInfo, dir Dir, b []byte, ts, frame int64) bool {
	info.Seen = true
	var hs []byte // handshake stream, possibly spanning records
	off := 0
	for off+5 <= len(b) {
		typ, major := b[off], b[off+1]
		n := int(b[off+3])<<8 | int(b[off+4])
		if typ < 20 || typ > 24 || major != 3 || n > 1<<14+2048 {
			return true // not (or no longer) TLS
		}
		body := b[off+5 : min(off+5+n, len(b))]
		complete := off+5+n <= len(b)
		switch typ {
		case tlsHandshake:
			if len(hs) == 0 && len(body) >= 1 {
				// start of a handshake message visible even when cut short
				switch body[0] {
				case hsClientHello:
					if dir == Orig && info.ClientHelloTS == 0 {
						info.ClientHelloTS, info.ClientHelloFrame = ts, frame
					}
				case hsServerHello:
					if dir == Resp && info.ServerHelloTS == 0 {
						info.ServerHelloTS, info.ServerHelloFrame = ts, frame
					}
				}
			}
			if hs == nil {
				hs = body
			} else {
				hs = append(append([]byte(nil), hs...), body...)
			}
		case tlsAlert:
			if complete && len(body) >= 2 && info.AlertTS == 0 {
				info.AlertTS, info.AlertDir = ts, dir
				info.AlertLevel, info.AlertDescription = body[0], body[1]
			}
		case tlsChangeCipherSpec, tlsApplicationData:
			if info.ServerHelloTS != 0 {
				if dir == Orig {
					info.clientFinished = true
				} else {
					info.serverFinished = true
				}
				info.HandshakeComplete = info.clientFinished && info.serverFinished
			}
			if typ == tlsApplicationData && info.AppDataTS == 0 {
				info.AppDataTS = ts
			}
		}
		if !complete {
			break
		}
		off += 5 + n
	}
	parseHandshakes(info, dir, hs)
	return info.HandshakeComplete || info.AlertTS != 0
}

// parseHandshakes reads ClientHello / ServerHello details from a handshake
// byte stream.
func parseHandshakes(info *TLSInfo, dir Dir, hs []byte) {
	for len(hs) >= 4 {
		typ := hs[0]
		n := int(hs[1])<<16 | int(hs[2])<<8 | int(hs[3])
		if 4+n > len(hs) {
			return
		}
		body := hs[4 : 4+n]
		switch {
		case typ == hsClientHello && dir == Orig && info.ClientVersion == 0:
			parseHello(info, body, true)
		case typ == hsServerHello && dir == Resp && info.ServerVersion == 0:
			parseHello(info, body, false)
		}
		hs = hs[4+n:]
	}
}

// parseHello reads the version, SNI and supported_versions of a hello.
func parseHello(info *TLSInfo, b []byte, client bool) {
	r := byteReader{b: b}
	ver := r.u16()
	r.skip(32) // random
	r.skip(int(r.u8()))
	if client {
		r.skip(int(r.u16())) // cipher suites
		r.skip(int(r.u8()))  // compression methods
		info.ClientVersion = ver
	} else {
		r.skip(2) // cipher suite
		r.skip(1) // compression
		info.ServerVersion = ver
	}
	ext := r.bytes(int(r.u16()))
	er := byteReader{b: ext}
	for !er.bad && len(er.b) >= 4 {
		typ, n := er.u16(), int(er.u16())
		data := er.bytes(n)
		dr := byteReader{b: data}
		switch {
		case typ == 0 && client: // server_name
			dr.u16() // list length
			if dr.u8() == 0 {
				name := dr.bytes(int(dr.u16()))
				if !dr.bad {
					info.SNI = clip(name)
				}
			}
		case typ == 43 && !client && len(data) == 2: // supported_versions (selected)
			info.ServerVersion = dr.u16()
		case typ == 43 && client:
			l := int(dr.u8())
			best := uint16(0)
			for i := 0; i+1 < l && !dr.bad; i += 2 {
				v := dr.u16()
				if v&0x0f0f != 0x0a0a && v > best { // skip GREASE
					best = v
				}
			}
			if best > info.ClientVersion {
				info.ClientVersion = best
			}
		}
	}
}

// byteReader reads big-endian fields; reading past the end sets bad and
// yields zeros, so hostile lengths never panic.
type byteReader struct {
	b   []byte
	bad bool
}

func (r *byteReader) u8() uint8 {
	if len(r.b) < 1 {
		r.bad = true
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *byteReader) u16() uint16 {
	if len(r.b) < 2 {
		r.bad, r.b = true, nil
		return 0
	}
	v := uint16(r.b[0])<<8 | uint16(r.b[1])
	r.b = r.b[2:]
	return v
}

func (r *byteReader) skip(n int) { r.bytes(n) }

func (r *byteReader) bytes(n int) []byte {
	if n < 0 || n > len(r.b) {
		r.bad = true
		v := r.b
		r.b = nil
		return v[:0]
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}
