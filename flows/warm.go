package flows

import "github.com/pcapsleuth/pcapsleuth/decode"

// WarmChunk is how many packets Warm takes at once: their connections'
// lines (about fourteen each) stay in the core's caches until the tracker
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
	ents := t.table.ents
	mask := uint64(len(ents) - 1)
	var sink uint64
	// The table's entries: independent loads. The probe goes on past
	// other keys' entries (a third of first probes on h1g), mostly
	// within the line.
	for i, k := range keys[:n] {
		if k.seed != t.table.seed[0] {
			continue
		}
		for j := k.h & mask; ; j = (j + 1) & mask {
			e := &ents[j]
			if e.c == nil {
				break
			}
			if e.h == k.h {
				cs[i] = e.c
				break
			}
		}
	}
	// The connections' hot lines (TestWarmLines): the first two and the
	// fourth of the Conn (the third, Slots, is the observers'), and the
	// first four of each endpoint.
	for _, c := range cs[:n] {
		if c == nil {
			continue
		}
		sink += uint64(c.Packets) + uint64(c.closedTS) + uint64(c.RTTMin) +
			uint64(c.Orig.Packets) + uint64(c.Orig.LastTS) + uint64(c.Orig.FINAckedTS) + uint64(c.Orig.txN) +
			uint64(c.Resp.Packets) + uint64(c.Resp.LastTS) + uint64(c.Resp.FINAckedTS) + uint64(c.Resp.txN)
	}
	// What the connections point to, now that their lines are here: the
	// tail ring's next slot, the sender's transmission ring, the last turn.
	for i, c := range cs[:n] {
		if c == nil {
			continue
		}
		if c.tail != nil {
			sink += uint64(c.tail[c.tailN%logTail].Index)
		}
		if len(c.Turns) > 0 {
			sink += uint64(c.Turns[len(c.Turns)-1].Bytes)
		}
		e := &c.Resp
		if pkts[i].Src == c.Orig.Addr {
			e = &c.Orig
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
