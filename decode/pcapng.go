package decode

import (
	"fmt"
	"io"
	"strconv"
)

// pcapng block types.
const (
	blockSHB = 0x0A0D0D0A // Section Header Block (palindromic)
	blockIDB = 0x00000001 // Interface Description Block
	blockPB  = 0x00000002 // obsolete Packet Block
	blockSPB = 0x00000003 // Simple Packet Block
	blockISB = 0x00000005 // Interface Statistics Block
	blockEPB = 0x00000006 // Enhanced Packet Block
)

// pcapng option codes used here.
const (
	optEndOfOpt  = 0
	optIfName    = 2
	optIfDesc    = 3
	optIfTSResol = 9
	optIfTSOff   = 14
	optISBIfDrop = 5
)

const (
	bomLittle       = 0x4D3C2B1A // byte-order magic 0x1A2B3C4D read little-endian from big-endian bytes
	bomBig          = 0x1A2B3C4D
	minBlockLen     = 12
	minSHBLen       = 28
	maxInterfaces   = 1 << 16 // bound on IDBs per file, against memory blow-up
	blockTrailerLen = 4
)

// readBlock consumes the block whose 8-byte header is at the current
// position and returns its body (between the length field and the
// trailing length). It validates the length and the trailing copy.
func (r *Reader) readBlock(start int64, length uint32, min uint32) ([]byte, error) {
	if err := r.checkBlockLen(start, length, min); err != nil {
		return nil, err
	}
	b, err := r.take(int(length))
	if err != nil {
		return nil, r.short(start, "pcapng block", length, err)
	}
	if t := r.order.u32(b[len(b)-blockTrailerLen:]); t != length {
		return nil, r.corrupt(start, "pcapng block trailing length %d differs from length %d", t, length)
	}
	return b[8 : len(b)-blockTrailerLen], nil
}

func (r *Reader) checkBlockLen(start int64, length, min uint32) error {
	switch {
	case length < min:
		return r.corrupt(start, "pcapng block length %d below minimum %d", length, min)
	case length%4 != 0:
		return r.corrupt(start, "pcapng block length %d is not a multiple of 4", length)
	case uint64(length) > uint64(r.opts.MaxRecord):
		return r.corrupt(start, "pcapng block length %d exceeds limit %d", length, r.opts.MaxRecord)
	}
	return nil
}

// corrupt returns a *ReadError wrapping ErrCorrupt.
func (r *Reader) corrupt(off int64, format string, args ...any) error {
	return &ReadError{Offset: off, Frame: r.frames, Err: fmt.Errorf(format+": %w", append(args, ErrCorrupt)...)}
}

// readSHB reads a Section Header Block at the current position and starts
// a new section.
func (r *Reader) readSHB() error {
	start := r.in.off
	h, err := r.in.peek(12)
	if err != nil {
		return r.short(start, "pcapng section header", 12, err)
	}
	switch littleEndian.u32(h[8:]) {
	case bomBig:
		r.order = littleEndian
	case bomLittle:
		r.order = bigEndian
	default:
		return r.corrupt(start, "pcapng byte-order magic %#x", h[8:12])
	}
	length := r.order.u32(h[4:])
	body, err := r.readBlock(start, length, minSHBLen)
	if err != nil {
		return err
	}
	major, minor := r.order.u16(body[4:]), r.order.u16(body[6:])
	version := strconv.Itoa(int(major)) + "." + strconv.Itoa(int(minor))
	// libpcap and Wireshark also accept 1.2, written by some tools for
	// files that are otherwise 1.0.
	if major != 1 || (minor != 0 && minor != 2) {
		return &ReadError{Offset: start, Frame: r.frames,
			Err: fmt.Errorf("pcapng section version %s: %w", version, ErrUnsupported)}
	}
	if err := r.walkOptions(start, body[16:], nil); err != nil {
		return err
	}
	r.info.Version = version
	r.info.ByteOrder = r.order.String()
	r.info.Sections++
	r.sectionBase = len(r.ifs)
	r.sectionCount = 0
	return nil
}

// walkOptions validates an options list and calls fn, when not nil, for
// each option before opt_endofopt. A list that ends without opt_endofopt,
// or with fewer than 4 bytes of padding left, is accepted.
func (r *Reader) walkOptions(start int64, b []byte, fn func(code uint16, val []byte) error) error {
	for len(b) >= 4 {
		code, n := r.order.u16(b), int(r.order.u16(b[2:]))
		if code == optEndOfOpt {
			return nil
		}
		if n > len(b)-4 {
			return r.corrupt(start, "pcapng option %d length %d exceeds block", code, n)
		}
		if fn != nil {
			if err := fn(code, b[4:4+n]); err != nil {
				return err
			}
		}
		b = b[min(4+(n+3)&^3, len(b)):]
	}
	return nil
}

// readIDB reads an Interface Description Block body.
func (r *Reader) readIDB(start int64, body []byte) error {
	if len(body) < 8 {
		return r.corrupt(start, "pcapng interface block too short")
	}
	if len(r.ifs) >= maxInterfaces {
		return &ReadError{Offset: start, Frame: r.frames,
			Err: fmt.Errorf("more than %d pcapng interfaces: %w", maxInterfaces, ErrUnsupported)}
	}
	iface := Interface{
		Section:          r.info.Sections - 1,
		LinkType:         LinkType(r.order.u16(body)),
		SnapLen:          r.order.u32(body[4:]),
		TSUnitsPerSecond: 1e6,
	}
	err := r.walkOptions(start, body[8:], func(code uint16, val []byte) error {
		switch code {
		case optIfName:
			iface.Name = string(val)
		case optIfDesc:
			iface.Description = string(val)
		case optIfTSResol:
			if len(val) < 1 {
				return r.corrupt(start, "pcapng if_tsresol option is empty")
			}
			units, ok := tsUnits(val[0])
			if !ok {
				return &ReadError{Offset: start, Frame: r.frames,
					Err: fmt.Errorf("pcapng if_tsresol %#x: %w", val[0], ErrUnsupported)}
			}
			iface.TSUnitsPerSecond = units
		case optIfTSOff:
			if len(val) < 8 {
				return r.corrupt(start, "pcapng if_tsoffset option of %d bytes", len(val))
			}
			iface.TSOffset = int64(r.order.u64(val))
		}
		return nil
	})
	if err != nil {
		return err
	}
	r.info.Interfaces = append(r.info.Interfaces, iface)
	r.ifs = append(r.ifs, ifaceState{
		link:     iface.LinkType,
		snap:     iface.SnapLen,
		units:    iface.TSUnitsPerSecond,
		offsetNs: mulSat(iface.TSOffset, nsPerSec),
	})
	r.sectionCount++
	return nil
}

// tsUnits decodes if_tsresol: 10^-v seconds, or 2^-(v&0x7f) when the top
// bit is set. Resolutions finer than a uint64 count can hold are refused.
func tsUnits(v byte) (uint64, bool) {
	exp := uint(v & 0x7f)
	if v&0x80 != 0 {
		if exp > 63 {
			return 0, false
		}
		return 1 << exp, true
	}
	if exp > 19 {
		return 0, false
	}
	u := uint64(1)
	for range exp {
		u *= 10
	}
	return u, true
}

// readISB reads an Interface Statistics Block body for isb_ifdrop.
func (r *Reader) readISB(start int64, body []byte) error {
	if len(body) < 12 {
		return r.corrupt(start, "pcapng interface statistics block too short")
	}
	id := r.order.u32(body)
	return r.walkOptions(start, body[12:], func(code uint16, val []byte) error {
		if code == optISBIfDrop && len(val) >= 8 && uint64(id) < uint64(r.sectionCount) {
			iface := &r.info.Interfaces[r.sectionBase+int(id)]
			iface.Dropped = r.order.u64(val)
			iface.HasDropped = true
		}
		return nil
	})
}

// iface returns the global index and state of interface id of the
// current section, or -1 and the state of an unknown interface (link type
// LinkTypeUnknown, microsecond timestamps).
func (r *Reader) iface(id uint32) (int, ifaceState) {
	if uint64(id) < uint64(r.sectionCount) {
		g := r.sectionBase + int(id)
		return g, r.ifs[g]
	}
	return -1, ifaceState{link: LinkTypeUnknown, units: 1e6}
}

// nextPcapng reads blocks until one holds a packet.
func (r *Reader) nextPcapng(f *Frame) error {
	for {
		start := r.in.off
		h, err := r.in.peek(8)
		if err != nil {
			if err == io.EOF {
				return io.EOF
			}
			return r.short(start, "pcapng block header", 8, err)
		}
		typ, length := r.order.u32(h), r.order.u32(h[4:])
		switch typ {
		case blockSHB:
			if err := r.readSHB(); err != nil {
				return err
			}
		case blockEPB, blockSPB, blockPB, blockIDB, blockISB:
			body, err := r.readBlock(start, length, minBlockLen)
			if err != nil {
				return err
			}
			switch typ {
			case blockEPB:
				return r.packetEPB(start, body, f)
			case blockSPB:
				return r.packetSPB(start, body, f)
			case blockPB:
				return r.packetPB(start, body, f)
			case blockIDB:
				err = r.readIDB(start, body)
			case blockISB:
				err = r.readISB(start, body)
			}
			if err != nil {
				return err
			}
		default:
			// NRB, DSB, custom and unknown blocks: skip without buffering.
			if err := r.skipBlock(start, length); err != nil {
				return err
			}
		}
	}
}

// skipBlock consumes a block without keeping it, checking its trailer.
func (r *Reader) skipBlock(start int64, length uint32) error {
	if err := r.checkBlockLen(start, length, minBlockLen); err != nil {
		return err
	}
	if err := r.in.skip(int64(length) - blockTrailerLen); err != nil {
		return r.short(start, "pcapng block", length, err)
	}
	t, err := r.in.peek(blockTrailerLen)
	if err != nil {
		return r.short(start, "pcapng block", length, err)
	}
	if v := r.order.u32(t); v != length {
		return r.corrupt(start, "pcapng block trailing length %d differs from length %d", v, length)
	}
	r.in.consume(blockTrailerLen)
	return nil
}

// packetEPB fills f from an Enhanced Packet Block body.
func (r *Reader) packetEPB(start int64, body []byte, f *Frame) error {
	if len(body) < 20 {
		return r.corrupt(start, "pcapng enhanced packet block too short")
	}
	o := r.order
	id := o.u32(body)
	ts := uint64(o.u32(body[4:]))<<32 | uint64(o.u32(body[8:]))
	return r.packet(start, body, 20, id, ts, o.u32(body[12:]), o.u32(body[16:]), f)
}

// packetPB fills f from an obsolete Packet Block body.
func (r *Reader) packetPB(start int64, body []byte, f *Frame) error {
	if len(body) < 20 {
		return r.corrupt(start, "pcapng packet block too short")
	}
	o := r.order
	id := uint32(o.u16(body))
	ts := uint64(o.u32(body[4:]))<<32 | uint64(o.u32(body[8:]))
	return r.packet(start, body, 20, id, ts, o.u32(body[12:]), o.u32(body[16:]), f)
}

// packet fills f from a packet block body whose data starts at hdr.
func (r *Reader) packet(start int64, body []byte, hdr int, id uint32, ts uint64, capLen, wireLen uint32, f *Frame) error {
	if uint64(capLen) > uint64(len(body)-hdr) {
		return r.corrupt(start, "pcapng packet captured length %d exceeds block", capLen)
	}
	end := hdr + int(capLen)
	if opts := hdr + (int(capLen)+3)&^3; opts < len(body) {
		if err := r.walkOptions(start, body[opts:], nil); err != nil {
			return err
		}
	}
	g, st := r.iface(id)
	r.frames++
	f.Number = r.frames
	f.TS = st.nanos(ts)
	f.WireLen = int(wireLen)
	f.Data = body[hdr:end:end]
	f.LinkType = st.link
	f.Iface = g
	return nil
}

// packetSPB fills f from a Simple Packet Block body. The captured length
// is the original length cut to the block and to interface 0's snaplen.
func (r *Reader) packetSPB(start int64, body []byte, f *Frame) error {
	if len(body) < 4 {
		return r.corrupt(start, "pcapng simple packet block too short")
	}
	wireLen := r.order.u32(body)
	g, st := r.iface(0)
	n := uint64(min(uint64(wireLen), uint64(len(body)-4)))
	if st.snap != 0 && n > uint64(st.snap) {
		n = uint64(st.snap)
	}
	r.frames++
	f.Number = r.frames
	f.TS = 0
	f.WireLen = int(wireLen)
	f.Data = body[4 : 4+n : 4+n]
	f.LinkType = st.link
	f.Iface = g
	return nil
}
