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
	rs  *recordStrings // nil: every string its own
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

// strBytes reads a length-prefixed string's bytes (nil after an error).
func (r *recordReader) strBytes() []byte {
	n := r.uint()
	if n > uint64(len(r.b)) {
		r.err, r.b = errRecord, nil
		return nil
	}
	b := r.b[:n]
	r.b = r.b[n:]
	return b
}

func (r *recordReader) str() string { return string(r.strBytes()) }

// common is str for a field with few distinct values, shared through r.rs.
func (r *recordReader) common() string {
	if r.rs == nil {
		return r.str()
	}
	return r.rs.get(r.strBytes())
}

// recordStrings shares the strings of the summaries' repetitive fields
// (direction source, states, history, end reason, TLS version) between
// the records one reader decodes: a capture's connections have a few
// hundred distinct values of them, and the report reads back up to
// 150,000 connections, each string a new allocation. It keeps at most
// recordStringsMax strings of at most recordStringMax bytes; the others
// are allocated as before.
type recordStrings struct {
	m map[string]string
}

const (
	recordStringsMax = 4096
	recordStringMax  = 64
)

func (rs *recordStrings) get(b []byte) string {
	if s, ok := rs.m[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(b) <= recordStringMax && len(rs.m) < recordStringsMax {
		if rs.m == nil {
			rs.m = make(map[string]string)
		}
		rs.m[s] = s
	}
	return s
}

// decode is decodeSummary with the repetitive fields shared.
func (rs *recordStrings) decode(b []byte, c *ConnSummary) error {
	return decodeRecord(recordReader{b: b, rs: rs}, c)
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
	return decodeRecord(recordReader{b: b}, c)
}

func decodeRecord(r recordReader, c *ConnSummary) error {
	c.ID = r.int()
	c.Client = r.str()
	c.Server = r.str()
	c.DirectionFrom = r.common()
	c.Packets = r.int()
	c.Retransmissions = r.int()
	c.ClientState = r.common()
	c.ServerState = r.common()
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
	c.History = r.common()
	c.End = r.common()
	c.TLSSNI = r.str()
	c.TLSVersion = r.common()
	c.HTTPRequest = r.str()
	c.HTTPStatus = int(r.int())
	if r.err == nil && len(r.b) != 0 {
		r.err = errRecord
	}
	return r.err
}
