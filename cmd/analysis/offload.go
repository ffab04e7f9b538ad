package analysis

import "github.com/pcapsleuth/pcapsleuth/flows"

// offload runs observers that only look at finished connections (the
// connection summaries and the state timeline: their Segment does nothing)
// on a goroutine of their own, so that the tracking goroutine, which bounds
// the analysis, hands a finished connection on and goes on. Connections go
// over in batches and are handed to the observers in the order they
// finished, one at a time, so the results are those of a sequential run.
//
// A finished connection no longer changes (flows.Observer), so reading it
// on another goroutine is safe; the other observers of the fanout come
// first and are done with it when offload takes it.
//
// When pool is set, the connections go back to it once the observers had
// them: every other observer is done with a connection by then.
type offload struct {
	obs  []flows.Observer
	pool *flows.ConnPool
	// inline: Done calls the observers itself and gives the connection
	// back at once (tests: the most reuse there can be).
	inline bool
	cur    []*flows.Conn
	full   chan []*flows.Conn
	free   chan []*flows.Conn
	done   chan struct{}
}

// offloadBatch is how many connections go over at once, and offloadDepth
// how many batches may wait: at most a few hundred finished connections
// are held longer than they would be.
const (
	offloadBatch = 128
	offloadDepth = 3
)

// newOffload starts the goroutine; Close stops it.
func newOffload(obs ...flows.Observer) *offload {
	o := &offload{obs: obs, full: make(chan []*flows.Conn, offloadDepth),
		free: make(chan []*flows.Conn, offloadDepth+1), done: make(chan struct{})}
	for range offloadDepth {
		o.free <- make([]*flows.Conn, 0, offloadBatch)
	}
	o.cur = make([]*flows.Conn, 0, offloadBatch)
	go o.run()
	return o
}

func (o *offload) run() {
	defer close(o.done)
	for b := range o.full {
		o.hand(b)
		clear(b)
		o.free <- b[:0]
	}
}

// hand gives the observers the connections of b, in order, then gives
// them back to the pool.
func (o *offload) hand(b []*flows.Conn) {
	for _, c := range b {
		for _, ob := range o.obs {
			ob.Done(c)
		}
	}
	if o.pool != nil {
		o.pool.Put(b)
	}
}

// Segment implements flows.Observer: the offloaded observers want none.
func (o *offload) Segment(*flows.Conn, *flows.Segment) {}

// Done implements flows.Observer.
func (o *offload) Done(c *flows.Conn) {
	if o.inline {
		o.hand([]*flows.Conn{c})
		return
	}
	o.cur = append(o.cur, c)
	if len(o.cur) == offloadBatch {
		o.full <- o.cur
		o.cur = <-o.free
	}
}

// Close hands over what is left and waits until the observers have seen
// every connection. Call it once, after the tracker's Flush.
func (o *offload) Close() {
	if len(o.cur) > 0 {
		o.full <- o.cur
	}
	o.cur = nil
	close(o.full)
	<-o.done
}
