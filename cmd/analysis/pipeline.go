package analysis

import (
	"github.com/pcapsleuth/pcapsleuth/decode"
	"github.com/pcapsleuth/pcapsleuth/flows"
)

// The pass runs in three stages, each on a goroutine of its own, over
// batches of packets that go round:
//
//	reading and decoding → tracking (flows.Tracker) → observing (the detectors)
//
// The tracking goroutine bounds the pass on a busy capture, so the reading
// one, which has time to spare, also computes each packet's key into the
// tracker's connection table (flows.Keyer): a pure function of the
// addresses, and 6 % of the tracking goroutine's time on h1g when it did it.
//
// The tracker does not call the observers: the pipeline is its observer,
// and records each callback as an event in the batch of the packet that
// caused it. The observing goroutine replays the events of each batch in
// the order they were recorded, then gives the batch back to the reader.
// The observers therefore see exactly the calls, in exactly the order, of
// a run without the pipeline, and the results are the same whatever the
// scheduling: only when they see them differs. That is why a per-segment
// observer reads the connection's changing state from Segment.View, never
// from the Conn, which the tracker has gone on changing by then; the
// packet a Segment points to stays valid, in its batch, until the replay.
//
// Finished connections need nothing of the kind: the tracker never changes
// a connection after it handed it on.

// batchesInFlight is how many batches go round: enough for the reader to
// fill some while the tracker and the observers each work through others.
const batchesInFlight = 8

// flushEvents is how many events a batch holds, at most, when the tracker
// hands connections on without a packet (Flush): it is passed on then. A
// connection the tracker finished keeps its unpacked log until the
// observers had it, so at most batchesInFlight*flushEvents of them wait:
// 4,096 events a batch held up to 32,768 of h1g's 35,768 at Flush, 7 MiB
// more live heap than this.
const flushEvents = 512

// batchPackets is how many packets a batch holds.
const batchPackets = 512

// batch is a run of decoded packets handed from the reading goroutine to the
// tracking one, then to the observing one with the tracker's callbacks.
// Payloads are copied into the batch's arena (at most keep bytes each: all
// the tracker's sniffers ever look at), since a Packet's Payload aliases the
// reader's buffer.
type batch struct {
	pkts [batchPackets]decode.Packet
	// keys are the tracker's lookup keys of pkts, computed by the reader.
	keys  [batchPackets]flows.Key
	n     int
	arena []byte
	// most is the arena's largest size; keep the most a payload keeps.
	most int
	keep int
	// ev are the tracker's callbacks while it took pkts[:n], in order.
	ev []event
}

// event is one callback of the tracker to its observers: a segment when
// seg.P is set (it points into the batch's pkts), else the end of c.
type event struct {
	c   *flows.Conn
	seg flows.Segment
}

func newBatch(keep int) *batch {
	most := batchPackets * min(keep, 2048)
	return &batch{arena: make([]byte, 0, min(arenaStart, most)), most: most, keep: keep}
}

// arenaStart is a new batch's arena. It grows (to most) only when a batch's
// payloads need it: a headers-only capture's (-s 96) take a few bytes a
// packet, and eight arenas of 1 MiB each would be 8 MiB of heap nothing
// touches, yet the collector counts it against the memory limit.
const arenaStart = 16 << 10

// keepPayload moves p.Payload into the arena.
func (b *batch) keepPayload(p *decode.Packet) {
	if len(p.Payload) == 0 {
		p.Payload = nil
		return
	}
	pl := p.Payload
	if len(pl) > b.keep {
		pl = pl[:b.keep]
	}
	if len(b.arena)+len(pl) > cap(b.arena) {
		if cap(b.arena) >= b.most {
			// Arena full: this packet gets its own copy (rare: large payloads).
			p.Payload = append([]byte(nil), pl...)
			return
		}
		// A larger arena for the rest of the batch and the batches after;
		// the payloads already kept stay where they are.
		b.arena = make([]byte, 0, min(max(2*cap(b.arena), len(pl)), b.most))
	}
	start := len(b.arena)
	b.arena = append(b.arena, pl...)
	p.Payload = b.arena[start:len(b.arena):len(b.arena)]
}

// own writes a word of each cache line of b's packets, before the reader
// decodes into them: the other goroutines read them last, on the other
// core, and the decoder's stores, each waiting for its line to come over,
// filled the store buffer; here the lines come over together.
func (b *batch) own() {
	for i := range b.pkts {
		p := &b.pkts[i]
		p.Frame, p.Seq, p.PayloadLen = 0, 0, 0 // lines 0, 1 and 2 (decode.TestPacketSize)
	}
}

// reset empties b for reuse, dropping its references to connections.
func (b *batch) reset() {
	b.n = 0
	b.arena = b.arena[:0]
	clear(b.ev)
	b.ev = b.ev[:0]
}

// pipeline carries batches between the stages. As a flows.Observer it
// records the tracker's callbacks into the current batch.
type pipeline struct {
	obs  flows.Observer // the observers, called on the observing goroutine
	free chan *batch    // empty batches, for the reader (and Flush)
	cur  *batch         // where the tracker's callbacks go
	next chan *batch    // tracked batches, for the observing goroutine
	done chan struct{}
	// inline: the tracker calls obs itself, and batches go straight back
	// to free (the run without the third stage, for tests).
	inline bool
}

// newPipeline makes the batches and starts the observing goroutine; close
// stops it. With inline set, there is no observing goroutine: the caller
// gives the tracker obs itself.
func newPipeline(keep int, obs flows.Observer, inline bool) *pipeline {
	pl := &pipeline{obs: obs, free: make(chan *batch, batchesInFlight), inline: inline,
		next: make(chan *batch, batchesInFlight), done: make(chan struct{})}
	for range batchesInFlight {
		pl.free <- newBatch(keep)
	}
	if inline {
		close(pl.done)
	} else {
		go pl.observe()
	}
	return pl
}

// warmer is an observer that can load ahead, without changing anything,
// the state it keeps for the connections of the next callbacks
// (detectors.Engine.Warm); ackOnly[i] tells that cs[i]'s callback is a
// segment without payload, SYN or FIN.
type warmer interface {
	Warm(cs []*flows.Conn, ackOnly []bool)
}

// warmEvents is how many events the observing goroutine warms at once.
const warmEvents = 32

// observe is the observing goroutine: it replays each batch's events, each
// run of warmEvents warmed first when the observers can warm.
func (pl *pipeline) observe() {
	defer close(pl.done)
	w, _ := pl.obs.(warmer)
	var cs [warmEvents]*flows.Conn
	var ackOnly [warmEvents]bool
	for b := range pl.next {
		for i := range b.ev {
			if w != nil && i%warmEvents == 0 {
				n := 0
				for _, e := range b.ev[i:min(i+warmEvents, len(b.ev))] {
					cs[n] = e.c
					p := e.seg.P
					ackOnly[n] = p != nil && p.PayloadLen == 0 && p.Flags&(decode.FlagSYN|decode.FlagFIN) == 0
					n++
				}
				w.Warm(cs[:n], ackOnly[:n])
				clear(cs[:n]) // the connections may go back to the tracker's pool
			}
			e := &b.ev[i]
			if e.seg.P != nil {
				pl.obs.Segment(e.c, &e.seg)
			} else {
				pl.obs.Done(e.c)
			}
		}
		b.reset()
		pl.free <- b
	}
}

// tracking makes b the batch the tracker's callbacks are recorded into.
func (pl *pipeline) tracking(b *batch) { pl.cur = b }

// pass hands the current batch, tracked, to the observers.
func (pl *pipeline) pass() {
	b := pl.cur
	pl.cur = nil
	if pl.inline {
		b.reset()
		pl.free <- b
		return
	}
	pl.next <- b
}

// Segment implements flows.Observer: it records the callback.
//
// The event is written in place: appending a composite literal built it on
// the stack first, then copied it with loads that straddled the stores
// that built it, which the CPU cannot forward from its store buffer, and
// each such load waited for every pending store (a tenth of the tracking
// goroutine's time on h1g).
func (pl *pipeline) Segment(c *flows.Conn, s *flows.Segment) {
	b := pl.cur
	n := len(b.ev)
	if n < cap(b.ev) {
		b.ev = b.ev[:n+1]
	} else {
		b.ev = append(b.ev, event{})
	}
	e := &b.ev[n]
	e.c = c
	e.seg = *s
}

// Done implements flows.Observer: it records the callback. Outside a
// batch (the tracker's Flush) it takes an empty one, and passes it on
// once it holds flushEvents.
func (pl *pipeline) Done(c *flows.Conn) {
	if pl.cur == nil {
		pl.cur = <-pl.free
	}
	b := pl.cur
	b.ev = append(b.ev, event{c: c})
	if b.n == 0 && len(b.ev) >= flushEvents {
		pl.pass()
	}
}

// close passes on what is left and waits until the observers have seen
// every event. Call it once, after the tracker's Flush.
func (pl *pipeline) close() {
	if pl.cur != nil {
		pl.pass()
	}
	close(pl.next)
	<-pl.done
}
