package flows

import "github.com/pcapsleuth/pcapsleuth/decode"

// interesting is the set of segment kinds the packet log keeps context for.
const interesting = AnyRetransmission | SegOutOfOrder | SegZeroWindow | SegZeroWindowProbe |
	SegAckedUnseen | SegPrevNotCaptured | SegAfterPeerFIN

// log adds a packet to the bounded per-connection log. The head is always
// kept; later packets go through a small tail ring, from which the packets
// just before an anomaly (FIN, RST, SYN, retransmission, ...) are promoted,
// together with the few after it.
func (c *Conn) log(index int64, p *decode.Packet, dir Dir, relSeq, relAck, win uint32, kind SegKind) {
	le := LogEntry{Index: index, Frame: p.Frame, TS: p.TS, Dir: dir, Flags: p.Flags,
		RelSeq: relSeq, RelAck: relAck, Len: int32(p.PayloadLen), Win: win, Kind: kind}
	if index < logHead {
		c.Log = append(c.Log, le)
		return
	}
	anomaly := p.Flags&(decode.FlagSYN|decode.FlagFIN|decode.FlagRST) != 0 || kind&interesting != 0
	if anomaly || c.after > 0 {
		if len(c.Log) < logMax {
			// promote the context before the anomaly
			if anomaly {
				c.promoteTail(logAround)
				c.after = logAround
			} else {
				c.after--
			}
			c.Log = append(c.Log, le)
			c.tailN = 0
			return
		}
	}
	if c.tail == nil {
		c.tail = new([logTail]LogEntry)
	}
	c.tail[c.tailN%logTail] = le
	c.tailN++
}

// promoteTail moves the last n packets of the tail ring into the log.
func (c *Conn) promoteTail(n int) {
	if c.tail == nil {
		return
	}
	k := min(n, c.tailN, logTail)
	for i := c.tailN - k; i < c.tailN; i++ {
		le := c.tail[i%logTail]
		if len(c.Log) > 0 && c.Log[len(c.Log)-1].Index >= le.Index {
			continue
		}
		c.Log = append(c.Log, le)
	}
	c.tailN = 0
}

// finishLog appends the tail ring (the last packets) to the log, frees the
// ring, and trims the log to its length: a finished connection may be kept
// (an exemplar of a finding) until the report is written.
func (c *Conn) finishLog() {
	c.promoteTail(logTail)
	c.tail = nil
	if cap(c.Log)-len(c.Log) > 4 {
		c.Log = append([]LogEntry(nil), c.Log...)
	}
}
