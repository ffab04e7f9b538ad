package decode

import "strconv"

// Format is the container format of a capture.
type Format uint8

// Container formats.
const (
	FormatPcap Format = iota
	FormatPcapng
)

// String returns "pcap" or "pcapng".
func (f Format) String() string {
	switch f {
	case FormatPcap:
		return "pcap"
	case FormatPcapng:
		return "pcapng"
	}
	return "format-" + strconv.Itoa(int(f))
}

// Compression is the compression wrapped around a capture, detected from
// the stream's magic bytes.
type Compression uint8

// Compression kinds.
const (
	CompressionNone Compression = iota
	CompressionGzip
	CompressionZstd
)

// String returns "none", "gzip" or "zstd".
func (c Compression) String() string {
	switch c {
	case CompressionNone:
		return "none"
	case CompressionGzip:
		return "gzip"
	case CompressionZstd:
		return "zstd"
	}
	return "compression-" + strconv.Itoa(int(c))
}

// LinkType is a LINKTYPE_ value from the pcap and pcapng headers
// (https://www.tcpdump.org/linktypes.html). A few DLT_ values that some
// systems write instead (12 and 14 for raw IP) are decoded as well.
type LinkType uint32

// Link types the decoder understands, plus LinkTypeUnknown.
const (
	LinkTypeNull        LinkType = 0   // BSD loopback, host-order address family
	LinkTypeEthernet    LinkType = 1   // Ethernet II / 802.3
	LinkTypePPP         LinkType = 9   // PPP, optionally with HDLC address/control
	LinkTypeRawDLT12    LinkType = 12  // raw IP as DLT_RAW on most systems
	LinkTypeRawDLT14    LinkType = 14  // raw IP as DLT_RAW on OpenBSD
	LinkTypePPPHDLC     LinkType = 50  // PPP in HDLC-like framing (or Cisco HDLC)
	LinkTypeRaw         LinkType = 101 // raw IPv4 or IPv6
	LinkTypeCHDLC       LinkType = 104 // Cisco HDLC
	LinkTypeLoop        LinkType = 108 // OpenBSD loopback, network-order address family
	LinkTypeLinuxSLL    LinkType = 113 // Linux cooked capture v1
	LinkTypeARCNETLinux LinkType = 129 // ARCNET with the Linux header
	LinkTypeIPv4        LinkType = 228 // raw IPv4 only
	LinkTypeIPv6        LinkType = 229 // raw IPv6 only
	LinkTypeNFLOG       LinkType = 239 // Linux netfilter NFLOG
	LinkTypeLinuxSLL2   LinkType = 276 // Linux cooked capture v2

	// LinkTypeUnknown marks a pcapng packet whose interface id names no
	// interface of its section. No real link type has this value.
	LinkTypeUnknown LinkType = 0xFFFFFFFF
)

// String returns a short lower-case name such as "ethernet" or
// "linux-sll2", or "linktype-N" for link types without a name here.
func (l LinkType) String() string {
	switch l {
	case LinkTypeNull:
		return "null"
	case LinkTypeEthernet:
		return "ethernet"
	case LinkTypePPP:
		return "ppp"
	case LinkTypeRaw, LinkTypeRawDLT12, LinkTypeRawDLT14:
		return "raw"
	case LinkTypePPPHDLC:
		return "ppp-hdlc"
	case LinkTypeCHDLC:
		return "c-hdlc"
	case LinkTypeLoop:
		return "loop"
	case LinkTypeLinuxSLL:
		return "linux-sll"
	case LinkTypeARCNETLinux:
		return "arcnet-linux"
	case LinkTypeIPv4:
		return "ipv4"
	case LinkTypeIPv6:
		return "ipv6"
	case LinkTypeNFLOG:
		return "nflog"
	case LinkTypeLinuxSLL2:
		return "linux-sll2"
	case LinkTypeUnknown:
		return "unknown"
	}
	return "linktype-" + strconv.FormatUint(uint64(l), 10)
}

// Interface describes one capture interface: the single implicit one of a
// pcap file, or one Interface Description Block of a pcapng file.
type Interface struct {
	Section     int      // 0-based pcapng section the interface belongs to
	LinkType    LinkType // link type of its packets
	SnapLen     uint32   // 0 means no limit
	Name        string   // if_name, if present
	Description string   // if_description, if present

	// TSUnitsPerSecond is the timestamp resolution: 1e6 by default, from
	// if_tsresol otherwise (both its base-10 and base-2 forms).
	TSUnitsPerSecond uint64
	// TSOffset is if_tsoffset: seconds added to every timestamp.
	TSOffset int64

	// Dropped is isb_ifdrop of the last Interface Statistics Block seen
	// for this interface; HasDropped tells whether there was one.
	Dropped    uint64
	HasDropped bool
}

// Info describes a capture file. It is filled by NewReader and grows while
// reading: pcapng sections and interfaces are appended as they are met.
type Info struct {
	Format      Format
	Compression Compression
	ByteOrder   string // "little" or "big"; of the last section read for pcapng
	Version     string // "2.4" for pcap, "1.0" for pcapng

	// Sections counts pcapng sections read so far (1 for pcap).
	Sections int
	// Interfaces holds the pcap file's single interface, or all Interface
	// Description Blocks of all pcapng sections in file order. Frame.Iface
	// indexes it.
	Interfaces []Interface

	Nanosecond bool   // pcap: nanosecond-resolution magic
	SnapLen    uint32 // pcap: snaplen of the file header
}
