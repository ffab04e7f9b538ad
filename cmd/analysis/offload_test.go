package analysis

import (
	"testing"

	"github.com/pcapsleuth/pcapsleuth/flows"
)

// idRecorder records the IDs of the connections it is handed.
type idRecorder struct{ ids []int64 }

func (r *idRecorder) Segment(*flows.Conn, *flows.Segment) {}
func (r *idRecorder) Done(c *flows.Conn)                  { r.ids = append(r.ids, c.ID) }

// TestOffloadKeepsOrder hands over more connections than fit in the
// batches in flight, and a last partial batch: after Close every observer
// has seen every connection, in the order they finished.
func TestOffloadKeepsOrder(t *testing.T) {
	for _, n := range []int{0, 1, offloadBatch, offloadBatch*(offloadDepth+2) + 7} {
		a, b := &idRecorder{}, &idRecorder{}
		o := newOffload(a, b)
		for i := range n {
			o.Done(&flows.Conn{ID: int64(n - i)}) // descending: order is not ID order
		}
		o.Close()
		for _, r := range []*idRecorder{a, b} {
			if len(r.ids) != n {
				t.Fatalf("n=%d: an observer saw %d connections", n, len(r.ids))
			}
			for i, id := range r.ids {
				if id != int64(n-i) {
					t.Fatalf("n=%d: connection %d came %dth", n, id, i)
				}
			}
		}
	}
}
