package flows

import (
	"cmp"
	"math"
	"slices"

	"github.com/pcapsleuth/pcapsleuth/decode"
)

// Observer receives what the tracker learns, in capture order, in the same
// single pass over the capture.
type Observer interface {
	// Segment is called for every TCP segment after the tracker classified it
	// and updated c. s and s.P are valid only during the call.
	Segment(c *Conn, s *Segment)
	// Done is called exactly once per connection, when the tracker hands it
	// on: closed and lingered, evicted, reused by a new SYN, or at Flush.
	// c is never modified afterwards; the observer may keep it, unless the
	// tracker has a ConnPool (see SetPool): then c may be reused once
	// every observer is done with it.
	Done(c *Conn)
}

// Config bounds the tracker's memory and sets its timers. Zero fields take
// the defaults of DefaultConfig.
type Config struct {
	// MaxConns is the number of live connections kept; beyond it, closed
	// connections and then the least recently active ones are handed on early
	// (Stats.Evicted counts them).
	MaxConns int
	// AppBytes is how many bytes of each direction are reassembled for the
	// TLS and HTTP sniffers.
	AppBytes int
	// Linger is how long (capture time, ns) a closed connection stays in the
	// table after its last packet to absorb late retransmissions before it
	// is handed on. At most maxLingering closed connections wait at once;
	// beyond that the oldest is handed on early.
	Linger int64
	// MaxHalfOpen bounds the half-open connections kept (nothing seen but
	// the client's SYNs): beyond it the oldest is handed on, as a kernel's
	// SYN backlog does. A SYN flood then costs this many connections, not
	// MaxConns. Capped at MaxConns.
	MaxHalfOpen int
}

// DefaultConfig returns the default limits.
func DefaultConfig() Config {
	return Config{MaxConns: 100_000, AppBytes: 4096, Linger: 30e9, MaxHalfOpen: 10_000}
}

// Stats counts the tracker's work.
type Stats struct {
	Segments int64 // TCP segments seen
	Conns    int64 // connections created
	Evicted  int64 // connections handed on early because of MaxConns or MaxHalfOpen
	// HalfOpenEvicted counts the evictions (included in Evicted) of
	// half-open connections beyond MaxHalfOpen: a SYN flood's mark.
	HalfOpenEvicted int64
	Reused          int64 // connections ended by a new SYN on the same 4-tuple
	PeakLive        int   // most connections live at once
	Backwards       int64 // packets whose timestamp is earlier than the previous one
	// Rested counts the times an idle connection's transmission histories
	// were freed (see restAfter).
	Rested int64
}

// Tracker follows every TCP connection of a capture. It is not safe for
// concurrent use.
type Tracker struct {
	cfg    Config
	obs    Observer
	table  connTable
	live   []*Conn // every live connection; Conn.slot is its index
	cursor int     // where the next eviction scan starts
	// restCursor is the live connection restOne looked at last.
	restCursor int
	closed     []*Conn
	// halfHead and halfTail are the ends of the list of half-open
	// connections (Conn.halfPrev, halfNext), oldest first; halfN counts
	// them.
	halfHead, halfTail *Conn
	halfN              int
	nextID             int64
	lastTS             int64
	last               *Conn  // the connection of the last segment, while live
	warmSink           uint64 // what Warm and Flush read ahead, so that no compiler drops the loads
	// recycle keeps the scratch finished and resting connections give
	// back (nil: allocate every time, as the tests compare).
	recycle *recycler
	// pool, when set, gives back finished connections to reuse; spare
	// holds those taken from it (see newConn).
	pool  *ConnPool
	spare []*Conn
	seg   Segment
	stats Stats
}

// NewTracker returns a tracker that reports to obs.
func NewTracker(cfg Config, obs Observer) *Tracker {
	def := DefaultConfig()
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = def.MaxConns
	}
	if cfg.AppBytes <= 0 {
		cfg.AppBytes = def.AppBytes
	}
	if cfg.Linger <= 0 {
		cfg.Linger = def.Linger
	}
	if cfg.MaxHalfOpen <= 0 {
		cfg.MaxHalfOpen = def.MaxHalfOpen
	}
	cfg.MaxHalfOpen = min(cfg.MaxHalfOpen, cfg.MaxConns)
	return &Tracker{cfg: cfg, obs: obs, table: newConnTable(), recycle: new(recycler)}
}

// Stats returns the tracker's counters so far.
func (t *Tracker) Stats() Stats { return t.stats }

// Live returns the number of connections currently tracked.
func (t *Tracker) Live() int { return t.table.n }

// Add processes one TCP segment.
func (t *Tracker) Add(p *decode.Packet) { t.add(p, Key{}) }

// Keyer computes, for a packet, the key its connection is looked up by in
// one tracker's table. It is a copy of that table's seed: safe to use on
// another goroutine while the tracker runs, so that a reading goroutine can
// take the hashing off the tracking one.
type Keyer struct{ tab connTable }

// Key is a packet's lookup key from a Keyer (see AddKeyed).
type Key struct {
	h    uint64
	seed uint64 // the keyer's, to tell a key of another tracker (0: none)
}

// Keyer returns the keyer of t's table.
func (t *Tracker) Keyer() Keyer { return Keyer{tab: connTable{seed: t.table.seed}} }

// Key returns the lookup key of p's connection.
func (k *Keyer) Key(p *decode.Packet) Key {
	return Key{h: k.tab.hash(p.Src, p.Dst), seed: k.tab.seed[0]}
}

// AddKeyed is Add with p's key computed beforehand by t.Keyer(). A key of
// another tracker's keyer (or the zero Key) is ignored: the key is then
// computed here, as Add does.
func (t *Tracker) AddKeyed(p *decode.Packet, k Key) { t.add(p, k) }

func (t *Tracker) add(p *decode.Packet, k Key) {
	t.stats.Segments++
	if p.TS <= 0 {
		// Zero marks "never" in every time field (FINTS, RSTTS...): a
		// packet stamped at the epoch itself (or before, from a broken
		// clock) moves to 1 ns after it.
		p.TS = 1
	}
	if p.TS < t.lastTS {
		t.stats.Backwards++
	} else {
		t.lastTS = p.TS
	}
	// Segments often come in runs of one connection: the last one is
	// checked before the table.
	c := t.last
	if c == nil || !matches(c, p.Src, p.Dst) {
		if k.seed != t.table.seed[0] {
			k.h = t.table.hash(p.Src, p.Dst)
		}
		c = t.table.getHashed(k.h, p.Src, p.Dst)
	}
	if c != nil && p.Flags&(decode.FlagSYN|decode.FlagACK|decode.FlagRST) == decode.FlagSYN && startsNewConn(c, p) {
		t.finish(c, EndReused)
		t.stats.Reused++
		c = nil
	}
	if c == nil {
		c = t.open(p)
	}
	t.last = c
	dir := Resp
	if p.Src == c.Orig.Addr {
		dir = Orig
	}
	if c.halfOpen && (dir == Resp || p.Flags&(decode.FlagSYN|decode.FlagACK|decode.FlagRST|decode.FlagFIN) != decode.FlagSYN) {
		t.leaveHalfOpen(c)
	}
	t.update(c, dir, p)
	t.sweep()
	if t.stats.Segments%restEvery == 0 {
		t.restOne()
	}
}

// A connection silent for restAfter (capture time) with everything ACKed
// both ways and no capture hole open rests: its transmission histories are
// freed (they are reallocated if it sends again), and its packet log is
// packed (Conn.pack; restored exactly when it sends again or finishes).
// On long captures most live connections are such: leaked CLOSE_WAIT
// sockets, idle pooled connections. The only difference it can make is the
// timing of a resend of data the peer had ACKed more than restAfter before
// (SinceFirstTx unknown).
const (
	// 15 s: keep-alive pools and leaked sockets are silent far longer,
	// and a resend of data ACKed 15 s before is spurious whatever its age
	// (a minute rested 16,939 of h1g's 35,768 live connections at the end
	// and 15 s brought its largest live heap from 250 to 237 MB; outputs
	// identical).
	restAfter = int64(15e9)
	// restEvery is how many segments pass between two looks at one live
	// connection (from a rotating cursor): O(1) per segment, and every
	// connection is looked at every restEvery×live segments.
	restEvery = 32
)

// restOne looks at the next live connection from the rest cursor.
func (t *Tracker) restOne() {
	n := len(t.live)
	if n == 0 {
		return
	}
	t.restCursor++
	if t.restCursor >= n {
		t.restCursor = 0
	}
	c := t.live[t.restCursor]
	if c.Orig.hist == nil && c.Resp.hist == nil || t.lastTS-c.LastTS < restAfter {
		return
	}
	if c.Orig.settled(&c.Resp) && c.Resp.settled(&c.Orig) {
		t.dropHistories(c)
		c.pack(t.recycle)
		t.stats.Rested++
	}
}

// Flush hands on every live connection, in ID order; call it at the end of
// the capture.
//
// A finished connection is dropped from the tracker's lists at once (the
// closed and half-open queues hold live ones only), so that the observers
// alone decide what stays in memory: a capture ending with tens of
// thousands of live connections would otherwise hold all of them, logs
// unpacked, to the end.
func (t *Tracker) Flush() {
	conns := append([]*Conn(nil), t.live...)
	sortConnsByID(conns)
	clear(t.closed)
	t.closed = t.closed[:0]
	for i, c := range conns {
		if i%flushReclaim == 0 {
			t.reclaim(i == 0)
		}
		if i+flushAhead < len(conns) {
			t.warmSink += warmFinish(conns[i+flushAhead])
		}
		conns[i] = nil
		t.finish(c, EndCaptureEnd)
	}
	t.table.reset()
	t.live = t.live[:0]
}

// flushAhead is how many connections ahead of the one it finishes Flush
// loads the first lines of (warmFinish): in ID order the connections lie
// anywhere in memory, and finishing each waited for its lines one after
// the other.
const flushAhead = 8

// warmFinish reads a word of the lines finish reads first of c: its first
// two (the log, the tail ring, the queues' fields), its last (the packed
// log of a resting connection) and each endpoint's fourth (the
// transmission history).
func warmFinish(c *Conn) uint64 {
	s := uint64(c.Packets) + uint64(c.closedTS) + uint64(len(c.packed))
	if c.Orig.hist != nil || c.Resp.hist != nil {
		s++
	}
	return s
}

// sortConnsByID sorts cs by ID. Each ID is read once, into a slice sorted
// with its connection: sorting the connections themselves read two cold
// connections at each of the sort's comparisons.
func sortConnsByID(cs []*Conn) {
	type byID struct {
		id int64
		c  *Conn
	}
	k := make([]byID, len(cs))
	for i, c := range cs {
		k[i] = byID{c.ID, c}
	}
	slices.SortFunc(k, func(a, b byID) int { return cmp.Compare(a.id, b.id) })
	for i := range k {
		cs[i] = k[i].c
	}
}

// startsNewConn reports whether a pure SYN on an existing 4-tuple starts a new
// connection (port reuse), as Wireshark's tcp.stream does: the old one was
// closed, or the SYN carries a new initial sequence number.
func startsNewConn(c *Conn, p *decode.Packet) bool {
	if c.Orig.FINTS != 0 || c.Resp.FINTS != 0 || c.Orig.RSTTS != 0 || c.Resp.RSTTS != 0 {
		if p.Src == c.Orig.Addr && c.Orig.HasISN && p.Seq == c.Orig.ISN {
			return false // a retransmitted SYN of this very connection
		}
		return true
	}
	e := &c.Orig
	if p.Src != c.Orig.Addr {
		e = &c.Resp
	}
	if !e.hasNext {
		return false
	}
	if e.HasISN {
		return p.Seq != e.ISN
	}
	// Mid-stream connection: a SYN whose seq is not the base we started from.
	return p.Seq != e.ISN+1
}

func (t *Tracker) open(p *decode.Packet) *Conn {
	t.nextID++
	t.stats.Conns++
	c := t.newConn()
	c.ID, c.FirstFrame, c.FirstTS, c.LastTS = t.nextID, p.Frame, p.TS, p.TS
	client, server := p.Src, p.Dst
	switch {
	case p.Flags.Has(decode.FlagSYN) && !p.Flags.Has(decode.FlagACK):
		c.DirKnown = true
	case p.Flags.Has(decode.FlagSYN | decode.FlagACK):
		client, server = p.Dst, p.Src
		c.DirKnown = true
	default:
		if !ephemeralFirst(p.Src.Port(), p.Dst.Port()) {
			client, server = p.Dst, p.Src
		}
	}
	c.Orig.Addr, c.Resp.Addr = client, server
	c.Orig.WScale, c.Resp.WScale = -1, -1
	c.Orig.Transitions = c.Orig.trBuf[:0]
	c.Resp.Transitions = c.Resp.trBuf[:0]
	c.Log = t.recycle.logBuf(logHead)
	if !c.DirKnown {
		// A capture that starts mid-connection: both sides are established.
		c.Orig.setState(p.TS, 0, StateEstablished)
		c.Resp.setState(p.TS, 0, StateEstablished)
	}
	t.table.put(c)
	c.slot = len(t.live)
	t.live = append(t.live, c)
	if n := t.table.n; n > t.stats.PeakLive {
		t.stats.PeakLive = n
	}
	if t.table.n > t.cfg.MaxConns {
		t.evictOne(c)
	}
	if p.Flags&(decode.FlagSYN|decode.FlagACK|decode.FlagRST) == decode.FlagSYN {
		c.halfOpen = true
		t.halfN++
		t.queueHalfOpen(c)
		if t.halfN > t.cfg.MaxHalfOpen {
			t.evictHalfOpen(c)
		}
	}
	return c
}

// leaveHalfOpen records that c is no longer half-open (answered, or
// handed on) and takes it off the half-open list.
func (t *Tracker) leaveHalfOpen(c *Conn) {
	c.halfOpen = false
	t.halfN--
	if c.halfPrev != nil {
		c.halfPrev.halfNext = c.halfNext
	} else {
		t.halfHead = c.halfNext
	}
	if c.halfNext != nil {
		c.halfNext.halfPrev = c.halfPrev
	} else {
		t.halfTail = c.halfPrev
	}
	c.halfPrev, c.halfNext = nil, nil
}

// evictHalfOpen hands on the oldest half-open connection but keep (the
// newest).
func (t *Tracker) evictHalfOpen(keep *Conn) {
	if c := t.halfHead; c != nil && c != keep {
		t.stats.Evicted++
		t.stats.HalfOpenEvicted++
		t.finish(c, EndEvicted)
	}
}

// queueHalfOpen appends c, half-open, to the half-open list.
func (t *Tracker) queueHalfOpen(c *Conn) {
	c.halfPrev = t.halfTail
	if t.halfTail != nil {
		t.halfTail.halfNext = c
	} else {
		t.halfHead = c
	}
	t.halfTail = c
}

// ephemeralFirst reports whether port a looks like the client's (ephemeral)
// port rather than b. The rule, for captures that start mid-connection: a
// port in the dynamic range (>= 32768) beats one below it; otherwise a port
// >= 1024 beats a well-known one; otherwise the higher port is the client's.
func ephemeralFirst(a, b uint16) bool {
	ea, eb := a >= 32768, b >= 32768
	if ea != eb {
		return ea
	}
	wa, wb := a < 1024, b < 1024
	if wa != wb {
		return wb
	}
	return a >= b
}

// maxLingering bounds the closed connections waiting out their linger time:
// on a busy capture thousands of connections close every second.
const maxLingering = 8192

// evictScan is how many live connections an eviction compares.
const evictScan = 64

// unlink removes c from the live slice (swap-remove).
func (t *Tracker) unlink(c *Conn) {
	i := c.slot
	if i < 0 || i >= len(t.live) || t.live[i] != c {
		return
	}
	last := len(t.live) - 1
	t.live[i] = t.live[last]
	t.live[i].slot = i
	t.live[last] = nil
	t.live = t.live[:last]
	c.slot = -1
}

// evictOne hands on one connection to make room, never keep.
func (t *Tracker) evictOne(keep *Conn) {
	for len(t.closed) > 0 {
		c := t.closed[0]
		t.closed = t.closed[1:]
		if !t.table.holds(c) {
			continue // finished already: the observers' now, not to be written
		}
		c.inQueue = false
		if c != keep {
			t.finish(c, EndClosed)
			return
		}
	}
	// An approximate LRU without per-packet bookkeeping: among evictScan
	// live connections from a rotating cursor, the least recently active
	// (ties: the oldest ID) goes. Deterministic, O(1) per packet.
	var victim *Conn
	n := len(t.live)
	for k := 0; k < evictScan && k < n; k++ {
		c := t.live[(t.cursor+k)%n]
		if c == keep {
			continue
		}
		if victim == nil || c.LastTS < victim.LastTS || (c.LastTS == victim.LastTS && c.ID < victim.ID) {
			victim = c
		}
	}
	if n > 0 {
		t.cursor = (t.cursor + evictScan) % n
	}
	if victim != nil {
		t.stats.Evicted++
		t.finish(victim, EndEvicted)
	}
}

// sweep hands on closed connections whose linger time has passed.
func (t *Tracker) sweep() {
	for len(t.closed) > 0 {
		c := t.closed[0]
		if c.closedTS+t.cfg.Linger > t.lastTS && len(t.closed) <= maxLingering {
			return
		}
		t.closed[0] = nil
		t.closed = t.closed[1:]
		if !t.table.holds(c) {
			continue // finished already: the observers' now, not to be written
		}
		c.inQueue = false
		if c.LastTS+t.cfg.Linger > t.lastTS && len(t.closed) < maxLingering {
			// Active again since it closed (late retransmissions, a SYN
			// with the same ISN): linger from its last packet.
			c.closedTS = c.LastTS
			c.inQueue = true
			t.closed = append(t.closed, c)
			continue
		}
		t.finish(c, EndClosed)
	}
	if cap(t.closed) > 1024 && len(t.closed) < cap(t.closed)/4 {
		t.closed = append([]*Conn(nil), t.closed...)
	}
}

func (t *Tracker) finish(c *Conn, why EndReason) {
	t.table.remove(c)
	if t.last == c {
		t.last = nil
	}
	t.unlink(c)
	if c.halfOpen {
		t.leaveHalfOpen(c)
	}
	c.EndState = why
	// Reusable unless the closed queue still names it (an entry met later
	// would take the connection reusing c for c).
	c.reusable = !c.inQueue
	c.finishLog(t.recycle)
	c.app[0], c.app[1] = nil, nil
	c.Orig.UnfilledGaps, c.Resp.UnfilledGaps = c.Orig.unfilledGaps(), c.Resp.unfilledGaps()
	t.dropHistories(c)
	t.obs.Done(c)
}

// dropHistories gives c's transmission histories back to the recycler.
func (t *Tracker) dropHistories(c *Conn) {
	t.recycle.putHist(c.Orig.hist)
	t.recycle.putHist(c.Resp.hist)
	c.Orig.hist, c.Resp.hist = nil, nil
}

// markClosed queues c, closed at ts, to linger. Its log is not packed
// while it waits: on h1g that saved 11 MB for the 8,192 connections
// lingering at once, but packing every closed connection and unpacking it
// when it finished cost 8-10 % of the tracker's time.
func (t *Tracker) markClosed(c *Conn, ts int64) {
	if c.inQueue || c.closedTS != 0 {
		return
	}
	c.closedTS = ts
	c.inQueue = true
	t.closed = append(t.closed, c)
}

// update applies one segment to the connection.
func (t *Tracker) update(c *Conn, dir Dir, p *decode.Packet) {
	e, peer := c.Endpoint(dir), c.Endpoint(dir.Reverse())
	flags := p.Flags
	syn, fin, rst, ack := flags.Has(decode.FlagSYN), flags.Has(decode.FlagFIN), flags.Has(decode.FlagRST), flags.Has(decode.FlagACK)
	plen := p.PayloadLen
	index := c.Packets
	firstSYN := false

	c.Packets++
	c.LastTS = p.TS
	e.Packets++
	if e.FirstTS == 0 {
		e.FirstTS = p.TS
	}
	e.LastTS = p.TS
	if p.Truncated {
		e.Truncated++
	}

	if syn {
		e.SYNs++
		if !e.HasISN {
			e.ISN, e.HasISN = p.Seq, true
			e.nextSeq, e.hasNext = p.Seq, true
		}
		e.MSS = p.Opts.MSS
		e.WScale = p.Opts.WScale
		e.SACKPermitted = p.Opts.SACKPermitted
		e.Timestamps = p.Opts.HasTS
		if ack {
			if c.SYNACKTS == 0 {
				c.SYNACKTS = p.TS
			}
		} else if c.SYNTS == 0 {
			c.SYNTS = p.TS
			firstSYN = true
		}
		if e.WScale >= 0 && peer.WScale >= 0 {
			e.winScale, peer.winScale = uint8(min(e.WScale, 14)), uint8(min(peer.WScale, 14))
		}
		c.view = c.View()
	}
	if !e.hasNext {
		// First segment of a side whose SYN we did not see.
		e.ISN = p.Seq - 1
		e.nextSeq, e.hasNext = p.Seq, true
	}

	seqLen := uint32(plen)
	if syn {
		seqLen++
	}
	if fin {
		seqLen++
	}
	win := uint32(p.Window)
	if !syn {
		win <<= e.winScale
	}

	kind := t.classify(c, e, peer, p, seqLen, win)

	// Sequence space and payload accounting.
	end := p.Seq + seqLen
	if plen > 0 {
		e.Bytes += int64(plen)
		e.DataSegments++
		if e.FirstDataTS == 0 {
			e.FirstDataTS = p.TS
		}
		e.LastDataTS = p.TS
		if plen > e.MaxSegment {
			e.MaxSegment = plen
		}
		if peer.MSS > 0 && plen > int(peer.MSS) {
			e.OverMSS++
			kind |= SegOverMSS
		}
		if seqGT(end, e.nextSeq) {
			newStart := seqMax(p.Seq, e.nextSeq)
			e.UniqueBytes += int64(SeqDiff(newStart, end))
			if fin {
				e.UniqueBytes--
			}
		}
		e.remember(t.recycle, p.Seq, p.Seq+uint32(plen), p.TS)
	}
	if seqLen > 0 && seqGT(end, e.nextSeq) {
		e.nextSeq = end
	}
	if seqLen > 0 {
		e.lastSegTS = p.TS
	}

	// Data after the peer's FIN.
	if plen > 0 && peer.FINTS != 0 && p.TS >= peer.FINTS {
		a := e.afterFIN
		switch {
		case kind&AnyRetransmission == 0:
			if a == nil {
				a = new(AfterFIN)
				e.afterFIN = a
			}
			if a.FirstTS == 0 {
				a.FirstTS, a.FirstFrame, a.Delay = p.TS, p.Frame, p.TS-peer.FINTS
				e.afterFINSeq = p.Seq
			}
			a.Segments++
			a.Bytes += int64(plen)
		case a != nil && a.FirstTS != 0 && seqLE(e.afterFINSeq, p.Seq):
			a.Retransmits++
		}
		if a != nil && a.FirstTS != 0 {
			a.LastTS = p.TS
			kind |= SegAfterPeerFIN
		}
	}
	// ACK processing: what this segment tells about the peer's data.
	if ack {
		if !e.hasAcked || seqGT(p.Ack, e.ackedUpTo) {
			e.ackedUpTo, e.hasAcked = p.Ack, true
			t.sampleRTT(c, peer, p)
		}
		// The peer sent data after this side's FIN only if this side sent
		// one: e.FINTS, in a line the segment has read already, spares the
		// peer's afterFIN's line on most ACKs.
		if e.FINTS != 0 {
			if pa := peer.afterFIN; pa != nil && pa.FirstTS != 0 && seqGT(p.Ack, peer.afterFINSeq) {
				pa.Acked = true
			}
		}
		if peer.FINTS != 0 && peer.FINAckedTS == 0 && seqGT(p.Ack, peer.finSeq) {
			peer.FINAckedTS = p.TS
		}
		if c.EstablishedTS == 0 && !syn && c.SYNACKTS != 0 && dir == Orig && peer.HasISN && p.Ack == peer.ISN+1 {
			c.EstablishedTS = p.TS
			if c.SYNTS != 0 {
				c.HandshakeRTT = p.TS - c.SYNTS
				c.view.HandshakeRTT = c.HandshakeRTT
			}
		}
	}
	if rst {
		e.RSTs++
		if e.RSTTS == 0 {
			e.RSTTS, e.RSTFrame = p.TS, p.Frame
		}
		if e.FINTS != 0 { // as for ACKs above
			if pa := peer.afterFIN; pa != nil && pa.FirstTS != 0 && pa.RSTAfterTS == 0 {
				pa.RSTAfterTS = p.TS
			}
		}
	}
	if fin && e.FINTS == 0 {
		e.FINTS, e.FINFrame = p.TS, p.Frame
		e.finSeq = p.Seq + uint32(plen)
	}

	// Window bookkeeping for the next segment's classification.
	if !syn {
		e.lastWin, e.hasWin = win, true
		if int64(win) > e.MaxWindow {
			e.MaxWindow = int64(win)
		}
		if e.MinWindow == 0 || int64(win) < e.MinWindow {
			e.MinWindow = int64(win)
		}
	}
	if ack {
		e.lastAck = p.Ack
	}
	e.lastKind = kind

	if plen > 0 && kind&(AnyRetransmission|SegKeepAlive|SegZeroWindowProbe) == 0 {
		c.addTurn(t.recycle, dir, p)
	}
	if plen > 0 {
		c.sniff(dir, p, kind, t.cfg.AppBytes)
	}
	t.advanceState(c, dir, e, peer, p)

	// Field by field: a composite literal is built on the stack, then
	// copied with loads that straddle the stores that built it, which
	// wait for every store pending (as in Conn.log).
	seg := &t.seg
	seg.P, seg.Dir, seg.FirstSYN, seg.Kind = p, dir, firstSYN, kind
	seg.RelSeq, seg.RelAck, seg.SinceFirstTx = p.Seq-e.ISN, 0, 0
	seg.View = c.view
	if ack && peer.hasNext {
		t.seg.RelAck = p.Ack - peer.ISN
	}
	if kind&AnyRetransmission != 0 {
		t.seg.SinceFirstTx = e.trackChain(p.Seq-e.ISN, p.Seq, p.TS)
	}
	c.log(t.recycle, index, p, dir, t.seg.RelSeq, t.seg.RelAck, win, kind)
	t.obs.Segment(c, &t.seg)

	if c.closedTS == 0 && connClosed(c) {
		t.markClosed(c, p.TS)
	}
}

// connClosed reports whether both sides are done: a RST, or both FINs ACKed.
func connClosed(c *Conn) bool {
	if c.Orig.RSTTS != 0 || c.Resp.RSTTS != 0 {
		return true
	}
	return c.Orig.FINAckedTS != 0 && c.Resp.FINAckedTS != 0
}

// maxPreCaptureHole bounds the bytes before a mid-stream side's first segment
// that classify remembers as sent before the capture began.
const maxPreCaptureHole = 64 << 20

// classify applies Wireshark's tcp.analysis rules, with one correction: a
// segment below the highest sequence sent is out-of-order only when its bytes
// were never seen before (it fills a hole in the capture) and it came soon
// after; bytes seen before are a retransmission whatever the timing.
func (t *Tracker) classify(c *Conn, e, peer *Endpoint, p *decode.Packet, seqLen, win uint32) SegKind {
	var kind SegKind
	flags := p.Flags
	plen := uint32(p.PayloadLen)
	synFinRst := flags&(decode.FlagSYN|decode.FlagFIN|decode.FlagRST) != 0
	ack := flags.Has(decode.FlagACK)

	if plen == 1 && p.Seq == e.nextSeq && peer.hasWin && peer.lastWin == 0 && !synFinRst {
		kind |= SegZeroWindowProbe
		e.ZeroWindowProbes++
	}
	if p.Window == 0 && !synFinRst {
		kind |= SegZeroWindow
		e.ZeroWindows++
	}
	if e.Packets == 1 && !e.HasISN && !flags.Has(decode.FlagSYN) && peer.hasAcked && seqLT(peer.ackedUpTo, p.Seq) &&
		SeqDiff(peer.ackedUpTo, p.Seq) <= maxPreCaptureHole {
		// The capture starts mid-connection and the peer already ACKed
		// bytes before this side's first segment: they were sent before the
		// capture began. Remember them as a hole, so that a segment filling it
		// soon after is out-of-order rather than a retransmission (as tshark,
		// which takes the peer's ACK as the base), without counting a loss.
		e.addHole(t.recycle, peer.ackedUpTo, p.Seq, true)
	}
	if seqGT(p.Seq, e.nextSeq) && !flags.Has(decode.FlagRST) {
		kind |= SegPrevNotCaptured
		e.PrevNotCaptured++
		e.addHole(t.recycle, e.nextSeq, p.Seq, false)
		if seqLen == 0 {
			// A pure ACK shows where the sender's stream stands: move on, so
			// the data that follows at this seq is not a second loss.
			e.nextSeq = p.Seq
		}
	}
	if plen <= 1 && !synFinRst && p.Seq == e.nextSeq-1 && e.DataSegments+int64(e.SYNs) > 0 {
		kind |= SegKeepAlive
		e.KeepAlives++
	}
	pureAck := seqLen == 0 && ack && !synFinRst
	if pureAck && p.Seq == e.nextSeq && e.hasAcked && p.Ack == e.lastAck {
		switch {
		case peer.lastKind&SegKeepAlive != 0:
			kind |= SegKeepAliveAck
		case win != e.lastWin:
			kind |= SegWindowUpdate
			e.WindowUpdates++
		case plen == 0 && win != 0:
			// As Wireshark: a repeated zero-window ACK answers a window
			// probe; it is not a duplicate ACK signalling loss.
			kind |= SegDupAck
			e.DupAcks++
			if e.dupAckRun < math.MaxInt32 {
				e.dupAckRun++
			}
		}
	}
	if ack && (!e.hasAcked || p.Ack != e.lastAck) {
		e.dupAckRun = 0
	}
	if ack && peer.hasNext && seqGT(p.Ack, peer.nextSeq) && peer.Packets > 0 &&
		(!e.hasAcked || seqGT(p.Ack, e.ackedUpTo)) {
		// Flagged once per new ACK beyond the captured data, not again on
		// every later ACK of the same bytes.
		kind |= SegAckedUnseen
		e.AckedUnseen++
	}
	probeByte := plen > 1 && p.Seq == e.nextSeq-1 && e.lastKind&(SegZeroWindowProbe|SegKeepAlive) != 0
	if probeByte {
		// The window reopened after one-byte zero-window probes: the data
		// starts with the probe byte again. As Wireshark, whose probes do
		// not advance the sequence, this is new data, not a resend.
		kind |= SegNewData
	} else if seqLen > 0 && seqLT(p.Seq, e.nextSeq) && kind&(SegKeepAlive|SegZeroWindowProbe) == 0 && !flags.Has(decode.FlagRST) {
		kind |= t.retransKind(c, e, peer, p, seqLen)
	} else if seqLen > 0 && !seqLT(p.Seq, e.nextSeq) {
		kind |= SegNewData
	}
	return kind
}

// retransKind tells apart the kinds of segments that start below the highest
// sequence number sent.
func (t *Tracker) retransKind(c *Conn, e, peer *Endpoint, p *decode.Packet, seqLen uint32) SegKind {
	end := p.Seq + seqLen
	// Never-seen bytes filling a capture hole shortly after: out of order.
	if e.hist != nil && e.hist.inHole(p.Seq, end) {
		thres := int64(3e6)
		if c.HandshakeRTT > 0 {
			thres = c.HandshakeRTT
		}
		// The hole's age is the time since the segment just after it was
		// sent (found among the recent transmissions); when that segment is
		// no longer remembered, the time since this side's last segment.
		since := e.lastSegTS
		if opened := e.holeOpened(p.Seq, end); opened != 0 {
			since = opened
		}
		e.hist.fillHole(p.Seq, end)
		e.UniqueBytes += int64(p.PayloadLen) // bytes seen for the first time
		if p.TS-since < thres {
			e.OutOfOrder++
			return SegOutOfOrder
		}
		// A hole that stayed open longer than an RTT was lost before the
		// capture point and is being resent.
	}
	k := SegRetransmission
	e.Retransmissions++
	if peer.dupAckRun >= 2 && peer.lastAck == p.Seq && p.TS-peer.lastSegTSAny() < 20e6 {
		k |= SegFastRetransmission
		e.FastRetransmissions++
	}
	if peer.hasAcked && seqLE(end, peer.ackedUpTo) && p.PayloadLen > 0 {
		k |= SegSpurious
		e.Spurious++
	}
	return k
}

// lastSegTSAny is the time of this endpoint's last packet of any kind.
func (e *Endpoint) lastSegTSAny() int64 { return e.LastTS }

// sampleRTT records a data→ACK round-trip sample when p ACKs exactly the end
// of a segment of the peer that was sent once.
func (t *Tracker) sampleRTT(c *Conn, peer *Endpoint, p *decode.Packet) {
	if peer.txN == 0 {
		return
	}
	last := &peer.lastTx
	if last.end == p.Ack && last.ts > 0 && p.TS >= last.ts {
		s := p.TS - last.ts
		if c.RTTMin == 0 || s < c.RTTMin {
			c.RTTMin = s
			c.view.RTTMin = s
		}
		last.ts = -last.ts // sample once
	}
}

// remember records a transmission for later retransmission timing.
//
// The ring is written two records at a time, the first of a pair waiting in
// lastTx until the second comes: a pair fills half a cache line, so a data
// segment costs half a line of the ring on average, not a whole one (on a
// busy capture the ring is rarely in the cache: remember was 6 % of the
// tracking goroutine's time on h1g). Readers get the waiting record from tx.
func (e *Endpoint) remember(r *recycler, seq, end uint32, ts int64) {
	if e.hist == nil {
		e.newHist(r)
	}
	rec := txRecord{seq: seq, end: end, ts: ts}
	if i := e.txN % recentTx; e.txN%2 == 1 {
		h := e.hist
		if !h.orphan {
			h.recs[i-1] = e.lastTx.unsampled()
		}
		h.orphan = false
		h.recs[i] = rec
	}
	e.lastTx = rec
	e.txN++
}

// newHist gives e a transmission history. A record waiting in lastTx (see
// remember) belonged to the history e had before (Tracker.dropHistories):
// it never reaches the new one, as it would not have either had it been
// written at once.
func (e *Endpoint) newHist(r *recycler) {
	e.hist = r.hist()
	e.hist.orphan = e.txN%2 == 1
}

// unsampled is r without sampleRTT's mark (ts negated once sampled).
func (r txRecord) unsampled() txRecord {
	r.ts = max(r.ts, -r.ts)
	return r
}

// tx returns slot i of e's ring as if every record had been written at once
// (see remember): the record waiting in lastTx when it is that slot's.
func (e *Endpoint) tx(i int) txRecord {
	if e.txN%2 == 1 && i == (e.txN-1)%recentTx && !e.hist.orphan {
		return e.lastTx.unsampled()
	}
	return e.hist.recs[i]
}

// firstTx returns when seq was first transmitted, if remembered.
func (e *Endpoint) firstTx(seq uint32) int64 {
	if e.hist == nil {
		return 0
	}
	var best int64
	n := min(e.txN, recentTx)
	for i := 0; i < n; i++ {
		r := e.tx(i)
		if seqLE(r.seq, seq) && seqLT(seq, r.end) {
			if best == 0 || r.ts < best {
				best = r.ts
			}
		}
	}
	return best
}

func (e *Endpoint) addHole(r *recycler, start, end uint32, pre bool) {
	if e.hist == nil {
		e.newHist(r)
	}
	h := e.hist
	if h.nh == maxHoles {
		h.forget(0)
	}
	h.holes = append(h.holes, seqRange{start, end, pre})
	h.nh++
}

// forget drops hole i, counting it if it was a gap in the capture.
func (h *txHistory) forget(i int) {
	if !h.holes[i].pre {
		h.forgotten++
	}
	copy(h.holes[i:], h.holes[i+1:h.nh])
	h.nh--
	h.holes = h.holes[:h.nh]
}

// settled reports whether e's history can go: no capture hole open or
// forgotten, and everything e sent ACKed by peer.
func (e *Endpoint) settled(peer *Endpoint) bool {
	if h := e.hist; h != nil && (h.nh != 0 || h.forgotten != 0) {
		return false
	}
	return !e.hasNext || peer.hasAcked && !seqLT(peer.ackedUpTo, e.nextSeq)
}

// unfilledGaps counts the capture gaps of e never filled so far.
func (e *Endpoint) unfilledGaps() int64 {
	h := e.hist
	if h == nil {
		return 0
	}
	n := h.forgotten
	for _, r := range h.holes[:h.nh] {
		if !r.pre {
			n++
		}
	}
	return n
}

func (h *txHistory) inHole(start, end uint32) bool {
	for i := 0; i < h.nh; i++ {
		if seqLE(h.holes[i].start, start) && seqLE(end, h.holes[i].end) {
			return true
		}
	}
	return false
}

// holeOpened returns when the hole holding [start, end) was opened (or last
// narrowed from its end): the time of the first remembered transmission that
// starts where the hole ends (0 when none is remembered).
func (e *Endpoint) holeOpened(start, end uint32) int64 {
	h := e.hist
	for i := 0; i < h.nh; i++ {
		r := h.holes[i]
		if !(seqLE(r.start, start) && seqLE(end, r.end)) {
			continue
		}
		var ts int64
		for j := 0; j < min(e.txN, recentTx); j++ {
			if rec := e.tx(j); rec.seq == r.end {
				if ts == 0 || rec.ts < ts {
					ts = rec.ts
				}
			}
		}
		return ts
	}
	return 0
}

func (h *txHistory) fillHole(start, end uint32) {
	for i := 0; i < h.nh; i++ {
		r := &h.holes[i]
		if !(seqLE(r.start, start) && seqLE(end, r.end)) {
			continue
		}
		switch {
		case start == r.start && end == r.end:
			copy(h.holes[i:], h.holes[i+1:h.nh])
			h.nh--
			h.holes = h.holes[:h.nh]
		case start == r.start:
			r.start = end
		case end == r.end:
			r.end = start
		default: // a fill in the middle splits the hole in two
			upper := seqRange{end, r.end, r.pre}
			r.end = start
			if h.nh == maxHoles {
				// Full: forget the oldest hole (not this one, at i).
				if i == 0 {
					if !upper.pre {
						h.forgotten++
					}
					return
				}
				h.forget(0)
				i--
			}
			h.holes = append(h.holes, seqRange{})
			copy(h.holes[i+2:], h.holes[i+1:h.nh])
			h.holes[i+1] = upper
			h.nh++
		}
		return
	}
}

// trackChain extends the chain of resends of one sequence number and returns
// the time since the original transmission (0 if unknown).
func (e *Endpoint) trackChain(rel, abs uint32, ts int64) int64 {
	orig := e.firstTx(abs)
	if e.chains == nil {
		e.chains = new(retransChains)
	}
	ch, bo := &e.chains.cur, &e.chains.longest
	if ch.Count == 0 || ch.Seq != rel {
		ch.Seq, ch.Count = rel, 0
		ch.Times = ch.Times[:0]
		ch.Times = append(ch.Times, orig)
	}
	ch.Count++
	if len(ch.Times) < maxChain {
		ch.Times = append(ch.Times, ts)
	}
	if ch.Count > bo.Count {
		bo.Seq, bo.Count = ch.Seq, ch.Count
		bo.Times = append(bo.Times[:0], ch.Times...)
	}
	if orig == 0 {
		return 0
	}
	return ts - orig
}

// advanceState moves both endpoints' inferred states for one segment.
func (t *Tracker) advanceState(c *Conn, dir Dir, e, peer *Endpoint, p *decode.Packet) {
	ts, fr := p.TS, p.Frame
	flags := p.Flags
	if flags.Has(decode.FlagRST) {
		e.setState(ts, fr, StateClosed)
		if peer.State != StateUnknown || peer.Packets > 0 {
			peer.setState(ts, fr, StateClosed)
		}
		return
	}
	syn, ack, fin := flags.Has(decode.FlagSYN), flags.Has(decode.FlagACK), flags.Has(decode.FlagFIN)
	switch {
	case syn && !ack:
		if e.State == StateUnknown || e.State == StateClosed {
			e.setState(ts, fr, StateSynSent)
		}
	case syn && ack:
		if e.State == StateUnknown || e.State == StateClosed || e.State == StateSynSent {
			e.setState(ts, fr, StateSynReceived)
		}
		if peer.State == StateSynSent || peer.State == StateUnknown {
			peer.setState(ts, fr, StateEstablished)
		}
	}
	if ack && !syn {
		if e.State == StateSynSent || e.State == StateUnknown {
			e.setState(ts, fr, StateEstablished)
		}
		if peer.State == StateSynReceived && peer.HasISN && seqGT(p.Ack, peer.ISN) {
			peer.setState(ts, fr, StateEstablished)
		}
		// The peer's FIN acknowledged.
		if peer.FINTS != 0 && seqGT(p.Ack, peer.finSeq) {
			switch peer.State {
			case StateFinWait1:
				peer.setState(ts, fr, StateFinWait2)
			case StateClosing:
				peer.setState(ts, fr, StateTimeWait)
			case StateLastAck:
				peer.setState(ts, fr, StateClosed)
			}
		}
	}
	if fin {
		switch e.State {
		case StateCloseWait:
			e.setState(ts, fr, StateLastAck)
		case StateFinWait1, StateFinWait2, StateClosing, StateLastAck, StateTimeWait, StateClosed:
			// a retransmitted FIN changes nothing
		default:
			e.setState(ts, fr, StateFinWait1)
		}
		switch peer.State {
		case StateFinWait1:
			if ack && seqGT(p.Ack, peer.finSeq) {
				peer.setState(ts, fr, StateTimeWait)
			} else {
				peer.setState(ts, fr, StateClosing)
			}
		case StateFinWait2:
			peer.setState(ts, fr, StateTimeWait)
		case StateUnknown, StateSynSent, StateSynReceived, StateEstablished:
			if e.FINFrame == fr {
				peer.setState(ts, fr, StateCloseWait)
			}
		}
	}
}

// setState records a transition when the state changes.
func (e *Endpoint) setState(ts, frame int64, s State) {
	if e.State == s && len(e.Transitions) > 0 {
		return
	}
	e.State = s
	tr := Transition{TS: ts, Frame: frame, State: s}
	if len(e.Transitions) == maxTransitions {
		// keep the first half, drop the oldest of the rest
		copy(e.Transitions[maxTransitions/2:], e.Transitions[maxTransitions/2+1:])
		e.Transitions[maxTransitions-1] = tr
		return
	}
	e.Transitions = append(e.Transitions, tr)
}

// StateAt returns the endpoint's inferred state at capture time ts, applying
// the TIME_WAIT timer (a socket leaves TIME_WAIT after TimeWaitDuration).
func (e *Endpoint) StateAt(ts int64) State {
	s := StateUnknown
	var since int64
	for _, tr := range e.Transitions {
		if tr.TS > ts {
			break
		}
		s, since = tr.State, tr.TS
	}
	if s == StateTimeWait && ts-since >= TimeWaitDuration {
		return StateClosed
	}
	return s
}

// addTurn extends the current payload run or starts a new one.
func (c *Conn) addTurn(r *recycler, dir Dir, p *decode.Packet) {
	// A resting connection sends again. Log, in a line every segment reads,
	// is nil only then (and before the first one): packed sits in the
	// connection's last line, a cache miss to read on every data segment.
	if c.Log == nil && c.packed != nil {
		c.unpack(r, false)
	}
	n := len(c.Turns)
	if n > 0 && c.Turns[n-1].Dir == dir {
		tr := &c.Turns[n-1]
		tr.EndTS = p.TS
		tr.Bytes += int64(p.PayloadLen)
		tr.Segments++
		return
	}
	c.TurnCount++
	tr := Turn{Dir: dir, StartTS: p.TS, EndTS: p.TS, Frame: p.Frame, Bytes: int64(p.PayloadLen), Segments: 1}
	// A turn that starts with a request or status line keeps it (whatever
	// its direction), and counts (in its direction).
	if req := isHTTPRequest(p.Payload); req || isHTTPResponse(p.Payload) {
		tr.FirstLine = httpLine(p.Payload)
		switch {
		case dir == Orig && req:
			c.appRecord().HTTP.Requests++
		case dir == Resp && !req:
			c.appRecord().HTTP.Responses++
		}
	}
	if n == maxTurns {
		copy(c.Turns[maxTurns/2:], c.Turns[maxTurns/2+1:])
		c.Turns[n-1] = tr
		return
	}
	c.Turns = append(r.growTurns(c.Turns, 1), tr)
}
