package analysis

import (
	"bytes"
	"errors"
	"net/netip"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pcapsleuth/pcapsleuth/decode"
	"github.com/pcapsleuth/pcapsleuth/flows"
	"github.com/pcapsleuth/pcapsleuth/render"
)

// callRecorder records the callbacks it gets: a segment as its packet's
// frame, a finished connection as minus its ID.
type callRecorder struct{ calls []int64 }

func (r *callRecorder) Segment(_ *flows.Conn, s *flows.Segment) { r.calls = append(r.calls, s.P.Frame) }
func (r *callRecorder) Done(c *flows.Conn)                      { r.calls = append(r.calls, -c.ID) }

// TestPipelineReplaysInOrder records segments in batches, then many more
// finished connections than a batch holds outside any batch (as Flush
// does): the observer sees every call, in order, and every batch comes
// back to the free list.
func TestPipelineReplaysInOrder(t *testing.T) {
	rec := &callRecorder{}
	pl := newPipeline(64, rec, false)
	var want []int64
	frame := int64(0)
	for range 3 * batchesInFlight { // more batches than go round
		b := <-pl.free
		pl.tracking(b)
		for i := range 100 {
			frame++
			b.pkts[i].Frame = frame
			pl.Segment(nil, &flows.Segment{P: &b.pkts[i]})
			want = append(want, frame)
			if i%10 == 0 {
				pl.Done(&flows.Conn{ID: frame})
				want = append(want, -frame)
			}
		}
		b.n = 100
		pl.pass()
	}
	for i := range 3*flushEvents + 5 {
		pl.Done(&flows.Conn{ID: int64(i + 1)})
		want = append(want, -int64(i+1))
	}
	pl.close()
	if len(rec.calls) != len(want) {
		t.Fatalf("the observer got %d calls, want %d", len(rec.calls), len(want))
	}
	for i := range want {
		if rec.calls[i] != want[i] {
			t.Fatalf("call %d is %d, want %d", i, rec.calls[i], want[i])
		}
	}
	if len(pl.free) != batchesInFlight {
		t.Fatalf("%d batches came back, want %d", len(pl.free), batchesInFlight)
	}
	for range batchesInFlight {
		if b := <-pl.free; b.n != 0 || len(b.ev) != 0 || len(b.arena) != 0 {
			t.Fatalf("a batch came back with %d packets, %d events", b.n, len(b.ev))
		}
	}
}

// warmRecorder is a callRecorder that warms: it records the connections
// each Warm got, and checks that every callback's connection was in the
// last Warm's run, told ackOnly exactly when the callback is a segment
// without payload, SYN or FIN.
type warmRecorder struct {
	callRecorder
	run     []*flows.Conn
	ackOnly []bool
	warms   int
	missed  int
	wrong   int
}

func (r *warmRecorder) Warm(cs []*flows.Conn, ackOnly []bool) {
	r.run = append(r.run[:0], cs...)
	r.ackOnly = append(r.ackOnly[:0], ackOnly...)
	r.warms++
}

func (r *warmRecorder) check(c *flows.Conn, ackOnly bool) {
	found := false
	for i, w := range r.run {
		if w == c && i < len(r.ackOnly) && r.ackOnly[i] == ackOnly {
			return // a connection may come twice in a run: a segment, then its end
		}
		found = found || w == c
	}
	if found {
		r.wrong++
	} else {
		r.missed++
	}
}

func (r *warmRecorder) Segment(c *flows.Conn, s *flows.Segment) {
	r.check(c, s.P.Frame%4 == 1) // TestPipelineWarms: frames 1, 5, 9... are the pure ACKs
	r.callRecorder.Segment(c, s)
}

func (r *warmRecorder) Done(c *flows.Conn) {
	r.check(c, false)
	r.callRecorder.Done(c)
}

// TestPipelineWarms checks that an observer that warms (detectors.Engine)
// gets, before each run of warmEvents callbacks, the connections of that
// run, and the callbacks themselves unchanged, in order; and that the
// fanout of the tool hands Warm on.
func TestPipelineWarms(t *testing.T) {
	rec := &warmRecorder{}
	pl := newPipeline(64, fanout{&callRecorder{}, rec}, false)
	var want []int64
	frame := int64(0)
	for range 2 * batchesInFlight {
		b := <-pl.free
		pl.tracking(b)
		for i := range 100 {
			frame++
			b.pkts[i] = decode.Packet{Frame: frame}
			switch i % 4 { // a pure ACK (frames 1, 5, 9...), data, a SYN, a FIN
			case 0:
				b.pkts[i].Flags = decode.FlagACK
			case 1:
				b.pkts[i].PayloadLen = 100
			case 2:
				b.pkts[i].Flags = decode.FlagSYN
			case 3:
				b.pkts[i].Flags = decode.FlagFIN | decode.FlagACK
			}
			c := &flows.Conn{ID: frame}
			pl.Segment(c, &flows.Segment{P: &b.pkts[i]})
			want = append(want, frame)
			if i%7 == 0 {
				pl.Done(c)
				want = append(want, -frame)
			}
		}
		b.n = 100
		pl.pass()
	}
	pl.close()
	if !slices.Equal(rec.calls, want) {
		t.Fatalf("the observer got %d calls, want %d, or not in order", len(rec.calls), len(want))
	}
	// 115 events a batch: four runs of 32 at most.
	if rec.missed != 0 || rec.wrong != 0 || rec.warms != 2*batchesInFlight*4 {
		t.Fatalf("%d callbacks for a connection not warmed just before, %d warmed with the wrong ackOnly; %d warms, want %d",
			rec.missed, rec.wrong, rec.warms, 2*batchesInFlight*4)
	}
}

// How reportJSON runs an analysis.
type runMode int

const (
	// asTool: as the tool runs (the detectors behind the tracker, finished
	// connections reused), each one given back overwritten first (see
	// poisonConn).
	asTool runMode = iota
	// mostReuse: the tracker calls every observer itself, and a connection
	// is given back (overwritten) as soon as it finished, so that the next
	// one reuses it.
	mostReuse
	// reference: the tracker calls every observer itself and allocates
	// every connection.
	reference
)

// reportJSON runs the analysis of paths and returns its JSON report
// followed by its HTML one.
// fc is the tracker's configuration.
func reportJSON(t *testing.T, paths []string, mode runMode, fc flows.Config) []byte {
	t.Helper()
	done := make(chan struct{})
	var res *Result
	var err error
	go func() {
		defer close(done)
		res, err = Run(modeOptions(paths, mode, fc, t.TempDir()))
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		t.Fatalf("%v: the analysis did not end (mode %d)", paths, mode)
	}
	if err != nil {
		t.Fatalf("%v: %v", paths, err)
	}
	defer res.Close()
	var buf bytes.Buffer
	if err := render.WriteJSON(&buf, res.Report); err != nil {
		t.Fatal(err)
	}
	// The HTML report too: its ladders show the exemplars' packets.
	if err := render.WriteHTML(&buf, res.Report); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// modeOptions are the options of an analysis of paths run in mode, with
// the tracker's configuration fc.
func modeOptions(paths []string, mode runMode, fc flows.Config, tempDir string) Options {
	opts := Options{Paths: paths, Version: "test", TempDir: tempDir, onReuse: poisonConn, Flows: fc}
	switch mode {
	case mostReuse:
		opts.inlineObservers, opts.inlineOffload = true, true
	case reference:
		opts.inlineObservers, opts.noConnReuse, opts.onReuse = true, true, nil
	}
	return opts
}

// poisonConn overwrites a finished connection given back for reuse with a
// connection that never was, and fills its log's and turns' buffers with
// nonsense: an observer that kept it past Done would report that.
func poisonConn(c *flows.Conn) {
	bad := netip.MustParseAddrPort("[2001:db8::dead]:9")
	log, turns := c.Log[:cap(c.Log)], c.Turns[:cap(c.Turns)]
	*c = flows.Conn{ID: 1 << 40, Packets: 1 << 40, LastTS: 1, FirstTS: 1, FirstFrame: 1 << 40,
		SYNTS: 1, SYNACKTS: 1, EstablishedTS: 1, HandshakeRTT: 1 << 40, RTTMin: 1 << 40,
		DirKnown: true, EndState: flows.EndEvicted, TurnCount: 1 << 20}
	for _, e := range []*flows.Endpoint{&c.Orig, &c.Resp} {
		*e = flows.Endpoint{Addr: bad, State: flows.StateCloseWait, Packets: 1 << 40, Bytes: 1 << 40,
			FINTS: 1, FINFrame: 1 << 40, RSTTS: 1, MSS: 1, Retransmissions: 1 << 40,
			Transitions: []flows.Transition{{TS: 1, State: flows.StateCloseWait}}}
	}
	for i := range log {
		log[i] = flows.LogEntry{Index: -1, Frame: -1, TS: -1, Len: -1, Flags: 0xff}
	}
	for i := range turns {
		turns[i] = flows.Turn{Dir: flows.Resp, StartTS: -1, EndTS: -1, Frame: -1, Bytes: -1}
	}
	c.Log, c.Turns = log, turns
}

// TestObservingStageChangesNothing runs every test capture (and, when
// ../shared is present, every scenario) as the tool does (the detectors on
// their own goroutine, behind the tracker, and finished connections reused)
// and with the tracker calling the detectors itself and allocating every
// connection: the reports must be byte-identical. A detector that read, on
// a segment, connection state the tracker changes later would differ here
// (and be a data race, which `go test -race` reports); so would an observer
// that kept a connection past Done, since every reused one is overwritten
// first. A merge of more files than there are batches in flight checks
// that every file gives its batches back.
func TestObservingStageChangesNothing(t *testing.T) {
	paths, _ := filepath.Glob("../../testdata/captures/*.pcap*")
	if len(paths) < 10 {
		t.Fatalf("only %d test captures", len(paths))
	}
	scen, _ := filepath.Glob("../../../shared/scenarios/*.pcap*")
	if len(scen) == 0 {
		t.Log("../shared/scenarios is absent: the scenarios are not compared")
	}
	var runs [][]string
	for _, p := range append(paths, scen...) {
		if _, err := decode.Open(p, decode.ReaderOptions{}); err != nil {
			continue // the unreadable test captures
		}
		runs = append(runs, []string{p})
	}
	merged := []string{}
	for range 2 * batchesInFlight {
		merged = append(merged, "../../testdata/captures/demo.pcap")
	}
	runs = append(runs, merged)
	for _, ps := range runs {
		// The default configuration, and one that hands connections on
		// early and often (a closed one at once, the least active beyond
		// 8 live), so that the short test captures reuse connections too.
		for _, fc := range []flows.Config{{}, {Linger: 1, MaxConns: 8, MaxHalfOpen: 4}} {
			want := reportJSON(t, ps, reference, fc)
			if got := reportJSON(t, ps, asTool, fc); !bytes.Equal(got, want) {
				t.Fatalf("%v %+v: the report differs when the detectors run behind the tracker and connections are reused (%d against %d bytes)", ps[0], fc, len(got), len(want))
			}
			if got := reportJSON(t, ps, mostReuse, fc); !bytes.Equal(got, want) {
				t.Fatalf("%v %+v: the report differs when every finished connection is reused at once (%d against %d bytes)", ps[0], fc, len(got), len(want))
			}
		}
	}
	t.Logf("%d runs identical (%d scenarios)", len(runs), len(scen))
}

// nopObserver does nothing with the callbacks.
type nopObserver struct{}

func (nopObserver) Segment(*flows.Conn, *flows.Segment) {}
func (nopObserver) Done(*flows.Conn)                    {}

// BenchmarkPipelineSteadyState costs one segment recorded by the tracking
// goroutine and replayed on the observing one (to an observer that does
// nothing): it must not allocate once the batches' event arrays have grown
// (bench/smoke.sh).
func BenchmarkPipelineSteadyState(b *testing.B) {
	pl := newPipeline(64, nopObserver{}, false)
	c := &flows.Conn{ID: 1}
	bt := <-pl.free
	pl.tracking(bt)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if bt.n == len(bt.pkts) {
			pl.pass()
			bt = <-pl.free
			pl.tracking(bt)
		}
		p := &bt.pkts[bt.n]
		p.Frame = int64(i + 1)
		bt.n++
		pl.Segment(c, &flows.Segment{P: p})
	}
	pl.close()
}

// TestPipelineClosesOnInputError: when a later file of a timeline cannot
// be opened, Run returns the InputError and leaves no goroutine behind
// (the observing and offload goroutines are stopped, not left waiting for
// batches that never come).
func TestPipelineClosesOnInputError(t *testing.T) {
	before := runtime.NumGoroutine()
	done := make(chan error, 1)
	go func() {
		_, err := Run(Options{Paths: []string{"../../testdata/captures/demo.pcap", filepath.Join(t.TempDir(), "missing.pcap")},
			TempDir: t.TempDir()})
		done <- err
	}()
	select {
	case err := <-done:
		var ie *InputError
		if !errors.As(err, &ie) || !strings.HasSuffix(ie.Path, "missing.pcap") {
			t.Fatalf("got %v, want an InputError for the missing file", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Run did not return")
	}
	for deadline := time.Now().Add(10 * time.Second); runtime.NumGoroutine() > before; {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines before Run, %d after it returned", before, runtime.NumGoroutine())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestBatchArenaGrows fills a batch with payloads of many sizes: the arena
// starts small and grows as they need it, never past its largest size;
// every payload keeps its bytes (cut to keep), whatever arena it went to,
// and a reset batch keeps its grown arena.
func TestBatchArenaGrows(t *testing.T) {
	const keep = 1500
	b := newBatch(keep)
	if cap(b.arena) != arenaStart || b.most != len(b.pkts)*keep {
		t.Fatalf("a new batch's arena holds %d bytes and may grow to %d, want %d and %d", cap(b.arena), b.most, arenaStart, len(b.pkts)*keep)
	}
	var want [][]byte
	for i := range b.pkts {
		n := (i * 37) % 2000
		pl := bytes.Repeat([]byte{byte(i)}, n)
		b.pkts[i].Payload = pl
		b.keepPayload(&b.pkts[i])
		if n > 0 {
			pl[0] = 0xff // the reader's buffer changes
		}
		want = append(want, bytes.Repeat([]byte{byte(i)}, min(n, keep)))
	}
	for i := range b.pkts {
		if !bytes.Equal(b.pkts[i].Payload, want[i]) {
			t.Fatalf("payload %d: %d bytes, want %d of %#x", i, len(b.pkts[i].Payload), len(want[i]), byte(i))
		}
	}
	if cap(b.arena) <= arenaStart || cap(b.arena) > b.most {
		t.Fatalf("the arena holds %d bytes, want more than %d and at most %d", cap(b.arena), arenaStart, b.most)
	}
	grown := cap(b.arena)
	b.reset()
	if cap(b.arena) != grown || len(b.arena) != 0 {
		t.Fatalf("reset: arena %d of %d bytes, want empty with %d", len(b.arena), cap(b.arena), grown)
	}
}
