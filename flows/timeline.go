package flows

import (
	"math"
	"sort"
)

// Timeline builds the "ss view" of the capture: for each endpoint, how many
// sockets were in each state over time, from every connection's transitions.
// It is an Observer. Memory is bounded: at most maxEndpoints endpoints and
// maxBuckets buckets each (the bucket width doubles as the capture grows).
type Timeline struct {
	origin  int64
	width   int64
	eps     map[tlKey]*tlSeries
	order   []*tlSeries
	Dropped int64 // connections of endpoints beyond the cap, not charted
}

type tlKey struct {
	side   Dir
	client [16]byte // client host for client-side series, zero for servers
	server [18]byte // server address and port
}

// tlSeries is one endpoint's buckets: per bucket, the change of the
// number of sockets in each charted state. The changes are int16 until one
// leaves int16's range; the series then moves to int32 for good. Most
// buckets of most endpoints change by a few sockets, so a bucket costs 18
// bytes instead of 44 (512 endpoints by 1,024 buckets: 9 MB, not 23).
type tlSeries struct {
	endpoint string
	side     Dir
	narrow   [][tlStates]int16 // until wide is set
	wide     [][tlStates]int32
	conns    int64
}

// tlStates is the number of states charted: SYN_SENT to TIME_WAIT (an
// unknown or closed socket is not counted). State st is at index st-1.
const tlStates = int(StateClosed) - 1

// len returns the number of buckets.
func (s *tlSeries) len() int {
	if s.wide != nil {
		return len(s.wide)
	}
	return len(s.narrow)
}

// bucket returns bucket i's changes, indexed by State.
func (s *tlSeries) bucket(i int) (out [NumStates]int32) {
	if s.wide != nil {
		for k, v := range s.wide[i] {
			out[k+1] = v
		}
		return out
	}
	for k, v := range s.narrow[i] {
		out[k+1] = int32(v)
	}
	return out
}

// widen moves the series to int32 changes.
func (s *tlSeries) widen() {
	if s.wide != nil {
		return
	}
	s.wide = make([][tlStates]int32, len(s.narrow), max(cap(s.narrow), 1))
	for i, b := range s.narrow {
		for k, v := range b {
			s.wide[i][k] = int32(v)
		}
	}
	s.narrow = nil
}

// addAt adds delta to state st's change in bucket i, adding buckets up to i.
func (s *tlSeries) addAt(i int, st State, delta int32) {
	k := int(st) - 1
	if s.wide == nil {
		for len(s.narrow) <= i {
			s.narrow = append(s.narrow, [tlStates]int16{})
		}
		if v := int32(s.narrow[i][k]) + delta; v == int32(int16(v)) {
			s.narrow[i][k] = int16(v)
			return
		}
		s.widen()
	}
	for len(s.wide) <= i {
		s.wide = append(s.wide, [tlStates]int32{})
	}
	s.wide[i][k] += delta
}

// halve merges each two consecutive buckets into one.
func (s *tlSeries) halve() {
	if s.wide != nil {
		s.wide = halveBuckets(s.wide)
		return
	}
	for i := 0; i < len(s.narrow); i += 2 {
		for k := 0; k < tlStates; k++ {
			v := int32(s.narrow[i][k])
			if i+1 < len(s.narrow) {
				v += int32(s.narrow[i+1][k])
			}
			if v != int32(int16(v)) {
				s.widen()
				s.wide = halveBuckets(s.wide)
				return
			}
		}
	}
	s.narrow = halveBuckets(s.narrow)
}

// halveBuckets merges each two consecutive buckets of b into one, in place.
func halveBuckets[T int16 | int32](b [][tlStates]T) [][tlStates]T {
	n := (len(b) + 1) / 2
	for i := 0; i < n; i++ {
		m := b[2*i]
		if 2*i+1 < len(b) {
			for k, v := range b[2*i+1] {
				m[k] += v
			}
		}
		b[i] = m
	}
	return b[:n]
}

// prepend adds k empty buckets in front.
func (s *tlSeries) prepend(k int) {
	if s.wide != nil {
		s.wide = append(make([][tlStates]int32, k, k+len(s.wide)), s.wide...)
		return
	}
	s.narrow = append(make([][tlStates]int16, k, k+len(s.narrow)), s.narrow...)
}

const (
	maxEndpoints = 512
	maxBuckets   = 1024
)

// NewTimeline returns an empty timeline.
func NewTimeline() *Timeline {
	return &Timeline{width: 1e9, eps: map[tlKey]*tlSeries{}}
}

// Segment implements Observer.
func (t *Timeline) Segment(*Conn, *Segment) {}

// Done implements Observer: it adds the connection's two sockets.
func (t *Timeline) Done(c *Conn) {
	if t.origin == 0 || c.FirstTS < t.origin {
		if t.origin != 0 {
			t.shift(c.FirstTS)
		} else {
			t.origin = c.FirstTS - c.FirstTS%1e9
		}
	}
	for d := Orig; d <= Resp; d++ {
		e := c.Endpoint(d)
		if len(e.Transitions) == 0 {
			continue
		}
		s := t.series(c, d)
		if s == nil {
			t.Dropped++
			continue
		}
		s.conns++
		for i, tr := range e.Transitions {
			if tr.State == StateClosed || tr.State == StateUnknown {
				continue
			}
			to := int64(0)
			if i+1 < len(e.Transitions) {
				to = e.Transitions[i+1].TS
			} else if tr.State == StateTimeWait {
				to = tr.TS + TimeWaitDuration
			}
			if to != 0 && to < tr.TS {
				to = tr.TS // the clock went backwards: an empty interval
			}
			t.add(s, tr.State, tr.TS, +1)
			if to != 0 {
				t.add(s, tr.State, to, -1)
			}
		}
	}
}

func (t *Timeline) series(c *Conn, d Dir) *tlSeries {
	var k tlKey
	k.side = d
	sa := c.Resp.Addr.Addr().As16()
	copy(k.server[:16], sa[:])
	k.server[16], k.server[17] = byte(c.Resp.Addr.Port()>>8), byte(c.Resp.Addr.Port())
	if d == Orig {
		k.client = c.Orig.Addr.Addr().As16()
	}
	if s := t.eps[k]; s != nil {
		return s
	}
	if len(t.eps) >= maxEndpoints {
		return nil
	}
	name := c.Resp.Addr.String()
	if d == Orig {
		name = c.Orig.Addr.Addr().String() + " → " + name
	}
	s := &tlSeries{endpoint: name, side: d}
	t.eps[k] = s
	t.order = append(t.order, s)
	return s
}

// add puts a +1/-1 step for state st at time ts.
func (t *Timeline) add(s *tlSeries, st State, ts int64, delta int32) {
	if ts < t.origin {
		ts = t.origin
	}
	for bucketsTo(t.origin, ts, t.width) > maxBuckets && t.width <= math.MaxInt64/2 {
		t.coarsen()
	}
	s.addAt(int(min(bucketsTo(t.origin, ts, t.width), maxBuckets))-1, st, delta)
}

// coarsen doubles the bucket width of every series.
func (t *Timeline) coarsen() {
	t.width *= 2
	for _, s := range t.order {
		s.halve()
	}
}

// shift moves the origin back to ts (a connection earlier than all before).
func (t *Timeline) shift(ts int64) {
	newOrigin := ts - ts%t.width
	n := bucketsTo(newOrigin, t.origin, t.width) // k+1 for k buckets back
	if n <= 1 || n > maxBuckets+1 {
		return // not earlier by a bucket, or absurdly early: clamp rather than grow without bound
	}
	k := int(n - 1)
	for _, s := range t.order {
		s.prepend(k)
	}
	t.origin = newOrigin
	for _, s := range t.order {
		for s.len() > maxBuckets {
			t.coarsen()
		}
	}
}

// Series returns the top endpoints' state counts between start and end
// (capture times). Endpoints are ranked by the most sockets they held at once
// in a state other than ESTABLISHED (CLOSE_WAIT first), then by connections.
// bucket overrides the width when larger than the timeline's own.
func (t *Timeline) Series(start, end, bucket int64) []StateSeries {
	if len(t.order) == 0 || end <= start {
		return nil
	}
	type ranked struct {
		s         *tlSeries
		closeWait int32
		other     int32
	}
	var rs []ranked
	for _, s := range t.order {
		var cur [NumStates]int32
		r := ranked{s: s}
		for i := range s.len() {
			d := s.bucket(i)
			for k := range cur {
				cur[k] += d[k]
			}
			r.closeWait = max(r.closeWait, cur[StateCloseWait])
			var o int32
			for k, v := range cur {
				if State(k) != StateEstablished {
					o += v
				}
			}
			r.other = max(r.other, o)
		}
		rs = append(rs, r)
	}
	sort.SliceStable(rs, func(i, j int) bool {
		a, b := rs[i], rs[j]
		if a.closeWait != b.closeWait {
			return a.closeWait > b.closeWait
		}
		if a.other != b.other {
			return a.other > b.other
		}
		if a.s.conns != b.s.conns {
			return a.s.conns > b.s.conns
		}
		return a.s.endpoint < b.s.endpoint
	})
	const top = 6
	// The series run to end, the capture's last packet, which may lie far
	// beyond the last state change (a frame with a garbage timestamp): the
	// width grows until they take at most maxBuckets buckets too.
	width := t.width
	for (bucket > width || bucketsTo(t.origin, end, width) > maxBuckets) && width <= math.MaxInt64/2 {
		width *= 2
	}
	factor := width / t.width
	nb := int(min(bucketsTo(t.origin, end, width), maxBuckets))
	var out []StateSeries
	for i, r := range rs {
		if i == top {
			break
		}
		ss := StateSeries{Endpoint: r.s.endpoint, Side: r.s.side, BucketStart: t.origin, BucketWidth: width, Conns: r.s.conns}
		ss.Counts = make([][NumStates]int32, 0, nb)
		var cur [NumStates]int32
		j := 0 // the series' own bucket, factor of them to one of width
		for b := range nb {
			for ; j < r.s.len() && int64(j)/factor <= int64(b); j++ {
				d := r.s.bucket(j)
				for k := range cur {
					cur[k] += d[k]
				}
			}
			ss.Counts = append(ss.Counts, cur)
		}
		out = append(out, ss)
	}
	return out
}

// bucketsTo returns how many buckets of width w, the first at origin,
// reach end: 0 when end is before origin. It cannot overflow, whatever
// the two times.
func bucketsTo(origin, end, w int64) uint64 {
	if end < origin {
		return 0
	}
	return (uint64(end)-uint64(origin))/uint64(w) + 1
}
