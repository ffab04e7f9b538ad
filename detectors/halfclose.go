package detectors

import "github.com/pcapsleuth/pcapsleuth/flows"

// This file reads a connection's teardown: who closed first, whether the
// other side acknowledged and answered that FIN, and what was exchanged
// before it. Every teardown detector starts from these facts.

// closeHow says how a half-closed socket ended.
type closeHow uint8

const (
	stillOpen closeHow = iota // open when the capture ended
	holderFIN                 // the holder sent its own FIN
	holderRST                 // the holder aborted with RST
	peerRST                   // the peer (which had sent FIN) reset the connection
)

// halfClose describes the side left half-closed by the peer's FIN.
type halfClose struct {
	Holder       flows.Dir // the side that received the first FIN
	PeerFIN      int64     // time of that FIN
	PeerFINFrame int64
	AckTS        int64    // when the holder ACKed it
	CloseTS      int64    // when the holder's socket ended (0 = open at the end)
	How          closeHow // how it ended
	// LastWrite is the holder's last payload after the FIN (0 = none), and
	// WriteUnacked tells that none of it was ever ACKed.
	LastWrite    int64
	WriteUnacked bool
}

// idleStart is when the holder last did something after the FIN: the FIN
// itself, or its last write after it.
func (h halfClose) idleStart() int64 { return max(h.PeerFIN, h.LastWrite) }

// halfCloseOf returns the teardown of c when one side sent a FIN first and
// the other ACKed it. It returns false when nobody sent a FIN, when the FIN
// was never seen acknowledged (lost, or a one-sided capture), when both
// sides closed at once, or when the connection was reset before the FIN.
func halfCloseOf(c *flows.Conn) (halfClose, bool) {
	o, r := c.Orig.FINTS, c.Resp.FINTS
	var first flows.Dir
	switch {
	case o == 0 && r == 0:
		return halfClose{}, false
	case r == 0 || (o != 0 && o < r):
		first = flows.Orig
	case o == 0 || r < o:
		first = flows.Resp
	default:
		return halfClose{}, false // simultaneous close
	}
	peer, h := c.Endpoint(first), c.Endpoint(first.Reverse())
	if peer.FINAckedTS == 0 {
		return halfClose{}, false
	}
	if (h.RSTTS != 0 && h.RSTTS < peer.FINTS) || (peer.RSTTS != 0 && peer.RSTTS < peer.FINTS) {
		return halfClose{}, false
	}
	hc := halfClose{Holder: first.Reverse(), PeerFIN: peer.FINTS, PeerFINFrame: peer.FINFrame, AckTS: peer.FINAckedTS}
	if a := h.DataAfterPeerFIN(); a.FirstTS != 0 {
		hc.LastWrite = max(a.LastTS, a.FirstTS)
		hc.WriteUnacked = !a.Acked
	}
	end := func(ts int64, how closeHow) {
		if ts != 0 && ts >= peer.FINTS && (hc.CloseTS == 0 || ts < hc.CloseTS) {
			hc.CloseTS, hc.How = ts, how
		}
	}
	end(h.FINTS, holderFIN)
	end(h.RSTTS, holderRST)
	end(peer.RSTTS, peerRST)
	return hc, true
}

// closerOf returns the side that ended the connection first (FIN or RST)
// and when; ok is false when neither did.
func closerOf(c *flows.Conn) (d flows.Dir, ts int64, ok bool) {
	first := func(e *flows.Endpoint) int64 {
		switch {
		case e.FINTS == 0:
			return e.RSTTS
		case e.RSTTS == 0:
			return e.FINTS
		}
		return min(e.FINTS, e.RSTTS)
	}
	o, r := first(&c.Orig), first(&c.Resp)
	switch {
	case o == 0 && r == 0:
		return 0, 0, false
	case r == 0 || (o != 0 && o <= r):
		return flows.Orig, o, true
	}
	return flows.Resp, r, true
}

// lastTurnBefore returns the last payload run that started before ts.
// flows keeps the first and the last turns of long connections, so the
// turns just before a close are always there.
func lastTurnBefore(c *flows.Conn, ts int64) (flows.Turn, bool) {
	for i := len(c.Turns) - 1; i >= 0; i-- {
		if c.Turns[i].StartTS < ts {
			return c.Turns[i], true
		}
	}
	return flows.Turn{}, false
}

// firstTurnFrom returns the first payload run of direction d that started
// at or after ts.
func firstTurnFrom(c *flows.Conn, d flows.Dir, ts int64) (flows.Turn, bool) {
	for _, t := range c.Turns {
		if t.Dir == d && t.StartTS >= ts {
			return t, true
		}
	}
	return flows.Turn{}, false
}

// establishedAt returns when the handshake completed as far as the capture
// shows (the SYN-ACK when the final ACK was not seen), or 0.
func establishedAt(c *flows.Conn) int64 {
	if c.EstablishedTS != 0 {
		return c.EstablishedTS
	}
	return c.SYNACKTS
}

// idleBefore returns how long the connection had been idle when side d
// closed it at ts: the time since the last payload of either direction (or
// since the handshake when nothing was sent). ok is false when the capture
// does not show the start of that idle period, or when a request of the
// initiator was still unanswered (that is a request timeout, not idleness).
func idleBefore(c *flows.Conn, ts int64) (idle int64, last flows.Turn, hasTurn bool, ok bool) {
	t, found := lastTurnBefore(c, ts)
	if !found {
		est := establishedAt(c)
		if !c.DirKnown || est == 0 || est > ts {
			return 0, flows.Turn{}, false, false
		}
		return ts - est, flows.Turn{}, false, true
	}
	if t.Dir == flows.Orig {
		return 0, t, true, false // the last word was the client's: a request was pending
	}
	end := t.EndTS
	if end > ts {
		end = ts
	}
	return ts - end, t, true, true
}

// isProbe reports whether c is a connect-and-close probe: a completed
// handshake, then a FIN from the initiator within maxLife, with no payload
// in either direction.
func isProbe(c *flows.Conn, maxLife int64) bool {
	est := establishedAt(c)
	return c.DirKnown && est != 0 && c.Orig.Bytes == 0 && c.Resp.Bytes == 0 &&
		c.Orig.FINTS != 0 && c.Orig.FINTS >= est && c.Orig.FINTS-est <= maxLife &&
		(c.Resp.FINTS == 0 || c.Resp.FINTS >= c.Orig.FINTS) && c.Orig.RSTTS == 0
}

// tlsUnfinished reports whether c started a TLS handshake that never
// finished.
func tlsUnfinished(c *flows.Conn) bool {
	t := c.App().TLS
	return t.Seen && t.ClientHelloTS != 0 && !t.HandshakeComplete
}
