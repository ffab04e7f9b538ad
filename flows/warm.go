package flows

import "github.com/pcapsleuth/pcapsleuth/decode"

// WarmChunk is how many packets Warm takes at once: their connections'
// lines (about twelve each) stay in the core's caches until the tracker
// reaches them, yet are enough for many cache misses to be in flight
// together.
const WarmChunk = 32

// Warm loads the memory the tracker will touch for pkts (keys[i] being the
// key of pkts[i], from t.Keyer()), without changing anything: the table
// entries, the hot lines of their connections, the slot of each log's tail
// ring, transmission history and turns a segment writes.
//
// On a capture with thousands of connections open at once, a connection is
// rarely in the CPU cache when its segment comes, and the tracker waited
// for its lines one after another as its code reached them: each wait a
// full memory latency. Warm's loops issue the loads of a whole chunk of
// packets back to back, so that the misses are in flight together (a core
// keeps a dozen or more), and the tracker then finds the lines in the cache.
// Call it on at most WarmChunk packets just before adding them; what it
// reads may be stale by then (a connection finished or reused in between),
// which costs nothing but a wasted load.
func (t *Tracker) Warm(pkts []decode.Packet, keys []Key) {
	n := min(len(pkts), len(keys), WarmChunk)
	var cs [WarmChunk]*Conn
	var es [WarmChunk]*Endpoint
	var sink uint64
	// The table's entries: independent loads. The probe goes on past
	// other keys' entries (a third of first probes on h1g), mostly
	// within the line.
	for i, k := range keys[:n] {
		if k.seed == t.table.seed[0] {
			cs[i] = t.table.hinted(k.h)
		}
	}
	// The connections' hot lines (TestWarmLines): the first two and the
	// fourth of the Conn (the third, Slots, is the observers'), and the
	// first two of each endpoint, which a segment reads of its sender and
	// of its peer alike.
	for _, c := range cs[:n] {
		if c == nil {
			continue
		}
		sink += uint64(c.Packets) + uint64(c.closedTS) + uint64(c.RTTMin) +
			uint64(c.Orig.FINTS) + uint64(c.Orig.txN) + uint64(c.Resp.FINTS) + uint64(c.Resp.txN)
	}
	sink += t.warmAside()
	// What the connections point to, now that their lines are here: the
	// log's next entry (in the tail ring, or in the log while its head
	// fills), the last turn and the next; and the sender's other two hot
	// lines, known by the address in its first. A 48-byte entry of the log
	// may straddle two lines: its first and last fields are read (the
	// ring's 32-byte entries never do).
	for i, c := range cs[:n] {
		if c == nil {
			continue
		}
		if c.tail != nil {
			sink += uint64(c.tail[c.tailN%logTail].ts)
		} else if l := len(c.Log); l < cap(c.Log) {
			le := &c.Log[:l+1][l]
			sink += uint64(le.Index) + uint64(le.Kind)
		}
		data := pkts[i].PayloadLen > 0
		// The turns only a data segment writes (addTurn); about half of
		// a busy capture's segments are pure ACKs.
		if l := len(c.Turns); l > 0 && data {
			sink += uint64(c.Turns[l-1].Bytes)
			if l < cap(c.Turns) {
				sink += uint64(c.Turns[:l+1][l].Bytes)
			}
		}
		e := &c.Resp
		if pkts[i].Src == c.Orig.Addr {
			e = &c.Orig
		}
		sink += uint64(e.Packets) + uint64(e.FirstDataTS)
		if data && e.txN%2 == 1 {
			es[i] = e // remember writes the ring on every second data segment
		}
	}
	// The sender's transmission ring, once its pointer is here.
	for _, e := range es[:n] {
		if e == nil {
			continue
		}
		if h := e.hist; h != nil {
			sink += uint64(h.recs[e.txN%recentTx].ts)
			if h.orphan {
				sink++
			}
		}
	}
	t.warmSink += sink
}

// warmAside loads what restOne and sweep read first of the connections
// they take next, cold ones that no packet brings in: the next live
// connection from the rest cursor (Warm runs once every restEvery
// segments, as restOne does), and the head of the closed queue, which
// sweep reads on every segment.
func (t *Tracker) warmAside() (sink uint64) {
	if n := len(t.live); n > 0 {
		i := t.restCursor + 1
		if i >= n {
			i = 0
		}
		c := t.live[i]
		sink += uint64(c.LastTS)
		if c.Orig.hist != nil || c.Resp.hist != nil {
			sink++
		}
	}
	if len(t.closed) > 0 {
		c := t.closed[0]
		sink += uint64(c.closedTS) + uint64(c.LastTS)
	}
	return sink
}
