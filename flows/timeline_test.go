package flows

import (
	"math"
	"math/rand/v2"
	"testing"
)

// The state timeline counts each socket in its state between transitions,
// and a clock that went backwards never makes a count negative.
func TestTimelineCountsAndBackwardsClock(t *testing.T) {
	tr, r := newTestTracker(Config{})
	cv := newConvo(t, tr, "10.0.0.1:40000", "10.0.0.2:80")
	cv.handshake(0)
	cv.send(2, false, finack, 0) // server closes; the client stays in CLOSE_WAIT
	cv.send(2.001, true, ack, 0)
	back := newConvo(t, tr, "10.0.0.3:40000", "10.0.0.2:80")
	back.handshake(5)
	back.send(1, false, finack, 0) // stamped before the handshake: the clock stepped back
	back.send(1.001, true, ack, 0)
	tr.Flush()
	tl := NewTimeline()
	for _, c := range r.done {
		tl.Done(c)
	}
	series := tl.Series(ns(0), ns(10), 1e9)
	if len(series) == 0 {
		t.Fatal("no series")
	}
	sawCloseWait := false
	for _, s := range series {
		for i, counts := range s.Counts {
			for st, n := range counts {
				if n < 0 {
					t.Errorf("%s bucket %d: %d sockets in %v", s.Endpoint, i, n, State(st))
				}
			}
			if s.Side == Orig && counts[StateCloseWait] > 0 {
				sawCloseWait = true
			}
		}
	}
	if !sawCloseWait {
		t.Error("the client socket left in CLOSE_WAIT is not charted")
	}
}

// TestTimelineBucketsNarrowAndWide checks the compact buckets against plain
// sums of the same steps: random steps of a few sockets, on some runs steps
// of 30,000 that take a bucket past int16, over spans that make the width
// double several times, with the origin moved back midway on some runs.
func TestTimelineBucketsNarrowAndWide(t *testing.T) {
	type step struct {
		series int
		st     State
		ts     int64 // as add placed it (clamped to the origin of the time)
		delta  int32
	}
	for seed := range 24 {
		rng := rand.New(rand.NewPCG(uint64(seed), 7))
		big := seed%3 == 0
		tl := NewTimeline()
		tl.origin = 1000e9
		ss := []*tlSeries{{endpoint: "a"}, {endpoint: "b"}, {endpoint: "c"}}
		tl.order = ss
		var steps []step
		span := int64(seed%6+1) * 500e9 // up to 3,000 s: past maxBuckets of 1 s
		for n := range 4000 {
			if seed%4 == 1 && n == 2000 {
				tl.shift(tl.origin - 70e9)
			}
			st := State(1 + rng.IntN(tlStates))
			ts := tl.origin - 5e9 + rng.Int64N(span)
			delta := int32(1 + rng.IntN(3))
			if big && n%50 == 0 {
				delta = 40000
			}
			if rng.IntN(2) == 0 {
				delta = -delta
			}
			i := rng.IntN(len(ss))
			tl.add(ss[i], st, ts, delta)
			steps = append(steps, step{i, st, max(ts, tl.origin), delta})
		}
		for i, s := range ss {
			want := make([][NumStates]int64, s.len())
			for _, st := range steps {
				if st.series != i {
					continue
				}
				b := int((st.ts - tl.origin) / tl.width)
				if b >= len(want) {
					t.Fatalf("seed %d series %d: a step at bucket %d, past the series' %d buckets", seed, i, b, len(want))
				}
				want[b][st.st] += int64(st.delta)
			}
			for b := range want {
				got := s.bucket(b)
				for k := range got {
					if int64(got[k]) != want[b][k] {
						t.Fatalf("seed %d series %d bucket %d state %v: %d, want %d", seed, i, b, State(k), got[k], want[b][k])
					}
				}
			}
			if wide := s.wide != nil; !big && wide {
				t.Errorf("seed %d series %d: widened with steps of at most 3", seed, i)
			} else if big && !wide {
				t.Errorf("seed %d series %d: steps of 40,000 but still int16", seed, i)
			}
		}
		if seed%6 == 5 && tl.width == 1e9 {
			t.Errorf("seed %d: a 3,000 s span and the width never doubled", seed)
		}
	}
}

// TestTimelineMergeWidens: two buckets that each fit int16 but not their
// sum widen the series when the width doubles.
func TestTimelineMergeWidens(t *testing.T) {
	tl := NewTimeline()
	tl.origin = 1000e9
	s := &tlSeries{endpoint: "a"}
	tl.order = []*tlSeries{s}
	tl.add(s, StateCloseWait, 1000e9, 20000)
	tl.add(s, StateCloseWait, 1001e9, 20000)
	tl.add(s, StateEstablished, 1001e9, -3)
	if s.wide != nil {
		t.Fatal("widened before any bucket left int16")
	}
	tl.coarsen()
	if s.len() != 1 || s.wide == nil {
		t.Fatalf("after doubling the width: %d buckets, wide %v; want 1, true", s.len(), s.wide != nil)
	}
	if b := s.bucket(0); b[StateCloseWait] != 40000 || b[StateEstablished] != -3 {
		t.Errorf("merged bucket: CLOSE_WAIT %d, ESTABLISHED %d; want 40000, -3", b[StateCloseWait], b[StateEstablished])
	}
}

// TestTimelineSeriesToAFarEnd: the series run to the capture's last packet,
// which a frame with a garbage timestamp can put centuries after the last
// state change (FuzzAnalyze found one: a bucket a second up to the year
// 2262 took 24 GB). They stay within maxBuckets buckets, hold the counts
// of the narrow timeline, and the width never overflows, for any end and
// for bucket widths asked for up to the largest.
func TestTimelineSeriesToAFarEnd(t *testing.T) {
	tr, r := newTestTracker(Config{})
	cv := newConvo(t, tr, "10.0.0.1:40000", "10.0.0.2:80")
	cv.handshake(0)
	cv.send(2, false, finack, 0) // the client stays in CLOSE_WAIT
	cv.send(2.001, true, ack, 0)
	tr.Flush()
	tl := NewTimeline()
	for _, c := range r.done {
		tl.Done(c)
	}
	for _, c := range []struct {
		end, bucket int64
	}{{ns(10), 1e9}, {ns(10) + 200*365*86400e9, 1e9}, {math.MaxInt64, 1e9}, {math.MaxInt64, math.MaxInt64}, {ns(10), math.MaxInt64}} {
		series := tl.Series(ns(0), c.end, c.bucket)
		if len(series) == 0 {
			t.Fatalf("end %d: no series", c.end)
		}
		for _, s := range series {
			if len(s.Counts) == 0 || len(s.Counts) > maxBuckets || s.BucketWidth <= 0 {
				t.Errorf("end %d, bucket %d: %s has %d buckets of %d ns", c.end, c.bucket, s.Endpoint, len(s.Counts), s.BucketWidth)
			}
			if s.Side == Orig && s.Counts[len(s.Counts)-1][StateCloseWait] != 1 {
				t.Errorf("end %d, bucket %d: the last bucket has %d sockets in CLOSE_WAIT, want 1", c.end, c.bucket, s.Counts[len(s.Counts)-1][StateCloseWait])
			}
		}
	}
}
