package detectors

import (
	"net/netip"
	"sort"
	"strings"

	"github.com/pcapsleuth/pcapsleuth/flows"
)

// This file holds what the teardown detectors share about *who* a finding
// is about: the group of sockets it aggregates (a server listener, or a
// client host's sockets to a listener), the bounded list of flows, and the
// exemplar connections kept for ladder diagrams.

// sockGroup identifies the sockets a teardown finding aggregates over.
//
// For the server's sockets (Side == flows.Resp) it is the listener, e.g.
// "10.0.0.5:8080": every connection accepted there. For a client's sockets
// (Side == flows.Orig) it is the client host and the listener it talks to,
// e.g. "10.0.0.1 → 10.0.0.5:8080": a connection pool or a health checker,
// whatever ephemeral ports it used; without a Host it is every client of
// the listener ("clients of 10.0.0.5:8080").
type sockGroup struct {
	Side     flows.Dir
	Host     netip.Addr // client host when Side == flows.Orig
	Listener netip.AddrPort
}

// groupOf returns the group of side's socket of connection c.
func groupOf(c *flows.Conn, side flows.Dir) sockGroup {
	g := sockGroup{Side: side, Listener: c.Resp.Addr}
	if side == flows.Orig {
		g.Host = c.Orig.Addr.Addr()
	}
	return g
}

// String returns the group as a person reads it.
func (g sockGroup) String() string {
	switch {
	case g.Side == flows.Orig && !g.Host.IsValid():
		return "clients of " + g.Listener.String()
	case g.Side == flows.Orig:
		return g.Host.String() + " → " + g.Listener.String()
	}
	return g.Listener.String()
}

// sideName says whose sockets these are: "server" or "client".
func (g sockGroup) sideName() string { return roleName(g.Side) }

// peerName names the other side: "client" or "server".
func (g sockGroup) peerName() string { return roleName(g.Side.Reverse()) }

// roleName names the endpoint of direction d: Orig is the client.
func roleName(d flows.Dir) string {
	if d == flows.Orig {
		return "client"
	}
	return "server"
}

// less orders groups deterministically for output.
func (g sockGroup) less(o sockGroup) bool {
	if g.Listener != o.Listener {
		if c := g.Listener.Addr().Compare(o.Listener.Addr()); c != 0 {
			return c < 0
		}
		return g.Listener.Port() < o.Listener.Port()
	}
	if g.Side != o.Side {
		return g.Side > o.Side // server-side groups first
	}
	if g.Host.IsValid() != o.Host.IsValid() {
		return !g.Host.IsValid()
	}
	return g.Host.Less(o.Host)
}

// chartID returns a stable element id for a chart of this group.
func (g sockGroup) chartID(kind Kind, what string) string {
	var b strings.Builder
	b.WriteString(kind.String())
	b.WriteByte('-')
	b.WriteString(what)
	b.WriteByte('-')
	for _, r := range g.String() {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

// sortedGroups returns the keys of m in output order.
func sortedGroups[V any](m map[sockGroup]V) []sockGroup {
	return sortedKeys(m, sockGroup.less)
}

// sortedKeys returns the keys of m ordered by less, so that map order never
// leaks into the output.
func sortedKeys[K comparable, V any](m map[K]V, less func(a, b K) bool) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return less(keys[i], keys[j]) })
	return keys
}

// maxGroups bounds the groups one teardown detector tracks: beyond it, the
// connections of new groups are counted and left out (the findings say so),
// so that a capture with millions of client hosts cannot exhaust memory.
const maxGroups = 50_000

// groupFor returns m[key], creating it with mk when there is room; it
// returns nil when m already holds maxGroups groups.
func groupFor[G any](m map[sockGroup]*G, key sockGroup, mk func() *G) *G {
	if g := m[key]; g != nil {
		return g
	}
	if len(m) >= maxGroups {
		return nil
	}
	g := mk()
	m[key] = g
	return g
}

// foldTable bounds a table of per-host aggregates: it removes the entries
// quiet accepts, in less order, until half of limit remain or none of them
// is left, calling drop on each, and returns the size at which to fold
// next: limit, or twice what remains when too few could go (so a pass
// costs O(1) per entry added).
func foldTable[K comparable, V any](m map[K]V, limit int, key func(V) K, quiet func(V) bool, less func(a, b V) bool, drop func(V)) int {
	var cand []V
	for _, v := range m {
		if quiet(v) {
			cand = append(cand, v)
		}
	}
	sort.Slice(cand, func(i, j int) bool { return less(cand[i], cand[j]) })
	for _, v := range cand[:min(len(cand), max(len(m)-limit/2, 0))] {
		drop(v)
		delete(m, key(v))
	}
	return max(limit, 2*len(m))
}

// refList is the flow list of a finding built from references: every flow is
// counted and the first max are kept. Unlike FlowList it takes FlowRefs, so
// a detector can decide at Finish which remembered flows belong to a
// finding without keeping their connections.
type refList struct {
	refs  refPack
	count int
	max   int
}

func (l *refList) add(r FlowRef) {
	l.count++
	if l.refs.len() < l.max {
		l.refs.add(r)
	}
}

// kept is the number of references kept.
func (l *refList) kept() int { return l.refs.len() }

// list returns the kept references in the order they were added.
func (l *refList) list() []FlowRef { return l.refs.all() }

// sorted returns the kept references in connection ID order.
func (l *refList) sorted() []FlowRef {
	out := l.refs.all()
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// exemplarSet keeps the max connections with the highest score: the ones
// that show a pattern best, for ladder diagrams. They are kept frozen (see
// flows.Frozen): every group keeps candidates, few become findings.
type exemplarSet struct {
	max   int
	items []scoredConn
}

type scoredConn struct {
	f     flows.Frozen
	score float64
}

// offer keeps c when it scores higher than the lowest kept connection
// (c is frozen only then).
func (e *exemplarSet) offer(c *flows.Conn, score float64) {
	if i, ok := e.slot(score); ok {
		e.set(i, scoredConn{c.Freeze(), score})
	}
}

// put is offer for a connection frozen already (merging groups).
func (e *exemplarSet) put(f flows.Frozen, score float64) {
	if i, ok := e.slot(score); ok {
		e.set(i, scoredConn{f, score})
	}
}

// slot returns where a connection with this score goes: the end while
// there is room, else the first of the lowest-scored ones if it scores
// higher.
func (e *exemplarSet) slot(score float64) (int, bool) {
	if e.max <= 0 {
		return 0, false
	}
	if len(e.items) < e.max {
		return len(e.items), true
	}
	low := 0
	for i := range e.items {
		if e.items[i].score < e.items[low].score {
			low = i
		}
	}
	return low, score > e.items[low].score
}

func (e *exemplarSet) set(i int, it scoredConn) {
	if i == len(e.items) {
		e.items = append(e.items, it)
		return
	}
	e.items[i] = it
}

// conns returns the kept connections in ID order, keeping only those whose
// ID keep accepts (all when keep is nil).
func (e *exemplarSet) conns(keep func(id int64) bool) []*flows.Conn {
	var out []*flows.Conn
	for _, it := range e.items {
		if keep != nil && !keep(it.f.ID()) {
			continue
		}
		if c, err := it.f.Thaw(); err == nil { // never fails: the bytes are Freeze's
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// best returns the kept connections best first (ties by connection ID).
func (e *exemplarSet) best() []*flows.Conn {
	items := append([]scoredConn(nil), e.items...)
	sort.SliceStable(items, func(a, b int) bool {
		if items[a].score != items[b].score {
			return items[a].score > items[b].score
		}
		return items[a].f.ID() < items[b].f.ID()
	})
	out := make([]*flows.Conn, 0, len(items))
	for _, it := range items {
		if c, err := it.f.Thaw(); err == nil { // never fails: the bytes are Freeze's
			out = append(out, c)
		}
	}
	return out
}

// maxHighlights bounds the frames a teardown finding highlights.
const maxHighlights = 24

// highlights collects the evidence frames of the exemplars, in order,
// without zeros or duplicates.
func highlights(cs []*flows.Conn, frames func(*flows.Conn) []int64) []int64 {
	seen := make(map[int64]bool)
	var out []int64
	for _, c := range cs {
		for _, f := range frames(c) {
			if f > 0 && !seen[f] && len(out) < maxHighlights {
				seen[f] = true
				out = append(out, f)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// plural returns "1 connection" or "3 connections".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return count(n) + " " + many
}
