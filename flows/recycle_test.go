package flows

import (
	"path/filepath"
	"reflect"
	"testing"
)

// TestRecyclingChangesNothing runs the test captures and long
// conversations through a tracker that recycles its scratch and one that
// allocates it afresh every time, and checks that every finished
// connection is the same.
func TestRecyclingChangesNothing(t *testing.T) {
	paths, _ := filepath.Glob("../testdata/captures/*.pcap*")
	if len(paths) < 10 {
		t.Fatalf("only %d test captures", len(paths))
	}
	var conns int
	for _, path := range paths {
		want := trackFileWith(t, path, nil, func(tr *Tracker) { tr.recycle = nil })
		got := trackFile(t, path)
		if len(got) != len(want) {
			t.Fatalf("%s: %d connections recycling, %d not", path, len(got), len(want))
		}
		for i := range want {
			if !reflect.DeepEqual(got[i], want[i]) {
				t.Fatalf("%s: conn %d differs when the tracker recycles:\n got %+v\nwant %+v", path, want[i].ID, got[i], want[i])
			}
			conns++
		}
	}
	for _, gap := range []int{7, 13, 29} {
		want, got := &recorder{}, &recorder{}
		fresh := NewTracker(Config{}, want)
		fresh.recycle = nil
		longConvo(t, fresh, gap)
		recycling := NewTracker(Config{}, got)
		for range 3 { // reuse what the first conversations give back
			longConvo(t, recycling, gap)
		}
		if len(want.done) != 1 || len(got.done) != 3 {
			t.Fatalf("long conversation %d: %d and %d connections", gap, len(want.done), len(got.done))
		}
		w := want.done[0]
		for _, c := range got.done {
			w.ID, w.FirstFrame = c.ID, c.FirstFrame
			if !reflect.DeepEqual(c.Log, w.Log) || !reflect.DeepEqual(c.Orig, w.Orig) || !reflect.DeepEqual(c.Resp, w.Resp) || !reflect.DeepEqual(c.Turns, w.Turns) {
				t.Fatalf("long conversation %d: connection %d differs when the tracker recycles", gap, c.ID)
			}
		}
	}
	t.Logf("%d connections of %d captures", conns, len(paths))
}

// TestRecycler checks what the free lists hand out: emptied histories and
// rings, the bounds on what they keep, and a nil recycler.
func TestRecycler(t *testing.T) {
	r := new(recycler)
	h := r.hist()
	h.recs[3] = txRecord{seq: 1, end: 2, ts: 3}
	h.holes = append(make([]seqRange, 0, 8), seqRange{start: 1, end: 2})
	h.nh, h.forgotten = 1, 5
	r.putHist(h)
	if g := r.hist(); g != h || g.recs[3] != (txRecord{}) || len(g.holes) != 0 || cap(g.holes) != 8 || g.nh != 0 || g.forgotten != 0 {
		t.Errorf("recycled history not emptied: %+v", g)
	}
	big := r.hist()
	big.holes = make([]seqRange, 0, recycleHoles+1)
	r.putHist(big)
	if g := r.hist(); g.holes != nil {
		t.Errorf("recycled history kept %d holes of room", cap(g.holes))
	}
	tl := r.tail()
	tl[5].Frame = 9
	r.putTail(tl)
	if g := r.tail(); g != tl || g[5].Frame != 0 {
		t.Error("recycled tail ring not zeroed")
	}
	for range recycleMax + 10 {
		r.putHist(new(txHistory))
		r.putTail(new([logTail]LogEntry))
	}
	if len(r.hists) != recycleMax || len(r.tails) != recycleMax {
		t.Errorf("free lists hold %d and %d, want at most %d", len(r.hists), len(r.tails), recycleMax)
	}
	b := append(r.scratch(10), "packed"...)
	r.putScratch(b)
	if s := r.scratch(4); len(s) != 0 || cap(s) != cap(b) {
		t.Errorf("scratch: len %d cap %d, want 0 and %d", len(s), cap(s), cap(b))
	}
	r.putScratch(make([]byte, 0, recycleBuf+1))
	if cap(r.buf) > recycleBuf {
		t.Error("kept a scratch buffer over the bound")
	}
	var none *recycler
	none.putHist(h)
	none.putTail(tl)
	none.putScratch(b)
	if none.hist() == nil || none.tail() == nil || none.scratch(3) == nil {
		t.Error("a nil recycler handed out nil")
	}
}
