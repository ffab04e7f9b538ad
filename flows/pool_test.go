package flows

import (
	"fmt"
	"testing"
)

// TestConnPoolReuse: a connection given back after it finished is the
// next one the tracker opens, as new (its own ID, counts and log, its
// first buffers kept); one a queue still named, or given back twice, is
// not handed out again; the pool keeps at most poolMax.
func TestConnPoolReuse(t *testing.T) {
	tr, r := newTestTracker(Config{Linger: 1})
	pool := new(ConnPool)
	tr.SetPool(pool)
	a := newConvo(t, tr, "10.0.0.1:40000", "10.0.0.2:80")
	a.handshake(0)
	a.send(0.010, true, pshack, 100)
	a.send(0.011, false, rst, 0)
	// The next segment (of another connection) lets the closed one go.
	b := newConvo(t, tr, "10.0.0.3:40001", "10.0.0.2:80")
	b.handshake(0.1)
	if len(r.done) != 1 {
		t.Fatalf("%d connections finished, want 1", len(r.done))
	}
	old := r.done[0]
	logBuf, turnsBuf := &old.Log[:1][0], &old.Turns[:1][0]
	pool.Put([]*Conn{old, old}) // twice: kept once
	if len(pool.free) != 1 {
		t.Fatalf("the pool keeps %d connections, want 1", len(pool.free))
	}
	c := newConvo(t, tr, "10.0.0.4:40002", "10.0.0.2:80")
	c.handshake(0.2)
	c.send(0.21, true, pshack, 10)
	cc := tr.table.get(c.c, c.s)
	if cc != old {
		t.Fatal("the connection given back was not reused")
	}
	if cc.ID != 3 || cc.Packets != 4 || len(cc.Log) != 4 || cc.Orig.Bytes != 10 || cc.Resp.Bytes != 0 ||
		cc.EndState != EndCaptureEnd || cc.Orig.RSTTS != 0 || len(cc.Turns) != 1 {
		t.Errorf("the reused connection is not new: ID %d, %d packets, %d logged, bytes %d/%d, end %v, RST %d, %d turns",
			cc.ID, cc.Packets, len(cc.Log), cc.Orig.Bytes, cc.Resp.Bytes, cc.EndState, cc.Orig.RSTTS, len(cc.Turns))
	}
	if &cc.Log[0] != logBuf || &cc.Turns[0] != turnsBuf {
		t.Error("the reused connection did not keep its first log and turns buffers")
	}
	if cc.Orig.Addr.String() != "10.0.0.4:40002" || cc.Slots != [MaxSlots]any{} {
		t.Errorf("the reused connection is %v, slots %v", cc.Orig.Addr, cc.Slots)
	}
	d := newConvo(t, tr, "10.0.0.5:40003", "10.0.0.2:80")
	d.handshake(0.3)
	if tr.table.get(d.c, d.s) == old {
		t.Fatal("a connection given back twice was handed out twice")
	}

	// Not reusable: never finished, or finished while a queue named it.
	pool.Put([]*Conn{new(Conn), {inQueue: true}})
	if len(pool.free) != 0 {
		t.Errorf("the pool kept %d connections that were not reusable", len(pool.free))
	}
	many := make([]*Conn, poolMax+10)
	for i := range many {
		many[i] = &Conn{reusable: true}
	}
	pool.Put(many)
	if len(pool.free) != poolMax {
		t.Errorf("the pool keeps %d connections, want at most %d", len(pool.free), poolMax)
	}
}

// TestConnFinishedInQueueNotReused: a closed connection finished by a new
// SYN on its 4-tuple while it lingered is still named by the closed queue,
// so it is not reusable; one that lingered out is.
func TestConnFinishedInQueueNotReused(t *testing.T) {
	tr, r := newTestTracker(Config{})
	tr.SetPool(new(ConnPool))
	cv := newConvo(t, tr, "10.0.0.1:40000", "10.0.0.2:80")
	cv.handshake(0)
	cv.send(0.01, true, finack, 0)
	cv.send(0.02, false, finack, 0)
	cv.send(0.03, true, ack, 0)
	cv.seq[0] += 1 << 20 // a new connection on the same 4-tuple
	cv.handshake(1)
	if len(r.done) != 1 || r.done[0].EndState != EndReused {
		t.Fatalf("finished %d, want the first one, reused", len(r.done))
	}
	if r.done[0].reusable {
		t.Error("a connection the closed queue still names is reusable")
	}
	tr.Flush()
	for _, c := range r.done[1:] {
		if !c.reusable {
			t.Errorf("connection %d, finished at Flush, is not reusable", c.ID)
		}
	}
}

// putBack is an observer that gives each finished connection back to its
// pool at once, as the analysis's last stage does, remembering where its
// log's entries were.
type putBack struct {
	pool *ConnPool
	ids  []int64
	bufs []*LogEntry
}

func (p *putBack) Segment(*Conn, *Segment) {}
func (p *putBack) Done(c *Conn) {
	var first *LogEntry
	if cap(c.Log) > 0 {
		first = &c.Log[:1][0]
	}
	p.ids, p.bufs = append(p.ids, c.ID), append(p.bufs, first)
	p.pool.Put([]*Conn{c})
}

// TestFlushReclaimsLogs: while Flush finishes the live connections, those
// given back meanwhile lend their logs' buffers to the ones still to
// finish; at most poolMax stay spare, without their logs.
func TestFlushReclaimsLogs(t *testing.T) {
	pool := new(ConnPool)
	obs := &putBack{pool: pool}
	tr := NewTracker(Config{}, obs)
	tr.SetPool(pool)
	const n = 3 * flushReclaim
	for i := range n {
		cv := newConvo(t, tr, fmt.Sprintf("10.1.%d.%d:40000", i/200, i%200), "10.0.0.2:80")
		at := float64(i) / 1000
		cv.handshake(at)
		cv.send(at+0.0005, true, pshack, 100)
		cv.send(at+0.0006, false, ack, 0)
	}
	// A busy connection 20 s later: the others rest (their logs packed),
	// so Flush unpacks each into a new buffer, as at the end of h1g.
	busy := newConvo(t, tr, "10.2.0.1:40000", "10.0.0.2:80")
	busy.handshake(20)
	for i := range 2 * restEvery * (n + 1) {
		busy.send(20.001+float64(i)/1e6, i%2 == 0, ack, 0)
	}
	if tr.stats.Rested != n {
		t.Fatalf("%d connections rested, want %d", tr.stats.Rested, n)
	}
	// A spare connection left from the capture, its log still with it.
	tr.spare = append(tr.spare, &Conn{Log: make([]LogEntry, 0, logHead)})
	tr.Flush()
	if len(obs.ids) != n+1 {
		t.Fatalf("%d connections finished, want %d", len(obs.ids), n)
	}
	seen := map[*LogEntry]int64{}
	shared := 0
	for i, b := range obs.bufs {
		if b == nil {
			t.Fatalf("connection %d finished without a log", obs.ids[i])
		}
		if _, ok := seen[b]; ok {
			shared++
		}
		seen[b] = obs.ids[i]
	}
	// Connections past the first reclaim get buffers given back before.
	if shared < n-2*flushReclaim {
		t.Errorf("%d of %d finished logs reused a buffer given back during Flush, want at least %d", shared, n+1, n-2*flushReclaim)
	}
	if len(tr.spare) > poolMax {
		t.Errorf("%d connections spare, want at most %d", len(tr.spare), poolMax)
	}
	for _, c := range tr.spare {
		if c.Log != nil {
			t.Fatalf("spare connection %d kept its log", c.ID)
		}
	}
}

// TestTurnsCountEverySegment: the segments that extend a turn are added to
// it (addTurn keeps them in the connection until the next turn, a rest or
// the end), also past maxTurns, where the middle turns are dropped.
func TestTurnsCountEverySegment(t *testing.T) {
	tr, r := newTestTracker(Config{})
	cv := newConvo(t, tr, "10.0.0.1:40000", "10.0.0.2:80")
	cv.handshake(0)
	at := 0.01
	type want struct {
		client     bool
		segs, size int
	}
	var runs []want
	for i := range maxTurns + 3 {
		w := want{client: i%2 == 0, segs: 1 + i%4, size: 100 + i}
		runs = append(runs, w)
		for range w.segs {
			at += 0.001
			cv.send(at, w.client, pshack, w.size)
		}
		at += 0.001
		cv.send(at, !w.client, ack, 0)
	}
	tr.Flush()
	if len(r.done) != 1 {
		t.Fatalf("%d connections finished, want 1", len(r.done))
	}
	c := r.done[0]
	if c.TurnCount != len(runs) || len(c.Turns) != maxTurns {
		t.Fatalf("%d turns kept of %d, want %d of %d", len(c.Turns), c.TurnCount, maxTurns, len(runs))
	}
	// The first maxTurns/2 and the last maxTurns/2 are kept.
	kept := append(append([]want(nil), runs[:maxTurns/2]...), runs[len(runs)-maxTurns/2:]...)
	for i, w := range kept {
		got := c.Turns[i]
		dir := Resp
		if w.client {
			dir = Orig
		}
		if got.Dir != dir || got.Segments != int64(w.segs) || got.Bytes != int64(w.segs*w.size) || got.EndTS-got.StartTS != int64(w.segs-1)*1e6 {
			t.Errorf("turn %d: %v, %d segments, %d bytes, %d ns long; want %v, %d, %d, %d ns",
				i, got.Dir, got.Segments, got.Bytes, got.EndTS-got.StartTS, dir, w.segs, w.segs*w.size, (w.segs-1)*1e6)
		}
	}
}
