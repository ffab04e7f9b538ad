package render

import (
	"encoding/binary"
	"errors"
	"math"
)

// The connection store's record format: ConnSummary's fields in
// declaration order, integers as varints, floats as 8 little-endian bytes,
// strings length-prefixed, raw (any bytes round-trip). Findings are not
// stored: the store adds them when it reads. Hand-written because encoding
// and decoding every connection is on the analysis's critical path (JSON
// cost 4 s on a 300,000-connection capture; this, a tenth of it).

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendFloat(b []byte, f float64) []byte {
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(f))
}

// appendSummary appends the record of c to b.
func appendSummary(b []byte, c *ConnSummary) []byte {
	b = binary.AppendVarint(b, c.ID)
	b = appendString(b, c.Client)
	b = appendString(b, c.Server)
	b = appendString(b, c.DirectionFrom)
	b = binary.AppendVarint(b, c.Packets)
	b = binary.AppendVarint(b, c.Retransmissions)
	b = appendString(b, c.ClientState)
	b = appendString(b, c.ServerState)
	b = appendString(b, c.Start)
	b = appendFloat(b, c.DurationS)
	b = binary.AppendVarint(b, c.ClientPackets)
	b = binary.AppendVarint(b, c.ServerPackets)
	b = binary.AppendVarint(b, c.ClientBytes)
	b = binary.AppendVarint(b, c.ServerBytes)
	if c.HandshakeRTTMS != nil {
		b = append(b, 1)
		b = appendFloat(b, *c.HandshakeRTTMS)
	} else {
		b = append(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(c.ClientMSS))
	b = binary.AppendUvarint(b, uint64(c.ServerMSS))
	b = appendString(b, c.History)
	b = appendString(b, c.End)
	b = appendString(b, c.TLSSNI)
	b = appendString(b, c.TLSVersion)
	b = appendString(b, c.HTTPRequest)
	b = binary.AppendVarint(b, int64(c.HTTPStatus))
	return b
}

var errRecord = errors.New("corrupt connection record")

// recordReader decodes one record; the first error sticks.
type recordReader struct {
	b   []byte
	err error
}

func (r *recordReader) int() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err, r.b = errRecord, nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *recordReader) uint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err, r.b = errRecord, nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *recordReader) str() string {
	n := r.uint()
	if n > uint64(len(r.b)) {
		r.err, r.b = errRecord, nil
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

func (r *recordReader) float() float64 {
	if len(r.b) < 8 {
		r.err, r.b = errRecord, nil
		return 0
	}
	v := math.Float64frombits(binary.LittleEndian.Uint64(r.b))
	r.b = r.b[8:]
	return v
}

func (r *recordReader) byte() byte {
	if len(r.b) < 1 {
		r.err, r.b = errRecord, nil
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

// decodeSummary reads a record written by appendSummary into c.
func decodeSummary(b []byte, c *ConnSummary) error {
	r := recordReader{b: b}
	c.ID = r.int()
	c.Client = r.str()
	c.Server = r.str()
	c.DirectionFrom = r.str()
	c.Packets = r.int()
	c.Retransmissions = r.int()
	c.ClientState = r.str()
	c.ServerState = r.str()
	c.Start = r.str()
	c.DurationS = r.float()
	c.ClientPackets = r.int()
	c.ServerPackets = r.int()
	c.ClientBytes = r.int()
	c.ServerBytes = r.int()
	if r.byte() == 1 {
		v := r.float()
		c.HandshakeRTTMS = &v
	}
	c.ClientMSS = uint16(r.uint())
	c.ServerMSS = uint16(r.uint())
	c.History = r.str()
	c.End = r.str()
	c.TLSSNI = r.str()
	c.TLSVersion = r.str()
	c.HTTPRequest = r.str()
	c.HTTPStatus = int(r.int())
	if r.err == nil && len(r.b) != 0 {
		r.err = errRecord
	}
	return r.err
}
