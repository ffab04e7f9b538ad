package flows

import (
	"math"
	"net/netip"
	"testing"

	"github.com/pcapsleuth/pcapsleuth/decode"
)

// recorder is an Observer that keeps everything for assertions.
type recorder struct {
	done []*Conn
	segs []Segment
}

func (r *recorder) Segment(c *Conn, s *Segment) {
	cp := *s
	cp.P = nil
	r.segs = append(r.segs, cp)
}
func (r *recorder) Done(c *Conn) { r.done = append(r.done, c) }

// convo builds segments of one connection with automatic seq/ack tracking.
type convo struct {
	t     *testing.T
	tr    *Tracker
	c, s  netip.AddrPort
	seq   [2]uint32 // next seq per side (0 = client)
	ack   [2]bool   // side has seen the other's ISN
	frame int64
}

func newConvo(t *testing.T, tr *Tracker, client, server string) *convo {
	return &convo{t: t, tr: tr, c: netip.MustParseAddrPort(client), s: netip.MustParseAddrPort(server),
		seq: [2]uint32{1000, 5000}}
}

type segOpt func(p *decode.Packet)

func withWin(w uint16) segOpt { return func(p *decode.Packet) { p.Window = w } }
func withSeq(s uint32) segOpt { return func(p *decode.Packet) { p.Seq = s } }
func withMSS(m uint16) segOpt { return func(p *decode.Packet) { p.Opts.MSS = m } }
func withPayload(b []byte) segOpt {
	return func(p *decode.Packet) { p.Payload = b; p.PayloadLen = len(b) }
}
func withAck(a uint32) segOpt { return func(p *decode.Packet) { p.Ack = a } }
func withTrunc(plen int) segOpt {
	return func(p *decode.Packet) { p.PayloadLen = plen; p.Truncated = true }
}
func withFrame(f int64) segOpt  { return func(p *decode.Packet) { p.Frame = f } }
func withWScale(ws int8) segOpt { return func(p *decode.Packet) { p.Opts.WScale = ws } }

// send emits one segment from the client (fromClient) or the server with
// flags and n payload bytes, at time sec, advancing that side's seq.
func (cv *convo) send(sec float64, fromClient bool, flags decode.TCPFlags, n int, opts ...segOpt) *decode.Packet {
	side, other := 1, 0
	src, dst := cv.s, cv.c
	if fromClient {
		side, other = 0, 1
		src, dst = cv.c, cv.s
	}
	cv.frame++
	p := &decode.Packet{Frame: cv.frame, TS: ns(sec), Src: src, Dst: dst, Seq: cv.seq[side],
		Flags: flags, Window: 1000, PayloadLen: n}
	p.Opts.WScale = -1
	if flags.Has(decode.FlagACK) {
		p.Ack = cv.seq[other]
	}
	if n > 0 {
		p.Payload = make([]byte, n)
		for i := range p.Payload {
			p.Payload[i] = byte('a' + i%26)
		}
	}
	for _, o := range opts {
		o(p)
	}
	adv := uint32(p.PayloadLen)
	if flags.Has(decode.FlagSYN) {
		adv++
	}
	if flags.Has(decode.FlagFIN) {
		adv++
	}
	if p.Seq == cv.seq[side] {
		cv.seq[side] += adv
	} else if seqGT(p.Seq+adv, cv.seq[side]) {
		cv.seq[side] = p.Seq + adv
	}
	cv.tr.Add(p)
	return p
}

// t0 is the capture clock's origin in the tests: real captures never have
// timestamp 0.
const t0 = int64(1_700_000_000e9)

// ns converts test seconds to capture time, rounded to the microsecond.
func ns(sec float64) int64 { return t0 + int64(math.Round(sec*1e6))*1e3 }

const (
	syn    = decode.FlagSYN
	ack    = decode.FlagACK
	fin    = decode.FlagFIN
	rst    = decode.FlagRST
	psh    = decode.FlagPSH
	synack = decode.FlagSYN | decode.FlagACK
	finack = decode.FlagFIN | decode.FlagACK
	pshack = decode.FlagPSH | decode.FlagACK
	rstack = decode.FlagRST | decode.FlagACK
)

func (cv *convo) handshake(sec float64) {
	cv.send(sec, true, syn, 0, withMSS(1460))
	cv.send(sec+0.001, false, synack, 0, withMSS(1460))
	cv.send(sec+0.002, true, ack, 0)
}
