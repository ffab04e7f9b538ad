package detectors

import "github.com/pcapsleuth/pcapsleuth/flows"

// connStates keeps a detector's per-connection state: in the connection's
// observer slot (flows.Conn.Slots) when the Engine gave the detector one, so
// the per-segment path has no map lookup; in a map otherwise (a detector
// built outside an Engine, or more slot users than slots).
type connStates[T any] struct {
	slot int // -1: no slot
	m    map[*flows.Conn]*T
	// free are the states of finished connections, zeroed, for fresh:
	// one new state per connection was a tenth of what a long capture
	// allocated (retransmission-storm's alone).
	free    []*T
	noReuse bool // Config.noStateReuse
}

// stateFree bounds the states a connStates keeps for reuse.
const stateFree = 256

// fresh returns a zero state: one given back by release, or a new one.
func (s *connStates[T]) fresh() *T {
	if n := len(s.free); n > 0 {
		v := s.free[n-1]
		s.free[n-1] = nil
		s.free = s.free[:n-1]
		return v
	}
	return new(T)
}

// release zeroes v (a state that fresh returned) and keeps it for a later
// fresh. The caller must hold no reference to v afterwards: a detector
// releases its state last thing in ConnDone, after del.
func (s *connStates[T]) release(v *T) {
	if v == nil || s.noReuse || len(s.free) >= stateFree {
		return
	}
	var zero T
	*v = zero
	s.free = append(s.free, v)
}

func newConnStates[T any](cfg *Config) connStates[T] {
	return connStates[T]{slot: -1, m: map[*flows.Conn]*T{}, noReuse: cfg.noStateReuse}
}

// get returns c's state, or nil.
func (s *connStates[T]) get(c *flows.Conn) *T {
	if s.slot >= 0 {
		v, _ := slotOf(c, s.slot).(*T)
		return v
	}
	return s.m[c]
}

func (s *connStates[T]) put(c *flows.Conn, v *T) {
	if s.slot >= 0 {
		c.Slots[s.slot] = v
		return
	}
	s.m[c] = v
}

func (s *connStates[T]) del(c *flows.Conn) {
	if s.slot >= 0 {
		c.Slots[s.slot] = nil
		return
	}
	delete(s.m, c)
}

// slotOf returns c.Slots[i] (i < MaxSlots; TestSlotOf) through a load at
// a constant offset. Indexed, the slot was loaded after a bounds check, and the
// compiler tested c for nil before it by loading c's first line, which the
// tracker writes on the other core: that miss was half of
// retransmission-storm's per-segment time on h1g. A load at a constant
// offset within the first page is its own nil check.
func slotOf(c *flows.Conn, i int) any {
	switch i {
	case 0:
		return c.Slots[0]
	case 1:
		return c.Slots[1]
	case 2:
		return c.Slots[2]
	default:
		return c.Slots[3]
	}
}

// slotUser is a detector that keeps per-connection state in a Conn slot.
type slotUser interface{ useSlot(i int) }

func (d *retrans) useSlot(i int)    { d.conns.slot = i }
func (d *tso) useSlot(i int)        { d.conns.slot = i }
func (d *zeroWindow) useSlot(i int) { d.conns.slot = i }
func (d *quality) useSlot(i int)    { d.conns.slot = i }

// warmSlots reads one word of each detector state in c's slots and returns
// their sum. The loads are straight-line code with no call between them, so
// the CPU has all the cache misses in flight at once instead of one after
// the other as each detector reaches its state (the lines next to the one
// read come along). It only reads, so it cannot fail whatever a detector
// did. zeroWindow's state is left out: it is rarely used. With ackOnly
// (the callback is a segment without payload, SYN or FIN) it leaves out
// retransmission-storm's host pair too, which only data, FINs and a
// connection's end reach.
func warmSlots(c *flows.Conn, ackOnly bool) (sum uint32) {
	for i := range c.Slots {
		switch st := c.Slots[i].(type) {
		case *rsConn:
			sum += st.d[0].maxEnd
			if pr := st.pair; pr != nil && !ackOnly {
				sum += uint32(pr.cur) // every data segment ticks the pair's window
			}
			if !ackOnly {
				sum += st.dups[0].end // the state's third line, which a data segment updates
			}
		case *tsoConn:
			if st.lk[0] != nil {
				sum++
			}
		case *dupTracker:
			sum += st[0].seq
		}
	}
	return sum
}
