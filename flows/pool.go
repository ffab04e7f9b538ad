package flows

import "sync"

// ConnPool hands finished connections back to the Tracker that made them,
// for its next connections: a connection's struct (1.5 KB) and its log's
// and turns' buffers were, on a long capture, about half of all an
// analysis allocated, and what the collector ran for.
//
// Whoever sees a connection last (after every observer's Done) puts it
// back, from any goroutine. The tracker reuses only the connections it
// marked reusable when it finished them (those no queue of its own still
// names); the others are left to the collector. A tracker without a pool
// (the default) never reuses a connection, so its observers may keep them.
type ConnPool struct {
	mu    sync.Mutex
	free  []*Conn
	onPut func(*Conn)
}

// OnPut makes the pool call f with each connection it keeps, when Put
// takes it (tests: f overwrites it, so that an observer that kept a
// connection past Done shows in the results).
func (p *ConnPool) OnPut(f func(*Conn)) { p.onPut = f }

// poolMax bounds the connections a pool keeps: past it, Put drops them.
const poolMax = 1024

// Put gives cs back. None of them may be used by anyone afterwards.
func (p *ConnPool) Put(cs []*Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		if c != nil && c.reusable && len(p.free) < poolMax {
			if p.onPut != nil {
				p.onPut(c)
			}
			c.reusable = false // a second Put of c cannot hand it out twice
			p.free = append(p.free, c)
		}
	}
}

// take moves the pool's connections to the end of dst.
func (p *ConnPool) take(dst []*Conn) []*Conn {
	p.mu.Lock()
	defer p.mu.Unlock()
	dst = append(dst, p.free...)
	clear(p.free)
	p.free = p.free[:0]
	return dst
}

// SetPool makes t reuse the connections given back to p. Its observers
// must then keep no connection past Done: they keep copies (Conn.Freeze)
// or what they read of it.
func (t *Tracker) SetPool(p *ConnPool) { t.pool = p }

// newConn returns a zero connection: one from the pool (its log's buffer
// given to the recycler, a first turns buffer kept), or a new one.
func (t *Tracker) newConn() *Conn {
	if len(t.spare) == 0 && t.pool != nil {
		t.spare = t.pool.take(t.spare)
	}
	n := len(t.spare)
	if n == 0 {
		return new(Conn)
	}
	c := t.spare[n-1]
	t.spare[n-1] = nil
	t.spare = t.spare[:n-1]
	log, turns := c.Log, c.Turns
	*c = Conn{}
	// The log's and turns' buffers go back to the recycler, which hands out
	// buffers by size (a finished log holds the tail ring too, so most grew:
	// kept with the connection, they would be carried by live connections
	// that may never need them).
	t.recycle.putLog(log)
	t.recycle.putTurns(turns)
	return c
}

// flushReclaim is how many connections Flush finishes between two reclaims.
const flushReclaim = 256

// reclaim takes the connections the pool got back while no new one is made
// (Flush): their logs' buffers go to the recycler, for the logs of the
// connections Flush has still to finish (h1g's resting connections
// unpacked 31 MB of them at its end, when the heap is at its largest), and
// at most poolMax of them stay spare. first: Flush's first call, when the
// spare connections left from the capture still hold their logs; later
// calls strip only the connections they take.
func (t *Tracker) reclaim(first bool) {
	if t.pool == nil {
		return
	}
	n := len(t.spare)
	if first {
		n = 0
	}
	t.spare = t.pool.take(t.spare)
	for _, c := range t.spare[n:] {
		t.recycle.putLog(c.Log)
		c.Log = nil
	}
	if len(t.spare) > poolMax {
		clear(t.spare[poolMax:])
		t.spare = t.spare[:poolMax]
	}
}
