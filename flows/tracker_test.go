package flows

import (
	"encoding/binary"
	"fmt"
	"math/rand"
	"net/netip"
	"runtime"
	"testing"
	"weak"

	"github.com/pcapsleuth/pcapsleuth/decode"
)

func newTestTracker(cfg Config) (*Tracker, *recorder) {
	r := &recorder{}
	return NewTracker(cfg, r), r
}

func states(c *Conn, ts int64) (State, State) { return c.Orig.StateAt(ts), c.Resp.StateAt(ts) }

func TestGracefulCloseStates(t *testing.T) {
	tr, r := newTestTracker(Config{})
	cv := newConvo(t, tr, "10.0.0.1:40000", "10.0.0.2:80")
	cv.handshake(0)
	cv.send(0.010, true, pshack, 100)
	cv.send(0.011, false, ack, 0)
	cv.send(0.020, false, pshack, 500)
	cv.send(0.021, true, ack, 0)
	cv.send(1.000, true, finack, 0)
	cv.send(1.001, false, finack, 0)
	cv.send(1.002, true, ack, 0)
	tr.Flush()
	if len(r.done) != 1 {
		t.Fatalf("got %d conns, want 1", len(r.done))
	}
	c := r.done[0]
	if !c.DirKnown || c.Orig.Addr.Port() != 40000 {
		t.Errorf("client = %v (known %v), want 10.0.0.1:40000 from the SYN", c.Orig.Addr, c.DirKnown)
	}
	end := c.LastTS
	if o, s := states(c, end); o != StateTimeWait || s != StateClosed {
		t.Errorf("states at end = %v/%v, want TIME_WAIT/CLOSED", o, s)
	}
	if o, _ := states(c, end+61e9); o != StateClosed {
		t.Errorf("client state 61 s later = %v, want CLOSED (TIME_WAIT timer)", o)
	}
	if c.HandshakeRTT != 2e6 {
		t.Errorf("handshake RTT = %d, want 2ms", c.HandshakeRTT)
	}
	if c.Retransmissions() != 0 {
		t.Errorf("retransmissions = %d, want 0", c.Retransmissions())
	}
	if c.Orig.UniqueBytes != 100 || c.Resp.UniqueBytes != 500 {
		t.Errorf("unique bytes = %d/%d, want 100/500", c.Orig.UniqueBytes, c.Resp.UniqueBytes)
	}
	if c.Orig.FINAckedTS == 0 || c.Resp.FINAckedTS == 0 {
		t.Errorf("FIN acked times = %d/%d, want both set", c.Orig.FINAckedTS, c.Resp.FINAckedTS)
	}
	wantTrans := []State{StateSynSent, StateEstablished, StateFinWait1, StateFinWait2, StateTimeWait}
	var got []State
	for _, tr := range c.Orig.Transitions {
		got = append(got, tr.State)
	}
	if len(got) != len(wantTrans) {
		t.Fatalf("client transitions %v, want %v", got, wantTrans)
	}
	for i := range got {
		if got[i] != wantTrans[i] {
			t.Fatalf("client transitions %v, want %v", got, wantTrans)
		}
	}
	if c.TurnCount != 2 || c.Turns[0].Dir != Orig || c.Turns[1].Dir != Resp {
		t.Errorf("turns = %+v", c.Turns)
	}
}

func TestCloseWaitLeak(t *testing.T) {
	tr, r := newTestTracker(Config{})
	cv := newConvo(t, tr, "10.0.0.1:40000", "10.0.0.2:8080")
	cv.handshake(0)
	cv.send(0.1, true, finack, 0)
	cv.send(0.1001, false, ack, 0)
	cv.send(100, false, ack, 0, withSeq(cv.seq[1])) // server keeps the socket, sends nothing
	tr.Flush()
	c := r.done[0]
	if o, s := states(c, c.LastTS); o != StateFinWait2 || s != StateCloseWait {
		t.Errorf("states = %v/%v, want FIN_WAIT_2/CLOSE_WAIT", o, s)
	}
	if c.Resp.FINTS != 0 || c.Orig.FINAckedTS != ns(0.1001) {
		t.Errorf("server FIN %d, client FIN acked at %d", c.Resp.FINTS, c.Orig.FINAckedTS)
	}
	if c.EndState != EndCaptureEnd {
		t.Errorf("end = %v, want capture-end", c.EndState)
	}
}

func TestRetransmissionOutOfOrderAndFast(t *testing.T) {
	tr, r := newTestTracker(Config{})
	cv := newConvo(t, tr, "10.0.0.1:40000", "10.0.0.2:80")
	cv.handshake(0) // RTT 2 ms
	base := cv.seq[1]
	cv.send(0.010, false, ack, 1000)
	cv.send(0.011, false, ack, 1000, withSeq(base+2000))  // gap: 1000 bytes never captured
	cv.send(0.0115, false, ack, 1000, withSeq(base+1000)) // fills the hole 0.5 ms later: out-of-order
	cv.send(0.012, true, ack, 0, withAck(base+1000))
	cv.send(0.0121, true, ack, 0, withAck(base+1000))
	cv.send(0.0122, true, ack, 0, withAck(base+1000))
	cv.send(0.0125, false, ack, 1000, withSeq(base+1000)) // after 2 dup acks: fast retransmission
	cv.send(0.300, false, ack, 1000, withSeq(base))       // already sent and acked: spurious retransmission
	tr.Flush()
	c := r.done[0]
	e := &c.Resp
	if e.OutOfOrder != 1 {
		t.Errorf("out-of-order = %d, want 1", e.OutOfOrder)
	}
	if e.PrevNotCaptured != 1 {
		t.Errorf("previous-not-captured = %d, want 1", e.PrevNotCaptured)
	}
	if e.Retransmissions != 2 || e.FastRetransmissions != 1 || e.Spurious != 1 {
		t.Errorf("retrans %d fast %d spurious %d, want 2/1/1", e.Retransmissions, e.FastRetransmissions, e.Spurious)
	}
	if c.Orig.DupAcks != 2 {
		t.Errorf("dup acks = %d, want 2", c.Orig.DupAcks)
	}
	if e.UniqueBytes != 3000 {
		t.Errorf("unique bytes = %d, want 3000", e.UniqueBytes)
	}
}

func TestLateHoleFillIsRetransmission(t *testing.T) {
	// Data lost before the capture point and resent after an RTO is a
	// retransmission, even though its bytes were never captured before.
	tr, r := newTestTracker(Config{})
	cv := newConvo(t, tr, "10.0.0.1:40000", "10.0.0.2:80")
	cv.handshake(0)
	base := cv.seq[1]
	cv.send(0.010, false, ack, 1000, withSeq(base+1000))
	cv.send(0.250, false, ack, 1000, withSeq(base))
	tr.Flush()
	if e := &r.done[0].Resp; e.Retransmissions != 1 || e.OutOfOrder != 0 {
		t.Errorf("retrans %d ooo %d, want 1/0", e.Retransmissions, e.OutOfOrder)
	}
}

func TestRTOBackoffChain(t *testing.T) {
	tr, r := newTestTracker(Config{})
	cv := newConvo(t, tr, "10.0.0.1:40000", "10.0.0.2:80")
	cv.handshake(0)
	base := cv.seq[1]
	cv.send(1.0, false, pshack, 1412)
	for i, at := range []float64{1.2, 1.6, 2.4, 4.0} {
		_ = i
		cv.send(at, false, pshack, 1412, withSeq(base))
	}
	tr.Flush()
	b := r.done[0].Resp.Backoff()
	if b.Count != 4 || len(b.Times) != 5 {
		t.Fatalf("backoff chain = %+v, want 4 resends after the original", b)
	}
	if b.Times[0] != ns(1) || b.Times[4] != ns(4) {
		t.Errorf("chain times = %v", b.Times)
	}
}

func TestSeqWraparound(t *testing.T) {
	tr, r := newTestTracker(Config{})
	cv := newConvo(t, tr, "10.0.0.1:40000", "10.0.0.2:80")
	cv.seq[1] = 0xFFFFF000
	cv.handshake(0)
	for i := 0; i < 10; i++ {
		cv.send(0.01+float64(i)*0.001, false, ack, 1000)
	}
	tr.Flush()
	e := &r.done[0].Resp
	if e.Retransmissions != 0 || e.OutOfOrder != 0 || e.PrevNotCaptured != 0 {
		t.Errorf("wraparound misread: retrans %d ooo %d gaps %d", e.Retransmissions, e.OutOfOrder, e.PrevNotCaptured)
	}
	if e.UniqueBytes != 10000 {
		t.Errorf("unique bytes across wrap = %d, want 10000", e.UniqueBytes)
	}
}

func TestPortReuseStartsNewConnection(t *testing.T) {
	tr, r := newTestTracker(Config{})
	cv := newConvo(t, tr, "10.0.0.1:40000", "10.0.0.2:80")
	cv.handshake(0)
	cv.send(0.1, true, finack, 0)
	cv.send(0.1, false, finack, 0)
	cv.send(0.1, true, ack, 0)
	cv.seq = [2]uint32{777777, 888888}
	cv.handshake(5)
	cv.send(5.1, true, rstack, 0)
	tr.Flush()
	if len(r.done) != 2 {
		t.Fatalf("got %d connections, want 2 (port reuse)", len(r.done))
	}
	if r.done[0].EndState != EndReused || r.done[1].ID != 2 || r.done[1].Orig.ISN != 777777 {
		t.Errorf("first end %v, second id %d isn %d", r.done[0].EndState, r.done[1].ID, r.done[1].Orig.ISN)
	}
	if tr.Stats().Reused != 1 {
		t.Errorf("reused = %d", tr.Stats().Reused)
	}
	// A retransmitted SYN is not a new connection.
	tr2, r2 := newTestTracker(Config{})
	cv2 := newConvo(t, tr2, "10.0.0.1:40000", "10.0.0.2:80")
	cv2.send(0, true, syn, 0)
	cv2.send(1, true, syn, 0, withSeq(1000))
	cv2.send(3, true, syn, 0, withSeq(1000))
	tr2.Flush()
	if len(r2.done) != 1 || r2.done[0].Orig.SYNs != 3 {
		t.Fatalf("SYN retransmissions: %d conns, SYNs %d", len(r2.done), r2.done[0].Orig.SYNs)
	}
	if o, s := states(r2.done[0], ns(3)); o != StateSynSent || s != StateUnknown {
		t.Errorf("unanswered SYN states %v/%v", o, s)
	}
}

func TestMidStreamDirectionHeuristic(t *testing.T) {
	tr, r := newTestTracker(Config{})
	// First packet goes server → client: the ephemeral port is the client.
	cv := newConvo(t, tr, "10.0.0.1:51000", "10.0.0.2:443")
	cv.send(0, false, pshack, 100)
	cv.send(0.001, true, ack, 0)
	tr.Flush()
	c := r.done[0]
	if c.DirKnown || c.Orig.Addr.Port() != 51000 {
		t.Errorf("client %v known %v, want 51000 guessed", c.Orig.Addr, c.DirKnown)
	}
	if o, s := states(c, c.LastTS); o != StateEstablished || s != StateEstablished {
		t.Errorf("states %v/%v", o, s)
	}
	for _, tc := range []struct {
		a, b uint16
		want bool
	}{{51000, 443, true}, {443, 51000, false}, {8080, 80, true}, {80, 8080, false}, {33000, 40000, false}, {5000, 6000, false}} {
		if got := ephemeralFirst(tc.a, tc.b); got != tc.want {
			t.Errorf("ephemeralFirst(%d,%d) = %v", tc.a, tc.b, got)
		}
	}
}

func TestHeadersOnlyPayloadAndTLSStage(t *testing.T) {
	tr, r := newTestTracker(Config{})
	cv := newConvo(t, tr, "10.0.0.1:40000", "10.0.0.2:8443")
	cv.handshake(0)
	// A 517-byte ClientHello of which a -s 96 capture keeps 30 bytes.
	ch := clientHello("api.example.com")
	cv.send(0.01, true, pshack, 0, withPayload(ch[:30]), withTrunc(len(ch)))
	cv.send(0.011, false, ack, 0)
	cv.send(1.5, true, finack, 0)
	cv.send(1.5001, false, ack, 0)
	tr.Flush()
	c := r.done[0]
	if c.Orig.Bytes != int64(len(ch)) || c.Orig.Truncated != 1 {
		t.Errorf("bytes %d truncated %d, want %d/1", c.Orig.Bytes, c.Orig.Truncated, len(ch))
	}
	if !c.App().TLS.Seen || c.App().TLS.ClientHelloTS != ns(0.01) || c.App().TLS.ServerHelloTS != 0 {
		t.Errorf("tls = %+v", c.App().TLS)
	}
	if c.App().TLS.SNI != "" {
		t.Errorf("SNI from a cut ClientHello: %q", c.App().TLS.SNI)
	}
}

func TestTLSAndHTTPSniffers(t *testing.T) {
	tr, r := newTestTracker(Config{})
	cv := newConvo(t, tr, "10.0.0.1:40000", "10.0.0.2:8443")
	cv.handshake(0)
	ch := clientHello("api.example.com")
	// split the ClientHello across two segments, second first (out of order)
	base := cv.seq[0]
	cv.send(0.010, true, pshack, 0, withSeq(base+100), withPayload(ch[100:]))
	cv.send(0.0101, true, pshack, 0, withSeq(base), withPayload(ch[:100]))
	cv.send(0.020, false, pshack, 0, withPayload(serverHello(0x0304)))
	tr.Flush()
	tls := r.done[0].App().TLS
	if tls.SNI != "api.example.com" || tls.ServerVersion != 0x0304 || tls.ClientHelloTS == 0 || tls.ServerHelloTS == 0 {
		t.Errorf("tls = %+v", tls)
	}

	tr2, r2 := newTestTracker(Config{})
	cv2 := newConvo(t, tr2, "10.0.0.1:40000", "10.0.0.2:80")
	cv2.handshake(0)
	cv2.send(0.01, true, pshack, 0, withPayload([]byte("GET /a?b=<x> HTTP/1.1\r\nHost: h.example\r\nConnection: keep-alive\r\n\r\n")))
	cv2.send(0.02, false, pshack, 0, withPayload([]byte("HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n\r\n")))
	cv2.send(0.03, true, pshack, 0, withPayload([]byte("GET /second HTTP/1.1\r\n\r\n")))
	tr2.Flush()
	h := r2.done[0].App().HTTP
	if h.Method != "GET" || h.Target != "/a?b=<x>" || h.Host != "h.example" || h.Status != 503 || h.ConnHeader != "keep-alive" || h.Requests != 2 || h.Responses != 1 {
		t.Errorf("http = %+v", h)
	}
	if r2.done[0].Turns[2].FirstLine != "GET /second HTTP/1.1" {
		t.Errorf("turn line = %q", r2.done[0].Turns[2].FirstLine)
	}
}

func TestDataAfterFINAnsweredByRST(t *testing.T) {
	tr, r := newTestTracker(Config{})
	cv := newConvo(t, tr, "10.0.0.1:40000", "10.0.0.2:80")
	cv.handshake(0)
	cv.send(0.01, false, finack, 0) // server closes at once
	cv.send(0.011, true, ack, 0)
	cv.send(1.011, true, pshack, 50) // client writes a second later
	cv.send(1.012, false, rst, 0)
	tr.Flush()
	c := r.done[0]
	a := c.Orig.DataAfterPeerFIN()
	if a.FirstTS != ns(1.011) || a.Delay != 1.001e9 || a.Bytes != 50 || a.Acked || a.RSTAfterTS != ns(1.012) {
		t.Errorf("after FIN = %+v", a)
	}
	if o, s := states(c, c.LastTS); o != StateClosed || s != StateClosed {
		t.Errorf("states %v/%v", o, s)
	}
}

func TestZeroWindowAndKeepAlive(t *testing.T) {
	tr, r := newTestTracker(Config{})
	cv := newConvo(t, tr, "10.0.0.1:40000", "10.0.0.2:80")
	cv.handshake(0)
	cv.send(0.01, false, ack, 1000)
	cv.send(0.02, true, ack, 0, withWin(0))
	cv.send(0.22, false, ack, 1)                                  // probe into the zero window
	cv.send(0.23, true, ack, 0, withWin(0))                       // still zero
	cv.send(60, true, ack, 0, withSeq(cv.seq[0]-1), withWin(500)) // keep-alive from the client
	tr.Flush()
	c := r.done[0]
	if c.Orig.ZeroWindows != 2 || c.Resp.ZeroWindowProbes != 1 {
		t.Errorf("zero windows %d probes %d, want 2/1", c.Orig.ZeroWindows, c.Resp.ZeroWindowProbes)
	}
	if c.Orig.KeepAlives != 1 {
		t.Errorf("keep-alives = %d, want 1", c.Orig.KeepAlives)
	}
	if c.Resp.Retransmissions != 0 {
		t.Errorf("probe counted as retransmission")
	}
}

func TestEvictionKeepsMemoryBoundedAndCounts(t *testing.T) {
	tr, r := newTestTracker(Config{MaxConns: 10})
	for i := 0; i < 1000; i++ {
		p := &decode.Packet{Frame: int64(i + 1), TS: ns(float64(i) / 1000), Flags: syn, Seq: uint32(i)}
		p.Src = mustAP("10.1.0.1", uint16(1024+i))
		p.Dst = mustAP("10.0.0.2", 80)
		p.Opts.WScale = -1
		tr.Add(p)
		if tr.Live() > 10 {
			t.Fatalf("live = %d > cap", tr.Live())
		}
	}
	tr.Flush()
	if len(r.done) != 1000 || tr.Stats().Evicted != 990 || tr.Stats().Conns != 1000 {
		t.Errorf("done %d evicted %d conns %d", len(r.done), tr.Stats().Evicted, tr.Stats().Conns)
	}
}

func TestClosedConnectionsLingerThenHandedOn(t *testing.T) {
	tr, r := newTestTracker(Config{Linger: 1e9})
	cv := newConvo(t, tr, "10.0.0.1:40000", "10.0.0.2:80")
	cv.handshake(0)
	cv.send(0.1, true, rstack, 0)
	if len(r.done) != 0 {
		t.Fatal("handed on before linger")
	}
	other := newConvo(t, tr, "10.0.0.3:40000", "10.0.0.2:80")
	other.handshake(2)
	if len(r.done) != 1 || r.done[0].EndState != EndClosed {
		t.Fatalf("closed connection not handed on after linger: %d", len(r.done))
	}
}

func TestPacketLogBounded(t *testing.T) {
	tr, r := newTestTracker(Config{})
	cv := newConvo(t, tr, "10.0.0.1:40000", "10.0.0.2:80")
	cv.handshake(0)
	base := cv.seq[1]
	for i := 0; i < 10000; i++ {
		cv.send(0.01+float64(i)*1e-4, false, ack, 100)
		if i == 5000 {
			cv.send(0.51, false, ack, 100, withSeq(base)) // one retransmission in the middle
		}
	}
	cv.send(2, true, finack, 0)
	tr.Flush()
	c := r.done[0]
	if len(c.Log) > logMax+logTail+logAround+1 {
		t.Fatalf("log has %d entries", len(c.Log))
	}
	var sawRetrans, sawFin bool
	for i, le := range c.Log {
		if i > 0 && le.Index <= c.Log[i-1].Index {
			t.Fatalf("log not in order at %d", i)
		}
		sawRetrans = sawRetrans || le.Kind.Has(SegRetransmission)
		sawFin = sawFin || le.Flags.Has(fin)
	}
	if !sawRetrans || !sawFin || c.Log[0].Flags != syn {
		t.Errorf("log misses the anomaly (%v), the FIN (%v) or the SYN", sawRetrans, sawFin)
	}
}

func mustAP(ip string, port uint16) netip.AddrPort {
	return netip.AddrPortFrom(netip.MustParseAddr(ip), port)
}

// clientHello builds a minimal TLS 1.2-record ClientHello with an SNI.
func clientHello(sni string) []byte {
	var ext []byte
	name := []byte(sni)
	sn := make([]byte, 0, 9+len(name))
	sn = binary.BigEndian.AppendUint16(sn, 0) // type server_name
	sn = binary.BigEndian.AppendUint16(sn, uint16(5+len(name)))
	sn = binary.BigEndian.AppendUint16(sn, uint16(3+len(name)))
	sn = append(sn, 0)
	sn = binary.BigEndian.AppendUint16(sn, uint16(len(name)))
	sn = append(sn, name...)
	ext = append(ext, sn...)
	ext = append(ext, 0, 43, 0, 5, 4, 0x03, 0x04, 0x03, 0x03) // supported_versions
	body := []byte{3, 3}
	body = append(body, make([]byte, 32)...)
	body = append(body, 0)                // session id
	body = append(body, 0, 2, 0x13, 0x01) // one cipher suite
	body = append(body, 1, 0)             // compression
	body = binary.BigEndian.AppendUint16(body, uint16(len(ext)))
	body = append(body, ext...)
	for len(body) < 508 { // pad like browsers do, to a realistic size
		body = append(body, 0)
	}
	return tlsRecord(1, body)
}

func serverHello(version uint16) []byte {
	body := []byte{3, 3}
	body = append(body, make([]byte, 32)...)
	body = append(body, 0, 0x13, 0x01, 0)
	body = append(body, 0, 6, 0, 43, 0, 2, byte(version>>8), byte(version))
	return tlsRecord(2, body)
}

func tlsRecord(hsType byte, body []byte) []byte {
	hs := []byte{hsType, byte(len(body) >> 16), byte(len(body) >> 8), byte(len(body))}
	hs = append(hs, body...)
	rec := []byte{22, 3, 1, byte(len(hs) >> 8), byte(len(hs))}
	return append(rec, hs...)
}

func TestLingerRestartsOnActivity(t *testing.T) {
	// A reset connection whose SYN is replayed with the same ISN every 20 s
	// stays one connection, as tshark's tcp.stream keeps it.
	tr, r := newTestTracker(Config{Linger: 30e9})
	cv := newConvo(t, tr, "10.0.0.1:1054", "10.0.0.2:80")
	for i := 0; i < 5; i++ {
		at := float64(i) * 20
		cv.send(at, true, syn, 0, withSeq(1000))
		cv.send(at+0.01, false, rst, 0)
	}
	tr.Flush()
	if len(r.done) != 1 {
		t.Fatalf("got %d connections, want 1", len(r.done))
	}
}

func TestLingeringClosedConnectionsAreBounded(t *testing.T) {
	// Thousands of connections closing within the linger time: at most
	// maxLingering stay in memory waiting for late packets.
	tr, r := newTestTracker(Config{})
	for i := 0; i < maxLingering+1000; i++ {
		cv := newConvo(t, tr, fmt.Sprintf("10.1.%d.%d:40000", i/250, i%250), "10.0.0.2:80")
		cv.frame = int64(i) * 10
		at := float64(i) * 1e-4
		cv.handshake(at)
		cv.send(at+0.00005, true, rstack, 0)
		if tr.Live() > maxLingering+1 {
			t.Fatalf("live = %d after %d resets", tr.Live(), i+1)
		}
	}
	if len(r.done) < 1000 {
		t.Errorf("only %d connections handed on", len(r.done))
	}
}

// A SYN flood costs MaxHalfOpen connections, not MaxConns, and never
// pushes out an answered connection.
func TestHalfOpenBudgetBoundsSYNFlood(t *testing.T) {
	tr, r := newTestTracker(Config{MaxConns: 1000, MaxHalfOpen: 50})
	var normal []*convo
	for i := 0; i < 20; i++ {
		cv := newConvo(t, tr, fmt.Sprintf("10.9.0.%d:40000", i+1), "10.0.0.2:443")
		cv.handshake(float64(i) * 0.01)
		normal = append(normal, cv)
	}
	const flood = 5000
	for i := 0; i < flood; i++ {
		p := &decode.Packet{Frame: int64(1000 + i), TS: ns(1 + float64(i)/10000), Flags: syn, Seq: uint32(i)}
		p.Src = netip.AddrPortFrom(netip.AddrFrom4([4]byte{172, 16, byte(i >> 8), byte(i)}), 50000)
		p.Dst = mustAP("10.0.0.2", 443)
		p.Opts.WScale = -1
		tr.Add(p)
		if i%100 == 0 {
			// The normal connections stay active.
			normal[i/100%20].send(1+float64(i)/10000, true, pshack, 10)
		}
		if tr.Live() > 50+20 {
			t.Fatalf("after %d SYNs: %d live connections, want at most 70", i+1, tr.Live())
		}
		q := 0
		for c := tr.halfHead; c != nil; c = c.halfNext {
			if !c.halfOpen {
				t.Fatalf("after %d SYNs: connection %d is on the half-open list, answered", i+1, c.ID)
			}
			q++
		}
		if q != tr.halfN {
			t.Fatalf("after %d SYNs: the half-open list holds %d connections, halfN %d", i+1, q, tr.halfN)
		}
	}
	st := tr.Stats()
	if st.HalfOpenEvicted != flood-50 || st.Evicted != st.HalfOpenEvicted {
		t.Errorf("evicted %d (half-open %d), want %d half-open only", st.Evicted, st.HalfOpenEvicted, flood-50)
	}
	tr.Flush()
	if len(r.done) != flood+20 {
		t.Fatalf("%d connections handed on, want %d", len(r.done), flood+20)
	}
	for _, c := range r.done {
		if c.Orig.Addr.Addr().As4()[0] == 10 && c.EndState != EndCaptureEnd {
			t.Errorf("answered connection %v ended %v, want capture-end", c.Orig.Addr, c.EndState)
		}
	}
	if tr.halfN != 0 {
		t.Errorf("half-open count after Flush = %d", tr.halfN)
	}
}

// A SYN answered while queued leaves the half-open budget.
func TestAnsweredSYNLeavesHalfOpenBudget(t *testing.T) {
	tr, _ := newTestTracker(Config{MaxHalfOpen: 2})
	cv := newConvo(t, tr, "10.9.0.1:40000", "10.0.0.2:443")
	cv.send(0, true, syn, 0)
	if tr.halfN != 1 {
		t.Fatalf("half-open = %d after a SYN, want 1", tr.halfN)
	}
	cv.send(0.001, false, synack, 0)
	if tr.halfN != 0 {
		t.Fatalf("half-open = %d after the SYN-ACK, want 0", tr.halfN)
	}
	for i := 0; i < 10; i++ {
		p := &decode.Packet{Frame: int64(10 + i), TS: ns(0.01 + float64(i)/1000), Flags: syn, Seq: 7}
		p.Src = mustAP("172.16.0.1", uint16(20000+i))
		p.Dst = mustAP("10.0.0.2", 443)
		p.Opts.WScale = -1
		tr.Add(p)
	}
	if tr.Live() != 3 || tr.Stats().HalfOpenEvicted != 8 {
		t.Errorf("live %d, half-open evicted %d; want 3 (the answered one + 2) and 8", tr.Live(), tr.Stats().HalfOpenEvicted)
	}
}

// Segments of a window arriving shuffled fill holes in their middles: every
// piece of every hole is remembered, so none of them is a retransmission,
// and a resend of bytes already seen still is one.
func TestShuffledWindowIsOutOfOrderNotRetransmission(t *testing.T) {
	tr, r := newTestTracker(Config{})
	cv := newConvo(t, tr, "10.0.0.1:40000", "10.0.0.2:80")
	cv.handshake(0) // RTT 2 ms
	base := cv.seq[0]
	const n = 100
	// A deterministic shuffle of segments 1..n-1 after segment 0.
	order := []int{0}
	for i := 1; i < n; i++ {
		order = append(order, (i*37)%(n-1)+1)
	}
	ts := 0.010
	for _, k := range order {
		ts += 0.00001
		cv.send(ts, true, ack, 100, withSeq(base+uint32(k*100)))
	}
	cv.send(ts+0.5, true, ack, 100, withSeq(base+4200)) // a real resend, long after
	tr.Flush()
	e := &r.done[0].Orig
	if e.Retransmissions != 1 {
		t.Errorf("retransmissions = %d, want 1 (the late resend only)", e.Retransmissions)
	}
	below := 0
	hi := -1
	for _, k := range order {
		if k < hi {
			below++
		}
		hi = max(hi, k)
	}
	if e.OutOfOrder != int64(below) {
		t.Errorf("out-of-order = %d, want %d", e.OutOfOrder, below)
	}
	if e.UniqueBytes != n*100 {
		t.Errorf("unique bytes = %d, want %d", e.UniqueBytes, n*100)
	}
}

// A FIN stamped at the epoch itself is still a FIN, and a clock that jumps
// back never makes a duration negative.
func TestEpochTimestampsAndBackwardsClock(t *testing.T) {
	tr, r := newTestTracker(Config{})
	cv := newConvo(t, tr, "10.0.0.1:40000", "10.0.0.2:80")
	cv.handshake(5)
	// The client's FIN, stamped at the epoch: the clock jumped back.
	fin := &decode.Packet{Frame: 99, TS: 0, Src: cv.c, Dst: cv.s, Seq: cv.seq[0], Ack: cv.seq[1], Flags: finack}
	fin.Opts.WScale = -1
	tr.Add(fin)
	tr.Flush()
	c := r.done[0]
	if c.Orig.FINTS == 0 || c.Orig.State != StateFinWait1 {
		t.Errorf("FIN at the epoch: FINTS %d, state %v; want it seen, FIN_WAIT_1", c.Orig.FINTS, c.Orig.State)
	}
	if d := c.Duration(); d != 0 {
		t.Errorf("duration = %d with the clock going backwards, want 0", d)
	}
}

// A gap is data the capture missed only when its bytes never show up: one
// filled out of order or by a resend is not, one left open is.
func TestUnfilledGaps(t *testing.T) {
	tr, r := newTestTracker(Config{})
	cv := newConvo(t, tr, "10.0.0.1:40000", "10.0.0.2:80")
	cv.handshake(0) // RTT 2 ms
	base := cv.seq[0]
	cv.send(0.010, true, ack, 100)                     // 0-100
	cv.send(0.011, true, ack, 100, withSeq(base+200))  // gap 100-200
	cv.send(0.0111, true, ack, 100, withSeq(base+100)) // filled out of order
	cv.send(0.012, true, ack, 100, withSeq(base+400))  // gap 300-400
	cv.send(0.500, true, ack, 100, withSeq(base+300))  // filled by a resend, late
	cv.send(0.510, true, ack, 100, withSeq(base+700))  // gap 500-700: never filled
	cv.send(0.511, true, ack, 100, withSeq(base+550))  // fills its middle only: 500-550 and 650-700 stay
	cv.send(0.520, false, ack, 0, withAck(base+800))   // the server ACKs it all
	tr.Flush()
	e := &r.done[0].Orig
	if e.PrevNotCaptured != 3 {
		t.Errorf("previous-not-captured = %d, want 3", e.PrevNotCaptured)
	}
	if e.UnfilledGaps != 2 {
		t.Errorf("unfilled gaps = %d, want 2 (the two pieces of the last gap)", e.UnfilledGaps)
	}
}

// TestIdleConnectionRests checks that a connection silent for restAfter with
// everything ACKed frees its transmission histories, that one with data in
// flight keeps them, and that a rested connection classifies what it sends
// next as before.
func TestIdleConnectionRests(t *testing.T) {
	tr, r := newTestTracker(Config{})
	idle := newConvo(t, tr, "10.0.0.1:40000", "10.0.0.2:80")
	idle.handshake(0)
	idle.send(0.1, true, pshack, 300)
	idle.send(0.2, false, pshack, 1000)
	idle.send(0.3, true, ack, 0)
	busy := newConvo(t, tr, "10.0.0.3:40000", "10.0.0.2:80")
	busy.handshake(0)
	busy.send(0.1, true, pshack, 300) // never ACKed
	ci := tr.table.get(mustAP("10.0.0.1", 40000), mustAP("10.0.0.2", 80))
	cb := tr.table.get(mustAP("10.0.0.3", 40000), mustAP("10.0.0.2", 80))
	if ci == nil || cb == nil || ci.Orig.hist == nil || ci.Resp.hist == nil || cb.Orig.hist == nil {
		t.Fatal("histories missing before the idle time")
	}
	// A third connection's traffic moves the clock past restAfter.
	other := newConvo(t, tr, "10.0.0.4:40000", "10.0.0.2:80")
	other.handshake(1)
	for i := range 4 * restEvery {
		other.send(float64(restAfter)/1e9+2+float64(i)/1000, i%2 == 0, ack, 0)
	}
	if ci.Orig.hist != nil || ci.Resp.hist != nil || tr.Stats().Rested == 0 {
		t.Errorf("idle, fully ACKed connection kept its histories (rested %d)", tr.Stats().Rested)
	}
	if ci.Log != nil || ci.packed == nil {
		t.Errorf("idle connection's log not packed: %d entries, %d packed bytes", len(ci.Log), len(ci.packed))
	}
	if cb.Orig.hist == nil || cb.Log == nil {
		t.Error("connection with unACKed data lost its history or its log")
	}
	// It wakes up: new data is new data, a resend of it a retransmission.
	w := float64(restAfter)/1e9 + 10
	idle.send(w, true, pshack, 200)
	before := ci.Orig.Retransmissions
	idle.send(w+0.5, true, pshack, 200, withSeq(idle.seq[0]-200))
	if ci.Orig.hist == nil || ci.Orig.Retransmissions != before+1 || ci.Orig.UniqueBytes != 500 {
		t.Errorf("after waking: hist %v, retransmissions %d→%d, unique bytes %d", ci.Orig.hist != nil, before, ci.Orig.Retransmissions, ci.Orig.UniqueBytes)
	}
	if ci.packed != nil || len(ci.Log) != 8 || ci.Log[7].Index != 7 {
		t.Errorf("after waking: log of %d entries, %d packed bytes; want the 8 packets", len(ci.Log), len(ci.packed))
	}
	tr.Flush()
	if len(r.done) != 3 {
		t.Fatalf("%d connections handed on", len(r.done))
	}
}

// forgetful is an Observer that keeps nothing but weak pointers to the
// connections handed on, and at the last one checks which are still alive.
type forgetful struct {
	gone  []weak.Pointer[Conn]
	want  int
	alive int
}

func (f *forgetful) Segment(*Conn, *Segment) {}

func (f *forgetful) Done(c *Conn) {
	f.gone = append(f.gone, weak.Make(c))
	if len(f.gone) < f.want {
		return
	}
	runtime.GC()
	for _, w := range f.gone[:len(f.gone)-1] {
		if w.Value() != nil {
			f.alive++
		}
	}
}

// TestFlushReleasesFinished checks that Flush keeps no connection it has
// handed on, lingering ones included: at the last Done, the others are
// collectable when the observer did not keep them.
func TestFlushReleasesFinished(t *testing.T) {
	f := &forgetful{want: 3}
	tr := NewTracker(Config{}, f)
	for i, port := range []uint16{40000, 40001, 40002} {
		cv := newConvo(t, tr, fmt.Sprintf("10.0.0.1:%d", port), "10.0.0.2:80")
		cv.handshake(float64(i))
		cv.send(float64(i)+0.1, true, pshack, 100)
		if i == 1 { // closed, lingering
			cv.send(float64(i)+0.2, true, finack, 0)
			cv.send(float64(i)+0.3, false, finack, 0)
			cv.send(float64(i)+0.4, true, ack, 0)
		}
	}
	if len(tr.closed) != 1 {
		t.Fatalf("%d connections lingering, want 1", len(tr.closed))
	}
	tr.Flush()
	if len(f.gone) != 3 || f.alive != 0 {
		t.Errorf("%d connections handed on; at the last, %d earlier ones still reachable", len(f.gone), f.alive)
	}
}

// viewChecker checks, at every segment, that Segment.View is what the
// connection's fields say right then, and counts the views that had each
// of its values set, so the test knows the captures exercised them.
type viewChecker struct {
	t                                 testing.TB
	path                              string
	segs, rtt, rttMin, mss, ts, synRe int
	// synTS is each live connection's SYNTS before its segment, to check
	// FirstSYN; firstSYNs counts them.
	synTS     map[*Conn]int64
	firstSYNs int
}

func (v *viewChecker) Segment(c *Conn, s *Segment) {
	if want := c.View(); s.View != want {
		v.t.Fatalf("%s: conn %d, frame %d: Segment.View %+v, the connection says %+v", v.path, c.ID, s.P.Frame, s.View, want)
	}
	if v.synTS == nil {
		v.synTS = map[*Conn]int64{}
	}
	before := v.synTS[c]
	pureSYN := s.P.Flags&(decode.FlagSYN|decode.FlagACK) == decode.FlagSYN
	switch {
	case s.FirstSYN && (before != 0 || !pureSYN || c.SYNTS != s.P.TS):
		v.t.Fatalf("%s: conn %d, frame %d: FirstSYN on %v, SYNTS %d before, %d after", v.path, c.ID, s.P.Frame, s.P.Flags, before, c.SYNTS)
	case !s.FirstSYN && c.SYNTS != before:
		v.t.Fatalf("%s: conn %d, frame %d: SYNTS went from %d to %d without FirstSYN", v.path, c.ID, s.P.Frame, before, c.SYNTS)
	}
	if s.FirstSYN {
		v.firstSYNs++
	}
	v.synTS[c] = c.SYNTS
	v.segs++
	w := s.View
	if w.HandshakeRTT > 0 {
		v.rtt++
	}
	if w.RTTMin > 0 {
		v.rttMin++
	}
	if w.MSS[Orig] > 0 && w.MSS[Resp] > 0 {
		v.mss++
	}
	if w.Timestamps[Orig] && w.Timestamps[Resp] {
		v.ts++
	}
	if w.SYNs[Orig] > 1 {
		v.synRe++
	}
}

func (v *viewChecker) Done(c *Conn) { delete(v.synTS, c) }

// TestSegmentViewMatchesConn checks that the view the tracker keeps in
// step (Segment.View, which observers running behind the tracker read
// instead of the Conn) never differs from the connection's own fields, on
// every segment of the test captures, and that FirstSYN marks the segment
// that set SYNTS, which no other changes.
func TestSegmentViewMatchesConn(t *testing.T) {
	paths := testCaptures(t)
	v := &viewChecker{t: t}
	for _, path := range paths {
		v.path = path
		trackInto(t, path, NewTracker(Config{}, v))
	}
	if v.rtt == 0 || v.rttMin == 0 || v.mss == 0 || v.ts == 0 || v.synRe == 0 || v.firstSYNs == 0 {
		t.Fatalf("the captures left a view field untested: %+v", *v)
	}
	t.Logf("%d segments; views with a handshake RTT %d, an RTT sample %d, both MSS %d, timestamps %d, a resent SYN %d",
		v.segs, v.rtt, v.rttMin, v.mss, v.ts, v.synRe)
}

// TestHTTPLineRecognition checks what a turn keeps of its first payload
// and how it counts it: the request line of every method (the first-letter
// filter in isHTTPRequest must let each through) and a status line, kept
// whatever the direction and counted in theirs only; payloads that are
// neither, kept and counted not at all.
func TestHTTPLineRecognition(t *testing.T) {
	type want struct {
		line      string
		req, resp int
	}
	cases := map[string][2]want{ // payload: as the client's turn, as the server's
		"HTTP/1.1 200 OK\r\nServer: x\r\n": {{"HTTP/1.1 200 OK", 0, 0}, {"HTTP/1.1 200 OK", 0, 1}},
		"HTTP/2 200\r\n":                   {},
		"HEADER":                           {},
		"GET":                              {},
		"get / HTTP/1.1\r\n":               {},
		"\x16\x03\x01\x02\x00":             {},
		"":                                 {},
	}
	for _, m := range httpMethods {
		line := string(m) + "/x HTTP/1.1"
		cases[line+"\r\nHost: a\r\n"] = [2]want{{line, 1, 0}, {line, 0, 0}}
	}
	for payload, w := range cases {
		for dir := range 2 {
			var c Conn
			p := &decode.Packet{TS: 1, Frame: 1, PayloadLen: len(payload) + 1, Payload: []byte(payload)}
			if payload == "" {
				p.Payload = nil
			}
			c.addTurn(nil, Dir(dir), p)
			var got want
			got.line = c.Turns[0].FirstLine
			if c.appInfo != nil {
				got.req, got.resp = c.appInfo.HTTP.Requests, c.appInfo.HTTP.Responses
			}
			if got != w[dir] {
				t.Errorf("%q from %v: line %q, %d requests, %d responses; want %+v", payload, Dir(dir), got.line, got.req, got.resp, w[dir])
			}
		}
	}
}

// TestSortConnsByID checks Flush's order: every connection once, by ID.
func TestSortConnsByID(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	var cs []*Conn
	for _, id := range r.Perm(1000) {
		cs = append(cs, &Conn{ID: int64(id) + 1})
	}
	sortConnsByID(cs)
	for i, c := range cs {
		if c.ID != int64(i)+1 {
			t.Fatalf("position %d holds connection %d", i, c.ID)
		}
	}
}
