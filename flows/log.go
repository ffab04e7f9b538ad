package flows

import (
	"encoding/binary"

	"github.com/pcapsleuth/pcapsleuth/decode"
)

// interesting is the set of segment kinds the packet log keeps context for.
const interesting = AnyRetransmission | SegOutOfOrder | SegZeroWindow | SegZeroWindowProbe |
	SegAckedUnseen | SegPrevNotCaptured | SegAfterPeerFIN

// log adds a packet to the bounded per-connection log. The head is always
// kept; later packets go through a small tail ring, from which the packets
// just before an anomaly (FIN, RST, SYN, retransmission, ...) are promoted,
// together with the few after it.
func (c *Conn) log(r *recycler, index int64, p *decode.Packet, dir Dir, relSeq, relAck, win uint32, kind SegKind) {
	if c.Log == nil {
		c.unpack(r, false) // a resting connection sends again
	}
	if index < logHead {
		c.Log = append(c.Log, LogEntry{})
		c.Log[len(c.Log)-1].fill(index, p, dir, relSeq, relAck, win, kind)
		return
	}
	anomaly := p.Flags&(decode.FlagSYN|decode.FlagFIN|decode.FlagRST) != 0 || kind&interesting != 0
	if anomaly || c.after > 0 {
		if len(c.Log) < logMax {
			// promote the context before the anomaly
			if anomaly {
				c.promoteTail(r, logAround)
				c.after = logAround
			} else {
				c.after--
			}
			c.Log = append(r.growLog(c.Log, 1), LogEntry{})
			c.Log[len(c.Log)-1].fill(index, p, dir, relSeq, relAck, win, kind)
			c.tailN = 0
			return
		}
	}
	// The ring is indexed only where it is known not to be nil: the
	// compiler tested it by loading its first line, which most entries are
	// not on, a cache miss on most packets (Tracker.Warm loads the entry's).
	if t := c.tail; t != nil {
		t[c.tailN%logTail].fill(index, p, dir, relSeq, relAck, win, kind)
	} else {
		c.tail = r.tail()
		c.tail[c.tailN%logTail].fill(index, p, dir, relSeq, relAck, win, kind)
	}
	c.tailN++
}

// fill sets every field of le in place, field by field: an entry built as
// a composite literal and then copied is read back with loads that
// straddle the stores that built it, which the CPU cannot forward, and
// each waits for every store still pending (Tracker.update fills its
// Segment the same way).
func (le *LogEntry) fill(index int64, p *decode.Packet, dir Dir, relSeq, relAck, win uint32, kind SegKind) {
	le.Index, le.Frame, le.TS = index, p.Frame, p.TS
	le.Dir, le.Flags = dir, p.Flags
	le.RelSeq, le.RelAck, le.Len, le.Win, le.Kind = relSeq, relAck, int32(p.PayloadLen), win, kind
}

// promoteTail moves the last n packets of the tail ring into the log.
func (c *Conn) promoteTail(r *recycler, n int) {
	if c.tail == nil {
		return
	}
	k := min(n, c.tailN, logTail)
	c.Log = r.growLog(c.Log, k)
	for i := c.tailN - k; i < c.tailN; i++ {
		le := c.tail[i%logTail]
		if len(c.Log) > 0 && c.Log[len(c.Log)-1].Index >= le.Index {
			continue
		}
		c.Log = append(c.Log, le)
	}
	c.tailN = 0
}

// finishLog appends the tail ring (the last packets) to the log and frees
// the ring. The log is not trimmed to its length: nearly every finished
// connection is dropped once the observers had it (the exemplars they keep
// are frozen copies), and the trimming copy was a twelfth of all an
// analysis allocated.
func (c *Conn) finishLog(r *recycler) {
	if c.Log == nil {
		c.unpack(r, true)
	}
	c.promoteTail(r, logTail)
	r.putTail(c.tail)
	c.tail = nil
}

// pack encodes what a resting connection keeps of its past into packed and
// frees it: the log and the tail ring's live entries (the last
// min(tailN, logTail), all that promoteTail can read) as differences (see
// logDelta), then the turns. A resting
// connection's log costs about a third of its 48-byte entries, its turns
// about a quarter of their 56 bytes. unpack restores them exactly when the
// connection sends again or finishes. Packing a packed connection does
// nothing.
func (c *Conn) pack(r *recycler) {
	if c.Log == nil {
		return
	}
	k := 0
	if c.tail != nil {
		k = min(c.tailN, logTail)
	}
	b := r.scratch(4 + 24*(len(c.Log)+k+len(c.Turns)))
	b = binary.AppendUvarint(b, uint64(len(c.Log)))
	b = binary.AppendUvarint(b, uint64(k))
	var x logDelta
	for i := range c.Log {
		b = x.append(b, &c.Log[i])
	}
	for i := c.tailN - k; i < c.tailN; i++ {
		b = x.append(b, &c.tail[i%logTail])
	}
	b = appendTurns(b, c.Turns)
	c.packed = append([]byte(nil), b...)
	r.putScratch(b)
	r.putTail(c.tail)
	r.putLog(c.Log)
	r.putTurns(c.Turns)
	c.Log, c.tail, c.Turns = nil, nil, nil
}

// unpack undoes pack; on a connection never packed it makes the log's
// first buffer. final: the connection is finishing, so the log gets room
// for the tail ring's entries and no more. The bytes are the tracker's
// own; were they damaged (which cannot happen) the log would stop short,
// never panic.
func (c *Conn) unpack(r *recycler, final bool) {
	d := thawer{b: c.packed}
	n := int(min(d.uvarint(), 1<<16)) // a bound for the allocation only
	k := int(min(d.uvarint(), logTail))
	room := max(n, logHead)
	if final {
		room = n + k
	}
	c.Log = r.logBuf(room)
	var x logDelta
	for range n {
		if e := d.logEntry(&x); d.err == nil {
			c.Log = append(c.Log, e)
		}
	}
	if k > 0 && c.tailN >= k {
		c.tail = r.tail()
		for i := c.tailN - k; i < c.tailN; i++ {
			c.tail[i%logTail] = d.logEntry(&x)
		}
	}
	if c.packed != nil {
		c.Turns = d.turns(r)
	}
	c.packed = nil
}

// appendTurns appends turns: their number + 1 (0 for nil), then each turn's
// fields, the times and frame as differences from the turn before.
func appendTurns(b []byte, turns []Turn) []byte {
	if turns == nil {
		return append(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(turns))+1)
	var prev Turn
	for i := range turns {
		t := &turns[i]
		b = append(b, byte(t.Dir))
		b = binary.AppendVarint(b, t.StartTS-prev.StartTS)
		b = binary.AppendVarint(b, t.EndTS-t.StartTS)
		b = binary.AppendVarint(b, t.Frame-prev.Frame)
		b = binary.AppendVarint(b, t.Bytes)
		b = binary.AppendVarint(b, t.Segments)
		b = binary.AppendUvarint(b, uint64(len(t.FirstLine)))
		b = append(b, t.FirstLine...)
		prev = *t
	}
	return b
}

// turns reads what appendTurns wrote into a buffer from r, with room for
// the turns to come.
func (d *thawer) turns(r *recycler) []Turn {
	n := d.uvarint()
	if n == 0 || d.err != nil {
		return nil
	}
	n = min(n-1, maxTurns)
	out := r.turnsBuf(int(n))
	var prev Turn
	for range n {
		var t Turn
		if b := d.bytes(1); b != nil {
			t.Dir = Dir(b[0])
		}
		t.StartTS = prev.StartTS + unzigzag(d.uvarint())
		t.EndTS = t.StartTS + unzigzag(d.uvarint())
		t.Frame = prev.Frame + unzigzag(d.uvarint())
		t.Bytes = unzigzag(d.uvarint())
		t.Segments = unzigzag(d.uvarint())
		t.FirstLine = string(d.bytes(d.uvarint()))
		if d.err != nil {
			break
		}
		out = append(out, t)
		prev = t
	}
	return out
}

// logDelta is the state of the log's difference coding: the entry before
// (index, frame and time move with every packet) and the entry before in
// each direction (sequence, ACK and window numbers move per direction, so
// most of their differences take a byte). A LogEntry's Dir is Orig or Resp.
type logDelta struct {
	prev  LogEntry
	byDir [2]LogEntry
}

// append appends e as differences from the entries before, then makes it
// the entry before.
func (x *logDelta) append(b []byte, e *LogEntry) []byte {
	d := &x.byDir[e.Dir&1]
	b = binary.AppendVarint(b, e.Index-x.prev.Index)
	b = binary.AppendVarint(b, e.Frame-x.prev.Frame)
	b = binary.AppendVarint(b, e.TS-x.prev.TS)
	b = binary.AppendUvarint(b, uint64(e.Flags)<<1|uint64(e.Dir&1))
	b = binary.AppendVarint(b, int64(int32(e.RelSeq-d.RelSeq)))
	b = binary.AppendVarint(b, int64(int32(e.RelAck-d.RelAck)))
	b = binary.AppendVarint(b, int64(e.Len))
	b = binary.AppendVarint(b, int64(int32(e.Win-d.Win)))
	b = binary.AppendUvarint(b, uint64(e.Kind))
	x.prev, *d = *e, *e
	return b
}

// logEntry reads what logDelta.append wrote, then makes the entry the one
// before. Signed fields are binary.AppendVarint's zigzag uvarints; the
// 32-bit ones wrap as they were subtracted.
func (d *thawer) logEntry(x *logDelta) LogEntry {
	var e LogEntry
	e.Index = x.prev.Index + unzigzag(d.uvarint())
	e.Frame = x.prev.Frame + unzigzag(d.uvarint())
	e.TS = x.prev.TS + unzigzag(d.uvarint())
	fd := d.uvarint()
	e.Dir, e.Flags = Dir(fd&1), decode.TCPFlags(fd>>1)
	p := &x.byDir[e.Dir]
	e.RelSeq = p.RelSeq + uint32(unzigzag(d.uvarint()))
	e.RelAck = p.RelAck + uint32(unzigzag(d.uvarint()))
	e.Len = int32(unzigzag(d.uvarint()))
	e.Win = p.Win + uint32(unzigzag(d.uvarint()))
	e.Kind = SegKind(d.uvarint())
	x.prev, *p = e, e
	return e
}
