package flows

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/netip"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/pcapsleuth/pcapsleuth/decode"
)

// trackFile runs the tracker over a capture and returns the finished
// connections.
func trackFile(t testing.TB, path string) []*Conn {
	t.Helper()
	return trackFileWith(t, path, nil, nil)
}

// trackFileWith is trackFile with a function called on every segment after
// the tracker has handled it, and one called on the new tracker (either
// may be nil).
func trackFileWith(t testing.TB, path string, each func(c *Conn), setup func(*Tracker)) []*Conn {
	t.Helper()
	rec := &recorder{}
	var obs Observer = rec
	if each != nil {
		obs = &eachSegment{rec, each}
	}
	tr := NewTracker(Config{}, obs)
	if setup != nil {
		setup(tr)
	}
	trackInto(t, path, tr)
	return rec.done
}

// trackInto feeds every segment of the capture at path to tr, then flushes
// it. It reports false, having fed nothing, for an unreadable capture (the
// test captures include some).
func trackInto(t testing.TB, path string, tr *Tracker) bool {
	t.Helper()
	r, err := decode.Open(path, decode.ReaderOptions{})
	if err != nil {
		t.Logf("%s: %v", path, err)
		return false
	}
	defer r.Close()
	dec := decode.NewDecoder()
	var f decode.Frame
	var p decode.Packet
	for {
		if err := r.Next(&f); err != nil {
			if !errors.Is(err, io.EOF) {
				t.Logf("%s: %v", path, err)
			}
			break
		}
		if dec.Decode(&f, &p) {
			tr.Add(&p)
		}
	}
	tr.Flush()
	return true
}

// testCaptures returns the project's test captures (at least ten of them,
// or t fails).
func testCaptures(t testing.TB) []string {
	t.Helper()
	paths, _ := filepath.Glob("../testdata/captures/*.pcap*")
	if len(paths) < 10 {
		t.Fatalf("only %d test captures", len(paths))
	}
	return paths
}

// TestFreezeRoundTrip freezes and thaws every connection of the project's
// test captures and checks that nothing changed.
func TestFreezeRoundTrip(t *testing.T) {
	paths := testCaptures(t)
	var n, logs, turns, frozen, full int
	for _, path := range paths {
		for _, c := range trackFile(t, path) {
			f := c.Freeze()
			if f.ID() != c.ID {
				t.Fatalf("%s: ID %d, frozen as %d", path, c.ID, f.ID())
			}
			got, err := f.Thaw()
			if err != nil {
				t.Fatalf("%s: conn %d: %v", path, c.ID, err)
			}
			if !reflect.DeepEqual(got, c) {
				t.Fatalf("%s: conn %d changed by a freeze:\n%+v\n%+v", path, c.ID, got, c)
			}
			n++
			logs += len(c.Log)
			turns += len(c.Turns)
			frozen += f.Size()
			full += connBytes(c)
		}
	}
	if n < 50 || logs == 0 || turns == 0 {
		t.Fatalf("too little tested: %d connections, %d log entries, %d turns", n, logs, turns)
	}
	if frozen*3 > full {
		t.Errorf("frozen connections take %d bytes, the connections %d: expected a third at most", frozen, full)
	}
	t.Logf("%d connections: %d bytes frozen, %d as Conns", n, frozen, full)
}

// connBytes is the memory of a finished Conn: the struct and its slices.
func connBytes(c *Conn) int {
	n := int(reflect.TypeFor[Conn]().Size())
	n += cap(c.Log) * int(reflect.TypeFor[LogEntry]().Size())
	n += cap(c.Turns) * int(reflect.TypeFor[Turn]().Size())
	return n
}

// TestThawRejectsDamage checks that cut or altered bytes give an error, not
// a panic or a made-up connection.
func TestThawRejectsDamage(t *testing.T) {
	conns := trackFile(t, "../testdata/captures/demo.pcap")
	if len(conns) == 0 {
		t.Fatal("no connections")
	}
	f := conns[0].Freeze()
	for cut := 0; cut < f.Size(); cut++ {
		if _, err := (Frozen{id: f.id, b: f.b[:cut]}).Thaw(); err == nil {
			t.Fatalf("cut at %d of %d: no error", cut, f.Size())
		}
	}
	if _, err := (Frozen{}).Thaw(); err == nil {
		t.Fatal("zero Frozen thawed")
	}
	long := append(append([]byte(nil), f.b...), 0)
	if _, err := (Frozen{id: f.id, b: long}).Thaw(); err == nil {
		t.Fatal("trailing byte accepted")
	}
	for i := range f.b {
		b := append([]byte(nil), f.b...)
		b[i] = 0xff
		_, _ = (Frozen{id: f.id, b: b}).Thaw() // must not panic
	}
}

func BenchmarkFreeze(b *testing.B) {
	conns := trackFile(b, "../testdata/captures/demo.pcap")
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_ = conns[i%len(conns)].Freeze()
	}
}

// TestFreezeTransitions checks the transitions of a frozen endpoint, which
// are frozen without their backing array: back in it when they fit, in
// their own slice when they outgrew it.
func TestFreezeTransitions(t *testing.T) {
	for _, n := range []int{0, 3, 6, 7, maxTransitions} {
		c := &Conn{ID: 1}
		c.Orig.Transitions = c.Orig.trBuf[:0]
		c.Resp.Transitions = c.Resp.trBuf[:0]
		for i := range n {
			c.Orig.Transitions = append(c.Orig.Transitions, Transition{TS: int64(i+1) * 1e9, Frame: int64(i + 1), State: State(i%5 + 1)})
		}
		got, err := c.Freeze().Thaw()
		if err != nil {
			t.Fatalf("%d transitions: %v", n, err)
		}
		if !reflect.DeepEqual(got.Orig.Transitions, c.Orig.Transitions) || len(got.Resp.Transitions) != 0 {
			t.Fatalf("%d transitions: thawed %v, want %v", n, got.Orig.Transitions, c.Orig.Transitions)
		}
		inBuf := n > 0 && &got.Orig.Transitions[0] == &got.Orig.trBuf[0]
		if inBuf != (n > 0 && n <= len(c.Orig.trBuf)) {
			t.Errorf("%d transitions: in the backing array: %v", n, inBuf)
		}
		if n <= len(c.Orig.trBuf) && !reflect.DeepEqual(got, c) {
			t.Errorf("%d transitions: thawed\n%+v\nwant\n%+v", n, got, c)
		}
	}
	// A Conn built by hand keeps its transitions outside the array, or none.
	c := &Conn{ID: 2}
	c.Orig.Transitions = []Transition{{TS: 1e9, Frame: 1, State: StateSynSent}}
	got, err := c.Freeze().Thaw()
	if err != nil || !reflect.DeepEqual(got, c) {
		t.Errorf("transitions outside the array: thawed %+v (%v), want %+v", got, err, c)
	}
}

// TestFreezePlanMatchesValue checks that Freeze's plan writes the bytes of
// the reflective walk it replaces (which Thaw mirrors): for every
// connection of the test captures, and for connections with every field
// set at random, pointers and slices included.
func TestFreezePlanMatchesValue(t *testing.T) {
	check := func(what string, c *Conn) {
		t.Helper()
		var ref freezer
		ref.value(reflect.ValueOf(c).Elem())
		got := c.Freeze()
		if !bytes.Equal(got.b, ref.b) {
			t.Fatalf("%s: plan wrote %d bytes, value %d:\n%x\n%x", what, len(got.b), len(ref.b), got.b, ref.b)
		}
	}
	n := 0
	for _, path := range testCaptures(t) {
		for _, c := range trackFile(t, path) {
			check(path, c)
			n++
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 200 {
		c := new(Conn)
		fillRandom(rng, reflect.ValueOf(c).Elem(), 0)
		c.halfPrev, c.halfNext = nil, nil
		for _, e := range []*Endpoint{&c.Orig, &c.Resp} {
			if i%2 == 0 {
				e.rebuffer()
			}
		}
		check(fmt.Sprintf("random connection %d", i), c)
		if got, err := c.Freeze().Thaw(); err != nil {
			t.Fatalf("random connection %d: %v", i, err)
		} else if again := got.Freeze(); !bytes.Equal(again.b, c.Freeze().b) {
			t.Fatalf("random connection %d: frozen differently after a thaw", i)
		}
		n++
	}
	t.Logf("%d connections", n)
}

// fillRandom sets every field of v (addressable) to a random value:
// pointers and slices are made (or left nil) at random, interfaces left
// alone.
func fillRandom(rng *rand.Rand, v reflect.Value, depth int) {
	v = open(v)
	switch v.Kind() {
	case reflect.Bool:
		v.SetBool(rng.IntN(2) == 0)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		x := int64(rng.Uint64())
		if rng.IntN(2) == 0 {
			x = int64(rng.IntN(300)) - 100
		}
		v.SetInt(x >> (64 - v.Type().Bits()))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		v.SetUint(rng.Uint64() >> (64 - v.Type().Bits()))
	case reflect.Float32, reflect.Float64:
		v.SetFloat(rng.NormFloat64() * 1e3)
	case reflect.String:
		v.SetString(strings.Repeat("x", rng.IntN(5)))
	case reflect.Struct:
		if v.Type() == addrPortType {
			a := netip.AddrFrom4([4]byte{10, 0, byte(rng.IntN(256)), byte(rng.IntN(256))})
			if rng.IntN(2) == 0 {
				a = netip.AddrFrom16([16]byte{0xfe, 0x80, 15: byte(rng.IntN(256))}).WithZone("eth0")
			}
			v.Set(reflect.ValueOf(netip.AddrPortFrom(a, uint16(rng.IntN(65536)))))
			return
		}
		for i := range v.NumField() {
			fillRandom(rng, v.Field(i), depth)
		}
	case reflect.Array:
		for i := range v.Len() {
			fillRandom(rng, v.Index(i), depth)
		}
	case reflect.Slice:
		if depth > 3 || rng.IntN(3) == 0 {
			return
		}
		s := reflect.MakeSlice(v.Type(), rng.IntN(4), 4)
		for i := range s.Len() {
			fillRandom(rng, s.Index(i), depth+1)
		}
		v.Set(s)
	case reflect.Pointer:
		if depth > 3 || rng.IntN(3) == 0 {
			return
		}
		p := reflect.New(v.Type().Elem())
		fillRandom(rng, p.Elem(), depth+1)
		v.Set(p)
	}
}

// value appends the encoding of v (addressable) the way Freeze did before
// its plan, through reflect: the reference the plan is checked against.
func (e *freezer) value(v reflect.Value) {
	switch v.Kind() {
	case reflect.Bool:
		if v.Bool() {
			e.b = append(e.b, 1)
		} else {
			e.b = append(e.b, 0)
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		e.int(v.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		e.b = binary.AppendUvarint(e.b, v.Uint())
	case reflect.Float32, reflect.Float64:
		e.b = binary.LittleEndian.AppendUint64(e.b, math.Float64bits(v.Float()))
	case reflect.String:
		s := v.String()
		e.b = binary.AppendUvarint(e.b, uint64(len(s)))
		e.b = append(e.b, s...)
	case reflect.Struct:
		if v.Type() == addrPortType {
			e.addrPort((*netip.AddrPort)(v.Addr().UnsafePointer()))
			return
		}
		ep, cn := v.Type() == endpointType, v.Type() == connType
		for i := range v.NumField() {
			if cn && (i == halfPrevField || i == halfNextField) {
				continue
			}
			if ep && i == trBufField {
				// Transitions (frozen before) holds what counts of it: one
				// byte tells whether they live in it
				e.b = append(e.b, b2u8((*Endpoint)(v.Addr().UnsafePointer()).inBuffer()))
				continue
			}
			e.value(v.Field(i))
		}
	case reflect.Array:
		for i := range v.Len() {
			e.value(v.Index(i))
		}
	case reflect.Slice:
		if v.Type() == logType {
			// most of a frozen connection
			e.log(*(*[]LogEntry)(v.Addr().UnsafePointer()))
			return
		}
		if v.IsNil() {
			e.b = append(e.b, 0)
			return
		}
		e.b = binary.AppendUvarint(e.b, uint64(v.Len())+1)
		for i := range v.Len() {
			e.value(v.Index(i))
		}
	case reflect.Pointer:
		if v.IsNil() {
			e.b = append(e.b, 0)
			return
		}
		e.b = append(e.b, 1)
		e.value(v.Elem())
	}
	// interfaces, maps, channels, functions: not kept
}
