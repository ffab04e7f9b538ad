package detectors

import (
	"sort"

	"github.com/pcapsleuth/pcapsleuth/flows"
)

// FlowList collects the connections of one finding: every one is counted, the
// first max are listed (the contract's cap that protects memory on floods).
type FlowList struct {
	list  refPack
	count int
	max   int
}

// NewFlowList returns a list that keeps at most max references.
func NewFlowList(max int) FlowList { return FlowList{max: max} }

// Add counts c and lists it while there is room.
func (l *FlowList) Add(c *flows.Conn) {
	l.count++
	if l.list.len() < l.max {
		l.list.add(Ref(c))
	}
}

// Count is the true number of connections added.
func (l *FlowList) Count() int { return l.count }

// kept is the number of connections listed.
func (l *FlowList) kept() int { return l.list.len() }

// Refs returns the listed connections in ID order.
func (l *FlowList) Refs() []FlowRef {
	out := l.list.all()
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Ref returns the FlowRef of a connection.
func Ref(c *flows.Conn) FlowRef {
	return FlowRef{ID: c.ID, Client: c.Orig.Addr, Server: c.Resp.Addr}
}

// Median returns the median of xs (0 for none); xs is sorted in place.
func Median(xs []float64) float64 { return Quantile(xs, 0.5) }

// Quantile returns the q-quantile of xs by linear interpolation; xs is sorted
// in place.
func Quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	sort.Float64s(xs)
	pos := q * float64(len(xs)-1)
	lo := int(pos)
	if lo+1 >= len(xs) {
		return xs[len(xs)-1]
	}
	frac := pos - float64(lo)
	return xs[lo] + frac*(xs[lo+1]-xs[lo])
}

// Seconds converts capture-time nanoseconds to seconds.
func Seconds(ns int64) float64 { return float64(ns) / 1e9 }
