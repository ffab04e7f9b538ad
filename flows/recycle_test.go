package flows

import (
	"reflect"
	"slices"
	"testing"

	"github.com/pcapsleuth/pcapsleuth/decode"
)

// TestRecyclingChangesNothing runs the test captures and long
// conversations through a tracker that recycles its scratch and one that
// allocates it afresh every time, and checks that every finished
// connection is the same.
func TestRecyclingChangesNothing(t *testing.T) {
	paths := testCaptures(t)
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
	tl[5].frame = 9
	r.putTail(tl)
	if g := r.tail(); g != tl || g[5].frame != 0 {
		t.Error("recycled tail ring not zeroed")
	}
	for range recycleMax + 10 {
		r.putHist(new(txHistory))
		r.putTail(new([logTail]tailEntry))
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

// TestRecyclerLogs checks the log buffers: handed out by capacity class,
// grown with their entries, given back to their class within its bound,
// others dropped; and a nil recycler.
func TestRecyclerLogs(t *testing.T) {
	r := new(recycler)
	if b := r.logBuf(1); len(b) != 0 || cap(b) != logHead {
		t.Fatalf("first buffer: len %d cap %d", len(b), cap(b))
	}
	if _, c := logClass(logMax + logTail); c < logMax+logTail {
		t.Fatalf("the largest class (%d) cannot hold a full log", c)
	}
	log := r.logBuf(logHead)
	for i := range logHead {
		log = append(log, LogEntry{Index: int64(i)})
	}
	first := &log[0]
	grown := r.growLog(log, 3)
	if cap(grown) != 2*logHead || len(grown) != logHead || grown[logHead-1].Index != logHead-1 {
		t.Fatalf("grown: len %d cap %d", len(grown), cap(grown))
	}
	if same := r.growLog(grown, 1); &same[0] != &grown[0] {
		t.Error("a log with room was moved")
	}
	if b := r.logBuf(5); &b[:1][0] != first || len(b) != 0 {
		t.Error("the outgrown first buffer did not come back, empty")
	}
	r.putLog(make([]LogEntry, 0, 13)) // no class's capacity
	r.putLog(make([]LogEntry, 0, 1000))
	for k := range r.logs {
		if len(r.logs[k]) != 0 {
			t.Errorf("class %d kept %d buffers of a capacity it does not hand out", k, len(r.logs[k]))
		}
	}
	for range recycleMax + 10 {
		r.putLog(make([]LogEntry, 0, 4*logHead))
	}
	if n := len(r.logs[2]); n != recycleMax>>2 {
		t.Errorf("class 2 keeps %d buffers, want %d", n, recycleMax>>2)
	}
	var none *recycler
	none.putLog(grown)
	if b := none.growLog(grown, 100); len(b) != logHead || cap(b) < logHead+100 || none.logBuf(3) == nil {
		t.Error("a nil recycler did not allocate")
	}
}

// TestRecyclerTurns checks the turns buffers: the first of turnsFirst
// turns, grown by class up to maxTurns, the outgrown one given back
// cleared (it keeps no request line alive) and handed out again; a resting
// connection's buffer goes back when it is packed and comes from the
// recycler when it is unpacked; capacities of no class and full classes
// are dropped; a nil recycler allocates.
func TestRecyclerTurns(t *testing.T) {
	r := new(recycler)
	if _, c := sizeClass(maxTurns, turnsFirst, turnClasses); c != maxTurns {
		t.Fatalf("the largest turns class holds %d, want %d", c, maxTurns)
	}
	c := &Conn{}
	req := []byte("GET /index.html HTTP/1.1\r\n")
	for i := range turnsFirst + 1 {
		p := &decode.Packet{TS: int64(i), Frame: int64(i), PayloadLen: len(req), Payload: req}
		c.addTurn(r, Dir(i%2), p)
	}
	if len(c.Turns) != turnsFirst+1 || cap(c.Turns) != 2*turnsFirst || c.Turns[0].FirstLine == "" || c.Turns[turnsFirst].Frame != turnsFirst {
		t.Fatalf("grown turns: len %d cap %d, %+v", len(c.Turns), cap(c.Turns), c.Turns)
	}
	old := r.turnsBuf(2)
	if cap(old) != turnsFirst || len(old) != 0 {
		t.Fatalf("the outgrown buffer: len %d cap %d", len(old), cap(old))
	}
	for i, tr := range old[:cap(old)] {
		if tr != (Turn{}) {
			t.Errorf("the outgrown buffer's turn %d was not cleared: %+v", i, tr)
		}
	}
	want := slices.Clone(c.Turns)
	grown := &c.Turns[0]
	c.Log = r.logBuf(1)
	c.pack(r)
	if c.Turns != nil {
		t.Fatal("a packed connection kept its turns")
	}
	if b := r.turnsBuf(turnsFirst + 1); &b[:1][0] != grown {
		t.Error("packing did not give the turns buffer back")
	}
	r.putTurns(make([]Turn, 0, 2*turnsFirst))
	back := &r.turns[1][len(r.turns[1])-1][:1][0]
	c.unpack(r, false)
	if !reflect.DeepEqual(c.Turns, want) || &c.Turns[0] != back {
		t.Errorf("unpacked turns %+v (from the recycler: %v), want %+v", c.Turns, &c.Turns[0] == back, want)
	}
	r.putTurns(make([]Turn, 0, 5)) // no class's capacity
	r.putTurns(make([]Turn, 0, 2*maxTurns))
	for k := range r.turns {
		if len(r.turns[k]) != 0 {
			t.Errorf("class %d kept %d buffers of a capacity it does not hand out", k, len(r.turns[k]))
		}
	}
	for range recycleMax + 10 {
		r.putTurns(make([]Turn, 0, maxTurns))
	}
	if n := len(r.turns[2]); n != recycleMax>>2 {
		t.Errorf("the largest class keeps %d buffers, want %d", n, recycleMax>>2)
	}
	var none *recycler
	none.putTurns(c.Turns)
	if b := none.turnsBuf(3); b == nil || cap(b) != turnsFirst {
		t.Error("a nil recycler did not allocate a first buffer")
	}
}
