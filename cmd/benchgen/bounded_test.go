package main

import (
	"path/filepath"
	"testing"

	"github.com/pcapsleuth/pcapsleuth/decode"
	"github.com/pcapsleuth/pcapsleuth/flows"
)

// liveAtEnd tracks a capture and returns the connections still live at its
// end and the distinct client addresses.
func liveAtEnd(t *testing.T, path string) (live, clients int) {
	t.Helper()
	r, err := decode.Open(path, decode.ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	tr := flows.NewTracker(flows.Config{Linger: 1e8}, nopObserver{})
	dec := decode.NewDecoder()
	seen := map[[4]byte]bool{}
	var f decode.Frame
	var p decode.Packet
	for r.Next(&f) == nil {
		if dec.Decode(&f, &p) {
			tr.Add(&p)
			if a := p.Src.Addr().As4(); a[1] == 1 {
				seen[a] = true
			}
		}
	}
	return tr.Live(), len(seen)
}

type nopObserver struct{}

func (nopObserver) Segment(*flows.Conn, *flows.Segment) {}
func (nopObserver) Done(*flows.Conn)                    {}

// TestBoundedLeaks: with -leak-life the leaked and idle connections close,
// so the live connections at the end no longer grow with the capture, and
// -clients bounds the client addresses.
func TestBoundedLeaks(t *testing.T) {
	dir := t.TempDir()
	var live [2][2]int // [bounded][size]
	for i, size := range []string{"8M", "32M"} {
		plain := filepath.Join(dir, "plain-"+size+".pcap")
		bounded := filepath.Join(dir, "bounded-"+size+".pcap")
		if err := gen([]string{"-out", plain, "-size", size, "-snaplen", "96", "-conns", "200"}); err != nil {
			t.Fatal(err)
		}
		if err := gen([]string{"-out", bounded, "-size", size, "-snaplen", "96", "-conns", "200", "-leak-life", "200ms", "-clients", "3"}); err != nil {
			t.Fatal(err)
		}
		var clients int
		live[0][i], _ = liveAtEnd(t, plain)
		live[1][i], clients = liveAtEnd(t, bounded)
		if clients > 3 {
			t.Errorf("%s: %d client addresses with -clients 3", size, clients)
		}
	}
	t.Logf("live at the end: plain %v, bounded %v", live[0], live[1])
	if live[0][1] < live[0][0]*3/2 {
		t.Fatalf("plain captures: %v live: leaks should accumulate", live[0])
	}
	if live[1][1] > live[1][0]*5/4 || live[1][1] >= live[0][1]/2 {
		t.Errorf("bounded captures: %v live (plain %v): leaks should close", live[1], live[0])
	}
}
