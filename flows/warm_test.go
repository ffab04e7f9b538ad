package flows

import (
	"errors"
	"io"
	"reflect"
	"testing"

	"github.com/pcapsleuth/pcapsleuth/decode"
)

// TestWarmChangesNothing tracks every test capture twice, once packet by
// packet and once as the analysis does, in chunks each warmed first
// (Tracker.Warm), and checks that every connection came out the same: Warm
// only reads.
func TestWarmChangesNothing(t *testing.T) {
	paths := testCaptures(t)
	conns := 0
	for _, path := range paths {
		want := trackFile(t, path)
		rec := &recorder{}
		tr := NewTracker(Config{}, rec)
		if !trackWarmed(t, path, tr) {
			continue
		}
		if len(rec.done) != len(want) {
			t.Fatalf("%s: %d connections warmed, %d not", path, len(rec.done), len(want))
		}
		for i, c := range want {
			if !reflect.DeepEqual(rec.done[i], c) {
				t.Fatalf("%s: connection %d differs when warmed:\n%+v\n%+v", path, c.ID, rec.done[i], c)
			}
		}
		conns += len(want)
	}
	if conns < 100 {
		t.Fatalf("only %d connections compared", conns)
	}
}

// trackWarmed is trackInto with the packets read into chunks of WarmChunk,
// each warmed, then added with their keys.
func trackWarmed(t *testing.T, path string, tr *Tracker) bool {
	t.Helper()
	r, err := decode.Open(path, decode.ReaderOptions{})
	if err != nil {
		return false
	}
	defer r.Close()
	dec := decode.NewDecoder()
	keyer := tr.Keyer()
	var f decode.Frame
	var chunk [WarmChunk]decode.Packet
	var keys [WarmChunk]Key
	n := 0
	flush := func() {
		tr.Warm(chunk[:n], keys[:n])
		for i := range n {
			tr.AddKeyed(&chunk[i], keys[i])
		}
		n = 0
	}
	for {
		if err := r.Next(&f); err != nil {
			if !errors.Is(err, io.EOF) {
				t.Logf("%s: %v", path, err)
			}
			break
		}
		p := &chunk[n]
		if dec.Decode(&f, p) {
			p.Payload = append([]byte(nil), p.Payload...) // the reader's buffer moves on
			keys[n] = keyer.Key(p)
			if n++; n == WarmChunk {
				flush()
			}
		}
	}
	flush()
	tr.Flush()
	return true
}

// TestWarmAsideCadence checks what warmAside relies on: Warm runs once per
// WarmChunk packets, as restOne does once per restEvery segments, so the
// connection it loads from the rest cursor is the one restOne takes next.
func TestWarmAsideCadence(t *testing.T) {
	if WarmChunk != restEvery {
		t.Fatalf("WarmChunk %d, restEvery %d: warmAside loads the rest cursor's next connection once per chunk", WarmChunk, restEvery)
	}
}
