package flows

import (
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
