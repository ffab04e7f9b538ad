package render

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unsafe"
)

// fillSummary sets every field of a ConnSummary but Findings to a distinct
// non-zero value, so a field added to the struct and forgotten by the codec
// fails the round trip.
func fillSummary(t *testing.T) ConnSummary {
	t.Helper()
	var c ConnSummary
	v := reflect.ValueOf(&c).Elem()
	for i := 0; i < v.NumField(); i++ {
		f := v.Field(i)
		name := v.Type().Field(i).Name
		switch f.Kind() {
		case reflect.String:
			f.SetString(name + "\xff\x00é") // invalid UTF-8 and NUL round-trip raw
		case reflect.Int, reflect.Int64:
			f.SetInt(-int64(i*1000 + 7))
		case reflect.Uint16:
			f.SetUint(uint64(60000 + i))
		case reflect.Float64:
			f.SetFloat(float64(i) + 0.125)
		case reflect.Pointer:
			x := 12.5
			f.Set(reflect.ValueOf(&x))
		case reflect.Slice:
			if name != "Findings" {
				t.Fatalf("field %s: the store codec does not know slices", name)
			}
		default:
			t.Fatalf("field %s of kind %s: teach the store codec (conncodec.go) about it", name, f.Kind())
		}
	}
	c.ID = 123456789
	return c
}

func TestSummaryCodecRoundTrip(t *testing.T) {
	in := fillSummary(t)
	var out ConnSummary
	if err := decodeSummary(appendSummary(nil, &in), &out); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip:\n in %+v\nout %+v", in, out)
	}
	// Without the optional RTT.
	in.HandshakeRTTMS = nil
	out = ConnSummary{}
	if err := decodeSummary(appendSummary(nil, &in), &out); err != nil || !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip without RTT: %v\n in %+v\nout %+v", err, in, out)
	}
}

func TestSummaryCodecRejectsDamage(t *testing.T) {
	in := fillSummary(t)
	rec := appendSummary(nil, &in)
	for n := 0; n < len(rec); n++ {
		var out ConnSummary
		if err := decodeSummary(rec[:n], &out); err == nil {
			t.Fatalf("a record cut to %d of %d bytes decoded without error", n, len(rec))
		}
	}
	var out ConnSummary
	if err := decodeSummary(append(rec, 0), &out); err == nil {
		t.Fatal("trailing bytes were accepted")
	}
}

// TestRecordStrings: records decoded through one recordStrings equal those
// decodeSummary gives, share their repetitive fields' strings, and keep
// neither long strings nor more than recordStringsMax of them.
func TestRecordStrings(t *testing.T) {
	var rs recordStrings
	var first ConnSummary
	for i := range recordStringsMax + 100 {
		in := ConnSummary{ID: int64(i + 1), Client: "10.0.0.1:1", ClientState: "ESTABLISHED", ServerState: "CLOSE_WAIT",
			History: fmt.Sprintf("ShAD%d", i), End: strings.Repeat("e", recordStringMax+1), DirectionFrom: "syn", TLSVersion: "TLS 1.3"}
		rec := appendSummary(nil, &in)
		var want, got ConnSummary
		if err := decodeSummary(rec, &want); err != nil {
			t.Fatal(err)
		}
		if err := rs.decode(rec, &got); err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("record %d: %+v (%v), want %+v", i, got, err, want)
		}
		if i == 0 {
			first = got
			continue
		}
		if unsafe.StringData(got.ClientState) != unsafe.StringData(first.ClientState) ||
			unsafe.StringData(got.TLSVersion) != unsafe.StringData(first.TLSVersion) {
			t.Fatalf("record %d: the states and TLS version are not shared", i)
		}
	}
	if len(rs.m) > recordStringsMax {
		t.Errorf("%d strings kept, want at most %d", len(rs.m), recordStringsMax)
	}
	if _, ok := rs.m[strings.Repeat("e", recordStringMax+1)]; ok {
		t.Error("a string longer than recordStringMax is kept")
	}
}
