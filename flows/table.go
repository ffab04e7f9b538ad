package flows

import (
	"encoding/binary"
	"math/bits"
	"math/rand/v2"
	"net/netip"
)

// connTable maps the unordered 4-tuple to its live connection. It is an
// open-addressing table of (hash, *Conn) pairs with linear probing: a
// lookup reads one small entry and then the connection itself, which the
// tracker reads next anyway, where a Go map with the 4-tuple as key also
// read the key's slot (profiles of busy captures showed the map's cache
// misses as a tenth of the tracker's time).
//
// The hash is keyed with a random seed per table, so that a crafted
// capture cannot pile its connections on one probe chain.
type connTable struct {
	seed [3]uint64
	ents []tableEnt // power-of-two length, at most half full
	n    int
}

type tableEnt struct {
	h uint64
	c *Conn // nil = empty
}

const tableMinSize = 1024

func newConnTable() connTable {
	return connTable{
		seed: [3]uint64{rand.Uint64() | 1, rand.Uint64() | 1, rand.Uint64() | 1},
		ents: make([]tableEnt, tableMinSize),
	}
}

// mix folds two words into one (the 128-bit product's halves, as wyhash).
func mix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

// endpointHash hashes one address and port. An IPv4 address takes one
// mix (most captures' every packet hashes two endpoints, on the reading
// goroutine); the tag keeps 10.0.0.1 and ::ffff:10.0.0.1 apart.
func (t *connTable) endpointHash(ap netip.AddrPort) uint64 {
	addr := ap.Addr()
	tag := uint64(ap.Port()) << 1
	if addr.Is4() {
		a := addr.As4()
		return mix(uint64(binary.BigEndian.Uint32(a[:]))^t.seed[0], (tag|1)^t.seed[2])
	}
	a := addr.As16()
	hi, lo := binary.BigEndian.Uint64(a[:8]), binary.BigEndian.Uint64(a[8:])
	return mix(hi^t.seed[0], mix(lo^t.seed[1], tag^t.seed[2]))
}

// hash is the same whichever way the packet goes.
func (t *connTable) hash(src, dst netip.AddrPort) uint64 {
	x, y := t.endpointHash(src), t.endpointHash(dst)
	if x > y {
		x, y = y, x
	}
	return mix(x^t.seed[2], y^t.seed[0])
}

// matches reports whether c is the connection between a and b.
func matches(c *Conn, a, b netip.AddrPort) bool {
	return (c.Orig.Addr == a && c.Resp.Addr == b) || (c.Orig.Addr == b && c.Resp.Addr == a)
}

// get returns the connection between src and dst (nil if none).
func (t *connTable) get(src, dst netip.AddrPort) *Conn {
	return t.getHashed(t.hash(src, dst), src, dst)
}

// getHashed is get with the pair's hash already computed (t.hash).
func (t *connTable) getHashed(h uint64, src, dst netip.AddrPort) *Conn {
	mask := uint64(len(t.ents) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		e := &t.ents[i]
		if e.c == nil {
			return nil
		}
		if e.h == h && matches(e.c, src, dst) {
			return e.c
		}
	}
}

// hinted returns the first connection on h's probe run stored under h
// itself (nil if none), without checking its 4-tuple: a guess of what
// getHashed will return, for Tracker.Warm to load ahead.
func (t *connTable) hinted(h uint64) *Conn {
	mask := uint64(len(t.ents) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		e := &t.ents[i]
		if e.c == nil || e.h == h {
			return e.c
		}
	}
}

// put adds c, whose 4-tuple is not in the table.
func (t *connTable) put(c *Conn) {
	if 2*(t.n+1) > len(t.ents) {
		t.resize(2 * len(t.ents))
	}
	t.place(t.hash(c.Orig.Addr, c.Resp.Addr), c)
	t.n++
}

func (t *connTable) place(h uint64, c *Conn) {
	mask := uint64(len(t.ents) - 1)
	i := h & mask
	for t.ents[i].c != nil {
		i = (i + 1) & mask
	}
	t.ents[i] = tableEnt{h: h, c: c}
}

func (t *connTable) resize(size int) {
	old := t.ents
	t.ents = make([]tableEnt, size)
	for _, e := range old {
		if e.c != nil {
			t.place(e.h, e.c)
		}
	}
}

// remove deletes c if the table holds it under its 4-tuple, and reports
// whether it did.
func (t *connTable) remove(c *Conn) bool {
	h := t.hash(c.Orig.Addr, c.Resp.Addr)
	mask := uint64(len(t.ents) - 1)
	i := h & mask
	for ; t.ents[i].c != c; i = (i + 1) & mask {
		if t.ents[i].c == nil {
			return false
		}
	}
	// Backward-shift deletion: move up every later entry of the probe run
	// that may sit at i, so that no lookup meets a hole before its entry.
	for j := (i + 1) & mask; t.ents[j].c != nil; j = (j + 1) & mask {
		home := t.ents[j].h & mask
		// Entry j may move to i unless its home lies cyclically in (i, j].
		if (i < j && (home <= i || home > j)) || (i > j && home <= i && home > j) {
			t.ents[i] = t.ents[j]
			i = j
		}
	}
	t.ents[i] = tableEnt{}
	t.n--
	return true
}

// holds reports whether c is the live connection of its 4-tuple.
func (t *connTable) holds(c *Conn) bool {
	return t.get(c.Orig.Addr, c.Resp.Addr) == c
}

// reset empties the table and gives back its memory.
func (t *connTable) reset() {
	t.ents = make([]tableEnt, tableMinSize)
	t.n = 0
}
