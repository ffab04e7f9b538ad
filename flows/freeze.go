package flows

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"reflect"
	"unsafe"
)

// Frozen is a finished connection encoded compactly: what a detector keeps
// of an exemplar connection until the report is written. A Conn costs about
// 1.5 KiB plus its packet log and turns, mostly zeros and small numbers; its
// frozen form is a few hundred bytes. A busy capture leaves tens of
// thousands of exemplar candidates (three per host pair, per listener...)
// and only a few of them end up in a finding.
//
// Every field is kept (exported or not), and what its pointers point to,
// except interfaces: the observers' Slots. The tracker's scratch
// (transmission history, reassembly buffers, the log's tail ring) is gone
// from a finished connection, so its nil pointers cost a byte each.
type Frozen struct {
	id int64
	b  []byte
}

// errFrozen is returned by Thaw for bytes that Freeze did not produce.
var errFrozen = errors.New("corrupt frozen connection")

// Freeze encodes c. c must be finished (handed to Observer.Done): the
// tracker's scratch is gone by then, and c no longer changes.
func (c *Conn) Freeze() Frozen {
	e := freezer{b: make([]byte, 0, 1024)}
	e.plan(connPlan, unsafe.Pointer(c))
	if cap(e.b)-len(e.b) > len(e.b)/4 {
		// a short connection, or one that outgrew the buffer: copied so
		// that the exemplar keeps no more than it needs
		e.b = append([]byte(nil), e.b...)
	}
	return Frozen{id: c.ID, b: e.b}
}

// ID is the frozen connection's ID.
func (f Frozen) ID() int64 { return f.id }

// Size is the encoded size in bytes.
func (f Frozen) Size() int { return len(f.b) }

// Thaw decodes the connection. Each call returns a new Conn.
func (f Frozen) Thaw() (*Conn, error) {
	if f.b == nil {
		return nil, errFrozen
	}
	c := new(Conn)
	d := thawer{b: f.b}
	d.value(reflect.ValueOf(c).Elem())
	if d.err != nil || len(d.b) != 0 {
		return nil, fmt.Errorf("connection %d: %w", f.id, errFrozen)
	}
	return c, nil
}

var (
	addrPortType = reflect.TypeFor[netip.AddrPort]()
	logType      = reflect.TypeFor[[]LogEntry]()
	endpointType = reflect.TypeFor[Endpoint]()
	// trBufField is Endpoint.trBuf's index: the backing array of
	// Transitions, not frozen (Transitions is) but rebuilt by rebuffer.
	// It must come after Transitions.
	trBufField = fieldIndex(endpointType, "trBuf")
	// Conn's links to its neighbours on the tracker's half-open list are
	// not frozen: nil on a finished connection, they would otherwise lead
	// Freeze through the live ones.
	connType      = reflect.TypeFor[Conn]()
	halfPrevField = fieldIndex(connType, "halfPrev")
	halfNextField = fieldIndex(connType, "halfNext")
)

// fieldIndex returns the index of the field of struct type t named name.
func fieldIndex(t reflect.Type, name string) int {
	f, ok := t.FieldByName(name)
	if !ok || len(f.Index) != 1 {
		panic("flows: no field " + name + " in " + t.Name()) // a programming error, caught by any test
	}
	return f.Index[0]
}

// inBuffer reports whether Transitions live in trBuf, as the tracker keeps
// them until they outgrow it.
func (e *Endpoint) inBuffer() bool {
	return unsafe.SliceData(e.Transitions) == &e.trBuf[0]
}

// rebuffer puts thawed Transitions back in trBuf; false if they do not fit.
func (e *Endpoint) rebuffer() bool {
	if len(e.Transitions) > len(e.trBuf) {
		return false
	}
	n := copy(e.trBuf[:], e.Transitions)
	e.Transitions = e.trBuf[:n]
	return true
}

func b2u8(b bool) byte {
	if b {
		return 1
	}
	return 0
}

// open returns v without the read-only mark of an unexported field (v must
// be addressable), so that its value can be read whole and set.
func open(v reflect.Value) reflect.Value {
	if v.CanSet() {
		return v
	}
	return reflect.NewAt(v.Type(), unsafe.Pointer(v.UnsafeAddr())).Elem()
}

// freezer encodes a value: integers as varints (large ones, timestamps
// mostly, as the difference from the previous large one), strings and
// slices length-prefixed (a slice's length + 1, 0 for nil), structs and
// arrays field by field, pointers as 0 (nil) or 1 and what they point to
// (a Conn has no cycles), interfaces not at all.
type freezer struct {
	b    []byte
	base int64 // the last large integer written
}

// Integers whose zigzag form is at least largeInt are timestamps, frame
// numbers of long captures and the like: they are written as the difference
// from the previous one when that is shorter, and become the next base.
const largeInt = 1 << 32

// Integer encodings: the low two bits of the first varint tell which.
const (
	intPlain = 0 // zigzag(x) << 2
	intDelta = 1 // zigzag(x - base) << 2 | 1
	intRaw   = 2 // 2, then x as 8 little-endian bytes
)

func zigzag(x int64) uint64   { return uint64(x<<1) ^ uint64(x>>63) }
func unzigzag(u uint64) int64 { return int64(u>>1) ^ -int64(u&1) }

func (e *freezer) int(x int64) {
	a := zigzag(x)
	d := zigzag(int64(uint64(x) - uint64(e.base))) // wraps like the decoder's sum
	switch {
	case a <= d && a < 1<<62:
		e.b = binary.AppendUvarint(e.b, a<<2|intPlain)
	case d < 1<<62:
		e.b = binary.AppendUvarint(e.b, d<<2|intDelta)
	default:
		e.b = binary.AppendUvarint(e.b, intRaw)
		e.b = binary.LittleEndian.AppendUint64(e.b, uint64(x))
	}
	if a >= largeInt {
		e.base = x
	}
}

// A freezePlan is the walk of Freeze over one type, worked out once: the fields
// (or the element) in order with their offsets, so that freezing a
// connection reads memory directly instead of going through reflect for
// each of its two hundred or so fields (a third of the time a detector
// spends on a finished connection went to Freeze). The reflective
// walk it replaced stays in the tests as the reference
// (TestFreezePlanMatchesValue), and Thaw mirrors it.
type freezePlan []freezeOp

// A freezeOp encodes one value at offset off of its parent.
type freezeOp struct {
	op   freezeKind
	off  uintptr
	size uintptr     // element size (slices, arrays)
	n    int         // array length
	elem freezePlan  // struct fields, or the element of a slice or array
	ptr  *freezePlan // what a pointer points to (a pointer: types may recurse)
}

type freezeKind uint8

const (
	fzSkip freezeKind = iota // interfaces, maps, channels, functions
	fzBool
	fzInt8
	fzInt16
	fzInt32
	fzInt64
	fzUint8
	fzUint16
	fzUint32
	fzUint64
	fzFloat32
	fzFloat64
	fzString
	fzAddrPort
	fzStruct
	fzArray
	fzSlice
	fzLog
	fzPointer
	fzTrBuf // Endpoint.trBuf: whether Transitions live in it
)

// connPlan is Freeze's plan for a Conn.
var connPlan = planOf(connType, map[reflect.Type]*freezePlan{})

// planOf works out the plan for a value of type t: one op for t itself
// (memo ends the recursion through pointer types).
func planOf(t reflect.Type, memo map[reflect.Type]*freezePlan) freezePlan {
	return freezePlan{opOf(t, 0, memo)}
}

func opOf(t reflect.Type, off uintptr, memo map[reflect.Type]*freezePlan) freezeOp {
	o := freezeOp{off: off}
	switch k := t.Kind(); {
	case k == reflect.Int || k == reflect.Uint || k == reflect.Uintptr:
		o.op = scalarOps[sized[k][t.Size()/8]] // 4 or 8 bytes
	case int(k) < len(scalarOps) && scalarOps[k] != fzSkip:
		o.op = scalarOps[k]
	case k == reflect.Struct:
		if t == addrPortType {
			o.op = fzAddrPort
			break
		}
		o.op = fzStruct
		ep, cn := t == endpointType, t == connType
		for i := range t.NumField() {
			f := t.Field(i)
			switch {
			case cn && (i == halfPrevField || i == halfNextField):
			case ep && i == trBufField:
				o.elem = append(o.elem, freezeOp{op: fzTrBuf, off: f.Offset})
			default:
				o.elem = append(o.elem, opOf(f.Type, f.Offset, memo))
			}
		}
	case k == reflect.Array:
		o.op, o.n, o.size = fzArray, t.Len(), t.Elem().Size()
		o.elem = planOf(t.Elem(), memo)
	case k == reflect.Slice:
		if t == logType {
			o.op = fzLog
			break
		}
		o.op, o.size = fzSlice, t.Elem().Size()
		o.elem = planOf(t.Elem(), memo)
	case k == reflect.Pointer:
		o.op = fzPointer
		if p, ok := memo[t]; ok {
			o.ptr = p // filled by the caller that made it
			break
		}
		p := new(freezePlan)
		memo[t] = p
		*p = planOf(t.Elem(), memo)
		o.ptr = p
	}
	return o
}

// scalarOps is the op of each kind of number, of bool and of string (fzSkip
// for the others).
var scalarOps = [...]freezeKind{
	reflect.Bool: fzBool, reflect.String: fzString,
	reflect.Int8: fzInt8, reflect.Int16: fzInt16, reflect.Int32: fzInt32, reflect.Int64: fzInt64,
	reflect.Uint8: fzUint8, reflect.Uint16: fzUint16, reflect.Uint32: fzUint32, reflect.Uint64: fzUint64,
	reflect.Float32: fzFloat32, reflect.Float64: fzFloat64,
}

// sized is the kind that int, uint and uintptr stand for, by their size in
// 8 bytes (0 for 4 bytes, 1 for 8).
var sized = map[reflect.Kind][2]reflect.Kind{
	reflect.Int:     {reflect.Int32, reflect.Int64},
	reflect.Uint:    {reflect.Uint32, reflect.Uint64},
	reflect.Uintptr: {reflect.Uint32, reflect.Uint64},
}

// plan appends the encoding of the value at p, as value does.
func (e *freezer) plan(pl freezePlan, p unsafe.Pointer) {
	for i := range pl {
		o := &pl[i]
		q := unsafe.Add(p, o.off)
		switch o.op {
		case fzBool:
			e.b = append(e.b, b2u8(*(*bool)(q)))
		case fzInt8:
			e.int(int64(*(*int8)(q)))
		case fzInt16:
			e.int(int64(*(*int16)(q)))
		case fzInt32:
			e.int(int64(*(*int32)(q)))
		case fzInt64:
			e.int(*(*int64)(q))
		case fzUint8:
			e.b = binary.AppendUvarint(e.b, uint64(*(*uint8)(q)))
		case fzUint16:
			e.b = binary.AppendUvarint(e.b, uint64(*(*uint16)(q)))
		case fzUint32:
			e.b = binary.AppendUvarint(e.b, uint64(*(*uint32)(q)))
		case fzUint64:
			e.b = binary.AppendUvarint(e.b, *(*uint64)(q))
		case fzFloat32:
			e.b = binary.LittleEndian.AppendUint64(e.b, math.Float64bits(float64(*(*float32)(q))))
		case fzFloat64:
			e.b = binary.LittleEndian.AppendUint64(e.b, math.Float64bits(*(*float64)(q)))
		case fzString:
			s := *(*string)(q)
			e.b = binary.AppendUvarint(e.b, uint64(len(s)))
			e.b = append(e.b, s...)
		case fzAddrPort:
			e.addrPort((*netip.AddrPort)(q))
		case fzStruct:
			e.plan(o.elem, q)
		case fzArray:
			for j := range o.n {
				e.plan(o.elem, unsafe.Add(q, uintptr(j)*o.size))
			}
		case fzSlice:
			h := (*sliceHeader)(q)
			if h.data == nil {
				e.b = append(e.b, 0)
				break
			}
			e.b = binary.AppendUvarint(e.b, uint64(h.len)+1)
			for j := range h.len {
				e.plan(o.elem, unsafe.Add(h.data, uintptr(j)*o.size))
			}
		case fzLog:
			e.log(*(*[]LogEntry)(q))
		case fzPointer:
			ptr := *(*unsafe.Pointer)(q)
			if ptr == nil {
				e.b = append(e.b, 0)
				break
			}
			e.b = append(e.b, 1)
			e.plan(*o.ptr, ptr)
		case fzTrBuf: // p is the Endpoint's
			e.b = append(e.b, b2u8((*Endpoint)(p).inBuffer()))
		}
	}
}

// sliceHeader is the layout of a slice.
type sliceHeader struct {
	data     unsafe.Pointer
	len, cap int
}

// addrPort appends ap in its binary form, length-prefixed.
func (e *freezer) addrPort(ap *netip.AddrPort) {
	var m [64]byte                  // address, port and a zone name; a longer zone allocates
	mb, _ := ap.AppendBinary(m[:0]) // never fails
	e.b = binary.AppendUvarint(e.b, uint64(len(mb)))
	e.b = append(e.b, mb...)
}

// log appends a packet log, length-prefixed like any slice: each field as
// the difference from the entry before, as pack does, the first TS from
// the last large integer.
func (e *freezer) log(l []LogEntry) {
	if l == nil {
		e.b = append(e.b, 0)
		return
	}
	e.b = binary.AppendUvarint(e.b, uint64(len(l))+1)
	x := logDelta{prev: LogEntry{TS: e.base}}
	for i := range l {
		e.b = x.append(e.b, &l[i])
	}
}

// thawer decodes what Freeze encoded; the first error sticks.
type thawer struct {
	b    []byte
	err  error
	base int64 // as freezer.base
}

// int decodes what freezer.int wrote.
func (d *thawer) int() int64 {
	u := d.uvarint()
	var x int64
	switch u & 3 {
	case intPlain:
		x = unzigzag(u >> 2)
	case intDelta:
		x = int64(uint64(d.base) + uint64(unzigzag(u>>2)))
	case intRaw:
		if u != intRaw {
			d.fail()
			return 0
		}
		b := d.bytes(8)
		if b == nil {
			return 0
		}
		x = int64(binary.LittleEndian.Uint64(b))
	default:
		d.fail()
		return 0
	}
	if zigzag(x) >= largeInt {
		d.base = x
	}
	return x
}

func (d *thawer) fail() {
	if d.err == nil {
		d.err = errFrozen
	}
	d.b = nil
}

func (d *thawer) uvarint() uint64 {
	n, k := binary.Uvarint(d.b)
	if k <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[k:]
	return n
}

func (d *thawer) bytes(n uint64) []byte {
	if n > uint64(len(d.b)) {
		d.fail()
		return nil
	}
	out := d.b[:n]
	d.b = d.b[n:]
	return out
}

// value decodes into v (addressable).
func (d *thawer) value(v reflect.Value) {
	if d.err != nil {
		return
	}
	switch v.Kind() {
	case reflect.Bool:
		if b := d.bytes(1); b != nil {
			open(v).SetBool(b[0] != 0)
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n := d.int()
		if d.err != nil || v.OverflowInt(n) {
			d.fail()
			return
		}
		open(v).SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		n := d.uvarint()
		if v.OverflowUint(n) {
			d.fail()
			return
		}
		open(v).SetUint(n)
	case reflect.Float32, reflect.Float64:
		if b := d.bytes(8); b != nil {
			open(v).SetFloat(math.Float64frombits(binary.LittleEndian.Uint64(b)))
		}
	case reflect.String:
		open(v).SetString(string(d.bytes(d.uvarint())))
	case reflect.Struct:
		if v.Type() == addrPortType {
			var ap netip.AddrPort
			if err := ap.UnmarshalBinary(d.bytes(d.uvarint())); err != nil {
				d.fail()
				return
			}
			open(v).Set(reflect.ValueOf(ap))
			return
		}
		ep, cn := v.Type() == endpointType, v.Type() == connType
		for i := range v.NumField() {
			if cn && (i == halfPrevField || i == halfNextField) {
				continue
			}
			if ep && i == trBufField {
				if b := d.bytes(1); b != nil && (b[0] > 1 || b[0] == 1 && !(*Endpoint)(v.Addr().UnsafePointer()).rebuffer()) {
					d.fail()
				}
				continue
			}
			d.value(v.Field(i))
		}
	case reflect.Array:
		for i := range v.Len() {
			d.value(v.Index(i))
		}
	case reflect.Slice:
		n := d.uvarint()
		if n == 0 || d.err != nil {
			return // nil
		}
		n--
		if n > uint64(len(d.b)) { // every element takes a byte at least
			d.fail()
			return
		}
		if v.Type() == logType {
			log := make([]LogEntry, n)
			x := logDelta{prev: LogEntry{TS: d.base}}
			for i := range log {
				log[i] = d.logEntry(&x)
			}
			open(v).Set(reflect.ValueOf(log))
			return
		}
		s := reflect.MakeSlice(v.Type(), int(n), int(n))
		for i := range int(n) {
			d.value(s.Index(i))
		}
		open(v).Set(s)
	case reflect.Pointer:
		b := d.bytes(1)
		switch {
		case b == nil || b[0] == 0:
			// nil (or d.err set)
		case b[0] == 1:
			p := reflect.New(v.Type().Elem())
			d.value(p.Elem())
			open(v).Set(p)
		default:
			d.fail()
		}
	}
}
