package flows

import "testing"

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
