package detectors

import (
	"encoding/binary"
	"net/netip"
)

// refPack stores flow references packed into one byte slice: the ID as a
// zigzag varint difference from the previous one, then both endpoints in
// netip's binary form with a length in front (7 bytes for IPv4). An IPv4
// reference takes about 17 bytes instead of FlowRef's 72, and the slice
// holds no pointer for the garbage collector to follow. Findings list up
// to the contract's 10,000 flows each, so these lists are most of what
// grows with a capture once its connections are bounded.
type refPack struct {
	b      []byte
	n      int
	lastID int64
}

// add appends r.
func (p *refPack) add(r FlowRef) {
	p.b = binary.AppendVarint(p.b, r.ID-p.lastID)
	p.lastID = r.ID
	p.b = appendAddrPort(p.b, r.Client)
	p.b = appendAddrPort(p.b, r.Server)
	p.n++
}

func appendAddrPort(b []byte, ap netip.AddrPort) []byte {
	if ap.Addr().Zone() != "" {
		// Packets carry no zone; one set elsewhere is not part of a flow.
		ap = netip.AddrPortFrom(ap.Addr().WithZone(""), ap.Port())
	}
	at := len(b)
	b = append(b, 0)
	b, _ = ap.AppendBinary(b) // never fails
	b[at] = byte(len(b) - at - 1)
	return b
}

// len is the number of references added.
func (p *refPack) len() int { return p.n }

// all returns the references in the order they were added.
func (p *refPack) all() []FlowRef {
	out := make([]FlowRef, 0, p.n)
	b, id := p.b, int64(0)
	for len(b) > 0 {
		d, k := binary.Varint(b)
		if k <= 0 {
			break
		}
		b = b[k:]
		id += d
		r := FlowRef{ID: id}
		var ok bool
		if r.Client, b, ok = readAddrPort(b); !ok {
			break
		}
		if r.Server, b, ok = readAddrPort(b); !ok {
			break
		}
		out = append(out, r)
	}
	return out
}

func readAddrPort(b []byte) (netip.AddrPort, []byte, bool) {
	if len(b) == 0 || len(b) < 1+int(b[0]) {
		return netip.AddrPort{}, nil, false
	}
	n := int(b[0])
	var ap netip.AddrPort
	if err := ap.UnmarshalBinary(b[1 : 1+n]); err != nil {
		return netip.AddrPort{}, nil, false
	}
	return ap, b[1+n:], true
}

// refTab stores the flow references of a detector's records packed like
// refPack, each found again by the offset put returned: a record keeps 4
// bytes instead of FlowRef's 72 and no pointer. The ID is stored whole, not
// as a difference, so that any reference can be read on its own.
type refTab struct {
	b []byte
}

// maxRefTab bounds a refTab so that its offsets fit in a uint32.
const maxRefTab = 1<<32 - 64

// room reports whether put can take another reference.
func (t *refTab) room() bool { return int64(len(t.b)) < maxRefTab }

// put appends r and returns its offset; callers check room first.
func (t *refTab) put(r FlowRef) uint32 {
	off := uint32(len(t.b))
	t.b = binary.AppendVarint(t.b, r.ID)
	t.b = appendAddrPort(t.b, r.Client)
	t.b = appendAddrPort(t.b, r.Server)
	return off
}

// at returns the reference put at off (the zero FlowRef for an offset put
// never returned).
func (t *refTab) at(off uint32) FlowRef {
	if int64(off) >= int64(len(t.b)) {
		return FlowRef{}
	}
	b := t.b[off:]
	id, k := binary.Varint(b)
	if k <= 0 {
		return FlowRef{}
	}
	r := FlowRef{ID: id}
	var ok bool
	if r.Client, b, ok = readAddrPort(b[k:]); !ok {
		return FlowRef{}
	}
	if r.Server, _, ok = readAddrPort(b); !ok {
		return FlowRef{}
	}
	return r
}
