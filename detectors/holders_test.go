package detectors

import (
	"reflect"
	"testing"

	"github.com/pcapsleuth/pcapsleuth/flows"
)

// TestExemplarSetKeepsTheBest offers connections with scores and checks which
// are kept, the two orders they come back in, and that they come back whole
// from their frozen form.
func TestExemplarSetKeepsTheBest(t *testing.T) {
	e := exemplarSet{max: 3}
	orig := map[int64]*flows.Conn{}
	for i, score := range []float64{5, 1, 3, 9, 3, 2, 7} {
		c := leakedConn(int64(i+1), uint16(40000+i), float64(i))
		c.Log = []flows.LogEntry{{Index: 0, Frame: int64(10 * (i + 1)), TS: c.FirstTS}}
		orig[c.ID] = c
		e.offer(c, score)
	}
	var merged exemplarSet
	merged.max = 2
	for _, it := range e.items {
		merged.put(it.f, it.score)
	}
	ids := func(cs []*flows.Conn) (out []int64) {
		for _, c := range cs {
			if !reflect.DeepEqual(c, orig[c.ID]) {
				t.Errorf("connection %d changed on its way through the set", c.ID)
			}
			out = append(out, c.ID)
		}
		return out
	}
	// Scores 5, 9 and 7 win (connections 1, 4, 7).
	if got := ids(e.best()); !reflect.DeepEqual(got, []int64{4, 7, 1}) {
		t.Errorf("best first: %v, want [4 7 1]", got)
	}
	if got := ids(e.conns(nil)); !reflect.DeepEqual(got, []int64{1, 4, 7}) {
		t.Errorf("by ID: %v, want [1 4 7]", got)
	}
	if got := ids(e.conns(func(id int64) bool { return id != 4 })); !reflect.DeepEqual(got, []int64{1, 7}) {
		t.Errorf("filtered: %v, want [1 7]", got)
	}
	if got := ids(merged.best()); !reflect.DeepEqual(got, []int64{4, 7}) {
		t.Errorf("merged into a set of two: %v, want [4 7]", got)
	}
	var none exemplarSet
	none.offer(orig[1], 1)
	if len(none.items) != 0 {
		t.Error("a set of size 0 kept a connection")
	}
}
