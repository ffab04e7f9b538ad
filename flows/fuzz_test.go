package flows

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"reflect"
	"testing"

	"github.com/pcapsleuth/pcapsleuth/decode"
)

// FuzzTracker feeds the tracker segments decoded from arbitrary bytes on two
// 4-tuples (so port reuse, both directions, wraparound, time going backwards
// and absurd flags all happen) and checks its invariants. A second tracker
// packs every connection's log after every segment (Conn.pack): what it
// hands on must be identical. A third reuses every connection as soon as
// it is handed on (ConnPool, each overwritten first): what it hands on,
// frozen at Done, must be too.
func FuzzTracker(f *testing.F) {
	f.Add([]byte{0, 2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 18, 0, 0, 1, 0, 0, 0, 0, 2, 0, 0, 0, 0, 1, 16, 0, 0, 0, 0})
	f.Add(make([]byte, 17*40))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 17*2000 {
			return
		}
		r := &recorder{}
		tr := NewTracker(Config{MaxConns: 3, Linger: 1e6}, r)
		packed := &eachSegment{&recorder{}, func(c *Conn) { c.pack(nil) }}
		tr2 := NewTracker(Config{MaxConns: 3, Linger: 1e6}, packed)
		reused := &reuseRecorder{pool: new(ConnPool)}
		reused.pool.OnPut(func(c *Conn) { *c = Conn{ID: -1, Packets: -1, Log: c.Log[:cap(c.Log)]} })
		tr3 := NewTracker(Config{MaxConns: 3, Linger: 1e6}, reused)
		tr3.SetPool(reused.pool)
		addrs := []netip.AddrPort{
			netip.MustParseAddrPort("10.0.0.1:40000"), netip.MustParseAddrPort("10.0.0.2:80"),
			netip.MustParseAddrPort("[fd00::1]:443"), netip.MustParseAddrPort("10.0.0.1:40001"),
		}
		var ts int64 = 1_700_000_000e9
		payload := make([]byte, 64)
		for i := range payload {
			payload[i] = byte(i * 7)
		}
		// tr2 takes the packets as the analysis does: in chunks (of three
		// here), each warmed first (Warm must change nothing), some with
		// a key of another table (ignored).
		keyer, other := tr2.Keyer(), NewTracker(Config{}, nil).Keyer()
		var chunk []decode.Packet
		var keys []Key
		addChunk := func() {
			tr2.Warm(chunk, keys)
			for i := range chunk {
				tr2.AddKeyed(&chunk[i], keys[i])
			}
			chunk, keys = chunk[:0], keys[:0]
		}
		frame := int64(0)
		for len(data) >= 17 {
			b := data[:17]
			data = data[17:]
			frame++
			ts += int64(int8(b[0])) * 1e7 // may go backwards
			p := &decode.Packet{Frame: frame, TS: ts}
			p.Src, p.Dst = addrs[b[1]&3], addrs[(b[1]>>2)&3]
			p.Seq = binary.BigEndian.Uint32(b[2:])
			p.Ack = binary.BigEndian.Uint32(b[6:])
			p.Flags = decode.TCPFlags(binary.BigEndian.Uint16(b[10:]) & 0x1ff)
			p.Window = binary.BigEndian.Uint16(b[12:])
			p.PayloadLen = int(b[14]) * 16
			n := min(int(b[15]), len(payload), p.PayloadLen)
			p.Payload = payload[:n]
			if b[16]&1 != 0 {
				copy(payload, "\x16\x03\x01\x00\x30\x01\x00\x00\x2c\x03\x03")
			} else if b[16]&2 != 0 {
				copy(payload, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			}
			p.Opts.WScale = int8(b[16]>>2) - 1
			p.Opts.MSS = uint16(b[16]) * 10
			tr.Add(p)
			q := *p
			q.Payload = append([]byte(nil), p.Payload...) // the next packets change payload
			chunk = append(chunk, q)
			if b[16]&0x80 != 0 {
				keys = append(keys, other.Key(p))
			} else {
				keys = append(keys, keyer.Key(p))
			}
			if len(chunk) == 3 {
				addChunk()
			}
			tr3.Add(p)
			if tr.Live() > 3 {
				t.Fatalf("live %d > cap", tr.Live())
			}
		}
		addChunk()
		tr.Flush()
		tr2.Flush()
		tr3.Flush()
		if len(reused.frozen) != len(r.done) {
			t.Fatalf("%d connections with reuse, %d without", len(reused.frozen), len(r.done))
		}
		for i, c := range r.done {
			if !bytes.Equal(reused.frozen[i].b, c.Freeze().b) {
				t.Fatalf("connection %d differs when connections are reused", c.ID)
			}
		}
		if len(packed.done) != len(r.done) {
			t.Fatalf("%d connections with packed logs, %d without", len(packed.done), len(r.done))
		}
		for i, c := range r.done {
			if !reflect.DeepEqual(packed.done[i], c) {
				t.Fatalf("connection %d differs when its log is packed:\n%+v\n%+v", c.ID, packed.done[i].Log, c.Log)
			}
		}
		if tr.Live() != 0 {
			t.Fatalf("live after flush = %d", tr.Live())
		}
		var total int64
		seen := map[int64]bool{}
		for _, c := range r.done {
			if seen[c.ID] {
				t.Fatalf("connection %d handed on twice", c.ID)
			}
			seen[c.ID] = true
			total += c.Packets
			if c.Orig.Packets+c.Resp.Packets != c.Packets {
				t.Fatalf("per-side packets %d+%d != %d", c.Orig.Packets, c.Resp.Packets, c.Packets)
			}
			for i := 1; i < len(c.Log); i++ {
				if c.Log[i].Index <= c.Log[i-1].Index {
					t.Fatalf("log out of order")
				}
			}
			for i, e := range []*Endpoint{&c.Orig, &c.Resp} {
				peer := []*Endpoint{&c.Resp, &c.Orig}[i]
				if len(e.Transitions) > maxTransitions {
					t.Fatalf("%d transitions", len(e.Transitions))
				}
				if int(e.State) >= NumStates {
					t.Fatalf("bad state %d", e.State)
				}
				// The tracker looks at a side's data after the peer's
				// FIN only once the peer sent one (update's ACK and RST
				// paths rely on it).
				if e.afterFIN != nil && peer.FINTS == 0 {
					t.Fatalf("data after a FIN the peer never sent")
				}
			}
		}
		if total != frame {
			t.Fatalf("connections hold %d packets, %d were added", total, frame)
		}
		if int64(len(r.done)) != tr.Stats().Conns {
			t.Fatalf("%d handed on, %d created", len(r.done), tr.Stats().Conns)
		}
	})
}

// reuseRecorder freezes each connection handed on and gives it back to its
// pool.
type reuseRecorder struct {
	pool   *ConnPool
	frozen []Frozen
}

func (o *reuseRecorder) Segment(*Conn, *Segment) {}

func (o *reuseRecorder) Done(c *Conn) {
	o.frozen = append(o.frozen, c.Freeze())
	o.pool.Put([]*Conn{c})
}

// FuzzSniffers runs the TLS and HTTP sniffers on arbitrary stream prefixes.
func FuzzSniffers(f *testing.F) {
	f.Add(clientHello("example.com"))
	f.Add(serverHello(0x0304))
	f.Add([]byte("GET /x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"))
	f.Add([]byte("HTTP/1.1 200 OK\r\n\r\n"))
	f.Add([]byte{22, 3, 1, 0, 4, 1, 0, 0, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		var tls TLSInfo
		sniffTLS(&tls, Orig, b, 1, 1)
		sniffTLS(&tls, Resp, b, 2, 2)
		var h HTTPInfo
		sniffHTTP(&h, Orig, b)
		sniffHTTP(&h, Resp, b)
		if len(tls.SNI) > maxLine || len(h.Target) > maxLine || len(h.Host) > maxLine {
			t.Fatalf("unbounded strings: %d %d %d", len(tls.SNI), len(h.Target), len(h.Host))
		}
		if isHTTPRequest(b) || isHTTPResponse(b) {
			_ = httpLine(b)
		}
	})
}
