package decode

import (
	"fmt"
	"io"
	"strconv"
)

// pcap magic numbers, as read in the file's own byte order.
const (
	pcapMagicMicro    = 0xa1b2c3d4 // microsecond timestamps
	pcapMagicNano     = 0xa1b23c4d // nanosecond timestamps
	pcapMagicModified = 0xa1b2cd34 // Kuznetsov's modified pcap: 24-byte record headers
)

// pcapFileHeaderLen is the length of the pcap file header.
const pcapFileHeaderLen = 24

// linkTypeMask keeps the link type of the pcap header's link-type field;
// the upper bits may carry an FCS length (LT_LINKTYPE in libpcap).
const linkTypeMask = 0x03FFFFFF

// readPcapHeader reads the pcap file header. r.order is set from the magic.
func (r *Reader) readPcapHeader() error {
	h, err := r.in.peek(pcapFileHeaderLen)
	if err != nil {
		return r.short(0, "pcap file header", pcapFileHeaderLen, err)
	}
	o := r.order
	major, minor := o.u16(h[4:]), o.u16(h[6:])
	r.info.Format = FormatPcap
	r.info.ByteOrder = o.String()
	r.info.Version = strconv.Itoa(int(major)) + "." + strconv.Itoa(int(minor))
	r.info.Sections = 1
	r.info.SnapLen = o.u32(h[16:])
	r.link = LinkType(o.u32(h[20:]) & linkTypeMask)
	r.recHdr = 16
	r.tsScale = 1000
	switch o.u32(h) {
	case pcapMagicNano:
		r.info.Nanosecond = true
		r.tsScale = 1
	case pcapMagicModified:
		r.recHdr = 24
	}
	if major != 2 {
		return &ReadError{Err: fmt.Errorf("pcap version %s: %w", r.info.Version, ErrUnsupported)}
	}
	r.info.Interfaces = []Interface{{LinkType: r.link, SnapLen: r.info.SnapLen, TSUnitsPerSecond: 1e6}}
	if r.info.Nanosecond {
		r.info.Interfaces[0].TSUnitsPerSecond = 1e9
	}
	r.in.consume(pcapFileHeaderLen)
	return nil
}

// nextPcap reads one pcap record.
func (r *Reader) nextPcap(f *Frame) error {
	in := r.in
	start := in.off
	hl := r.recHdr
	h, err := in.peek(hl)
	if err != nil {
		if err == io.EOF {
			return io.EOF
		}
		return r.short(start, "pcap record header", uint32(hl), err)
	}
	o := r.order
	sec, frac := o.u32(h), o.u32(h[4:])
	incl, orig := o.u32(h[8:]), o.u32(h[12:])
	if uint64(incl) > uint64(r.opts.MaxRecord) {
		return &ReadError{Offset: start, Frame: r.frames,
			Err: fmt.Errorf("pcap record length %d exceeds limit %d: %w", incl, r.opts.MaxRecord, ErrCorrupt)}
	}
	n := int(incl)
	var data []byte
	if hl+n <= len(in.buf) {
		b, err := in.peek(hl + n)
		if err != nil {
			return r.short(start, "pcap record", incl, err)
		}
		in.consume(hl + n)
		data = b[hl : hl+n : hl+n]
	} else {
		in.consume(hl)
		if data, err = r.readLarge(n); err != nil {
			return r.short(start, "pcap record", incl, err)
		}
	}
	r.frames++
	f.Number = r.frames
	// sec*1e9 + frac*1000 stays below 2^63 for any 32-bit sec and frac.
	f.TS = int64(sec)*1e9 + int64(frac)*r.tsScale
	f.WireLen = int(orig)
	f.Data = data
	f.LinkType = r.link
	f.Iface = 0
	return nil
}
