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
	if c.tailN == 0 {
		c.tailIndex = index
	}
	if t := c.tail; t != nil {
		t[c.tailN%logTail].fill(p, dir, relSeq, relAck, win, kind)
	} else {
		c.tail = r.tail()
		c.tail[c.tailN%logTail].fill(p, dir, relSeq, relAck, win, kind)
	}
	if uint64(p.Frame) >= 1<<32 {
		c.frameHigh(c.tailN, p.Frame)
	}
	c.tailN++
}

// tailEntry is a LogEntry as the tail ring keeps it, in 32 bytes instead
// of 48: an entry never straddles two cache lines, and the ring takes six
// lines instead of nine. Most packets of a busy capture write one, and
// the line is rarely still in the cache. What it leaves out is known
// otherwise:
//   - the packet's index in the connection: the ring's entries since
//     tailN was last reset are consecutive packets of the connection, so
//     the entry at position i (see tailAt) is packet Conn.tailIndex+i;
//   - the upper half of the frame number, zero below 1<<32 frames, and kept
//     in Conn.tailHigh for a ring that passes it.
type tailEntry struct {
	ts     int64
	frame  uint32 // the frame number's lower half
	relSeq uint32
	relAck uint32
	len    int32
	win    uint32
	kind   uint16          // SegKind: 16 kinds
	flags  decode.TCPFlags // 9 flags, and the direction in tailDir
}

// tailDir is the bit of tailEntry.flags that holds the direction; decode's
// TCP flags take the nine bits below it.
const tailDir = 1 << 15

// fill sets every field of t in place (see LogEntry.fill).
func (t *tailEntry) fill(p *decode.Packet, dir Dir, relSeq, relAck, win uint32, kind SegKind) {
	t.ts, t.frame = p.TS, uint32(p.Frame)
	t.relSeq, t.relAck, t.len, t.win = relSeq, relAck, int32(p.PayloadLen), win
	t.kind, t.flags = uint16(kind), p.Flags&^tailDir|decode.TCPFlags(dir&1)<<15
}

// frameHigh keeps the upper half of frame, the frame number of the ring's
// entry at position i, for a capture of 1<<32 frames and more.
func (c *Conn) frameHigh(i int, frame int64) {
	if c.tailHigh == nil {
		c.tailHigh = new([logTail]uint32)
	}
	c.tailHigh[i%logTail] = uint32(uint64(frame) >> 32)
}

// tailAt returns the ring's entry at position i, one of the last logTail
// before tailN, as the LogEntry it was made from.
func (c *Conn) tailAt(i int) LogEntry {
	t := &c.tail[i%logTail]
	frame := int64(t.frame)
	if c.tailHigh != nil {
		frame |= int64(c.tailHigh[i%logTail]) << 32
	}
	return LogEntry{Index: c.tailIndex + int64(i), Frame: frame, TS: t.ts,
		Dir: Dir(t.flags >> 15), Flags: t.flags &^ tailDir,
		RelSeq: t.relSeq, RelAck: t.relAck, Len: t.len, Win: t.win, Kind: SegKind(t.kind)}
}

// setTail puts e into the ring at position i (unpack).
func (c *Conn) setTail(i int, e *LogEntry) {
	t := &c.tail[i%logTail]
	t.ts, t.frame = e.TS, uint32(e.Frame)
	t.relSeq, t.relAck, t.len, t.win = e.RelSeq, e.RelAck, e.Len, e.Win
	t.kind, t.flags = uint16(e.Kind), e.Flags&^tailDir|decode.TCPFlags(e.Dir&1)<<15
	c.tailIndex = e.Index - int64(i)
	if uint64(e.Frame) >= 1<<32 {
		c.frameHigh(i, e.Frame)
	}
}

// dropTail gives the ring back.
func (c *Conn) dropTail(r *recycler) {
	r.putTail(c.tail)
	c.tail, c.tailHigh = nil, nil
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
		le := c.tailAt(i)
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
	c.dropTail(r)
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
		e := c.tailAt(i)
		b = x.append(b, &e)
	}
	b = appendTurns(b, c.Turns)
	c.packed = append([]byte(nil), b...)
	r.putScratch(b)
	c.dropTail(r)
	r.putLog(c.Log)
	r.putTurns(c.Turns)
	c.Log, c.Turns = nil, nil
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
			e := d.logEntry(&x)
			c.setTail(i, &e)
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
