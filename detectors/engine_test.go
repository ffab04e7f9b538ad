package detectors

import (
	"fmt"
	"math"
	"math/rand"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pcapsleuth/pcapsleuth/decode"
	"github.com/pcapsleuth/pcapsleuth/flows"
)

// fixed is a detector that returns canned findings (for Engine tests only).
type fixed struct{ fs []Finding }

func (f *fixed) ConnDone(*flows.Conn)  {}
func (f *fixed) Finish(*Env) []Finding { return f.fs }

type panicky struct{}

func (panicky) ConnDone(*flows.Conn)  { panic("boom") }
func (panicky) Finish(*Env) []Finding { return nil }

func refs(ids ...int64) []FlowRef {
	var out []FlowRef
	for _, id := range ids {
		out = append(out, FlowRef{ID: id})
	}
	return out
}

func TestEngineOrdersCausesBeforeConsequences(t *testing.T) {
	storm := Finding{Kind: KindRetransmissionStorm, Severity: Critical, At: 1, Flows: refs(1, 2, 3), Explanation: "resends."}
	hole := Finding{Kind: KindWriteAfterFINBlackholed, Severity: Critical, At: 5, Flows: refs(2, 3, 4)}
	other := Finding{Kind: KindUpstreamTimeout, Severity: Warning, At: 0, Flows: refs(9)}
	e := NewEngine(&Config{}, []*Spec{{Kind: KindRetransmissionStorm, New: func(*Config) Detector {
		return &fixed{[]Finding{other, storm, hole}}
	}}})
	got := e.Finish(&Env{})
	if len(got) != 3 || got[0].Kind != KindWriteAfterFINBlackholed || got[1].Kind != KindRetransmissionStorm || got[2].Kind != KindUpstreamTimeout {
		t.Fatalf("order = %v %v %v", got[0].Kind, got[1].Kind, got[2].Kind)
	}
	if got[1].ExplainedBy != KindWriteAfterFINBlackholed || !strings.Contains(got[1].Explanation, "2 of these 3 connections") {
		t.Errorf("storm not related to its cause: %v %q", got[1].ExplainedBy, got[1].Explanation)
	}
	if got[0].ExplainedBy != 0 {
		t.Errorf("a root cause got explained")
	}
}

func TestEngineSymptomWithoutCoverStaysUnexplained(t *testing.T) {
	storm := Finding{Kind: KindRetransmissionStorm, Severity: Warning, Flows: refs(1, 2, 3, 4)}
	hole := Finding{Kind: KindWriteAfterFINBlackholed, Severity: Warning, Flows: refs(4)}
	e := NewEngine(&Config{}, []*Spec{{Kind: KindRetransmissionStorm, New: func(*Config) Detector { return &fixed{[]Finding{storm, hole}} }}})
	for _, f := range e.Finish(&Env{}) {
		if f.ExplainedBy != 0 {
			t.Errorf("%v explained by %v with 1 of 4 flows", f.Kind, f.ExplainedBy)
		}
	}
}

func TestEngineRecoversFromDetectorPanic(t *testing.T) {
	e := NewEngine(&Config{}, []*Spec{{Kind: KindCloseWaitLeak, New: func(*Config) Detector { return panicky{} }}})
	e.Done(&flows.Conn{ID: 1})
	e.Done(&flows.Conn{ID: 2}) // disabled after the first panic: no second one
	got := e.Finish(&Env{})
	if len(got) != 1 || got[0].Kind != KindInternal || !strings.Contains(got[0].Title, "close-wait-leak") {
		t.Fatalf("findings = %+v", got)
	}
}

func TestEngineListenQueueExplainsCloseWait(t *testing.T) {
	// accept-backlog: the client times out requests the listener never
	// accepted; the CLOSE_WAIT sockets are the listen queue's, not the timeout's.
	cw := Finding{Kind: KindCloseWaitLeak, Severity: Warning, Flows: refs(1, 2)}
	up := Finding{Kind: KindUpstreamTimeout, Severity: Warning, Flows: refs(1, 2)}
	hf := Finding{Kind: KindHandshakeFailure, Severity: Critical, Flows: refs(1, 2, 3, 4)}
	e := NewEngine(&Config{}, []*Spec{{Kind: KindCloseWaitLeak, New: func(*Config) Detector { return &fixed{[]Finding{cw, up, hf}} }}})
	for _, f := range e.Finish(&Env{}) {
		if f.Kind == KindCloseWaitLeak && f.ExplainedBy != KindHandshakeFailure {
			t.Errorf("close-wait-leak explained by %v, want handshake-failure", f.ExplainedBy)
		}
		if f.Kind == KindHandshakeFailure && f.ExplainedBy != 0 {
			t.Errorf("handshake-failure explained by %v", f.ExplainedBy)
		}
	}
}

// TestIDSet checks the set of connection IDs relate uses, as a bitmap and
// as a map (a span too wide), against a plain map: members, IDs next to
// them, below the least and past the largest, and extreme values.
func TestIDSet(t *testing.T) {
	r := rand.New(rand.NewSource(5))
	for _, maxSpan := range []int64{maxIDBitmap, 100} {
		for _, n := range []int{0, 1, 7, 500} {
			var flows []FlowRef
			want := map[int64]bool{}
			base := int64(r.Intn(1000)) + 1
			for range n {
				id := base + int64(r.Intn(300))
				flows = append(flows, FlowRef{ID: id})
				want[id] = true
			}
			s := newIDSet(flows, maxSpan)
			lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
			for id := range want {
				lo, hi = min(lo, id), max(hi, id)
			}
			if wide := n > 0 && hi-lo >= maxSpan; (s.m != nil) != wide {
				t.Errorf("span limit %d, %d flows over %d..%d: map %v", maxSpan, n, lo, hi, s.m != nil)
			}
			probes := []int64{0, -1, base - 1, base, base + 299, base + 300, base + 64, math.MinInt64, math.MaxInt64}
			for id := range want {
				probes = append(probes, id, id-1, id+1)
			}
			for _, id := range probes {
				if s.has(id) != want[id] {
					t.Errorf("span limit %d, %d flows: has(%d) = %v", maxSpan, n, id, s.has(id))
				}
			}
		}
	}
	s := newIDSet([]FlowRef{{ID: math.MinInt64}, {ID: math.MaxInt64}}, maxIDBitmap)
	if !s.has(math.MinInt64) || !s.has(math.MaxInt64) || s.has(0) || s.m == nil {
		t.Error("the widest span: not a map, or wrong members")
	}
}

// warming hands every callback to an Engine after warming it with the
// connection, a nil one and the connection of the callback before.
type warming struct {
	*Engine
	last *flows.Conn
}

func (w *warming) Segment(c *flows.Conn, s *flows.Segment) {
	w.Warm([]*flows.Conn{c, nil, w.last}, []bool{s.P.PayloadLen == 0, false, true})
	w.last = c
	w.Engine.Segment(c, s)
}

func (w *warming) Done(c *flows.Conn) {
	w.Warm([]*flows.Conn{c, nil, w.last}, nil)
	w.last = nil // c may be reused
	w.Engine.Done(c)
}

// TestEngineWarmChangesNothing runs every detector over the project's
// test captures with and without Engine.Warm before each callback: the
// findings are the same (Warm only reads, and takes nil connections).
func TestEngineWarmChangesNothing(t *testing.T) {
	paths, _ := filepath.Glob("../testdata/captures/*.pcap")
	if len(paths) < 10 {
		t.Fatalf("only %d test captures", len(paths))
	}
	run := func(path string, warm bool) []Finding {
		cfg := DefaultConfig()
		e := NewEngine(&cfg, Specs())
		var obs flows.Observer = e
		if warm {
			obs = &warming{Engine: e}
		}
		tr := flows.NewTracker(flows.DefaultConfig(), obs)
		r, err := decode.Open(path, decode.ReaderOptions{})
		if err != nil {
			return nil
		}
		defer r.Close()
		dec := decode.NewDecoder()
		var f decode.Frame
		var p decode.Packet
		env := Env{}
		for r.Next(&f) == nil {
			env.Packets++
			if dec.Decode(&f, &p) {
				env.TCPPackets++
				tr.Add(&p)
			}
		}
		tr.Flush()
		return e.Finish(&env)
	}
	findings := 0
	for _, path := range paths {
		want, got := run(path, false), run(path, true)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: findings differ when warmed:\n%+v\n%+v", path, got, want)
		}
		findings += len(want)
	}
	if findings < 10 {
		t.Fatalf("only %d findings compared", findings)
	}
}

// slow is a detector whose Finish takes a while, so that detectors after it
// finish first on another goroutine.
type slow struct {
	fixed
	d time.Duration
}

func (s *slow) Finish(env *Env) []Finding {
	time.Sleep(s.d)
	return s.fixed.Finish(env)
}

type finishPanics struct{}

func (finishPanics) ConnDone(*flows.Conn)  {}
func (finishPanics) Finish(*Env) []Finding { panic("boom in Finish") }

// TestEngineFinishInSpecOrder checks that the detectors' Finish calls, run
// on several goroutines, give their findings in spec order whatever order
// they end in (findings that tie in SortFindings keep it), and that one
// panicking in Finish is reported alone while the others' findings stay.
func TestEngineFinishInSpecOrder(t *testing.T) {
	var specs []*Spec
	var want []string
	for i := range 8 {
		name := fmt.Sprintf("d%d", i)
		f := Finding{Kind: KindCloseWaitLeak, Severity: Warning, Subject: name, At: 5}
		d := &slow{fixed{[]Finding{f}}, time.Duration(8-i) * time.Millisecond}
		specs = append(specs, &Spec{Kind: KindCloseWaitLeak, New: func(*Config) Detector { return d }})
		want = append(want, name)
		if i == 3 {
			specs = append(specs, &Spec{Kind: KindTSOSuperSegments, New: func(*Config) Detector { return finishPanics{} }})
		}
	}
	for range 5 {
		got := NewEngine(&Config{}, specs).Finish(&Env{})
		var subjects []string
		internal := 0
		for _, f := range got {
			if f.Kind == KindInternal {
				internal++
				if !strings.Contains(f.Title, "tso-super-segments") || !strings.Contains(f.Explanation, "boom in Finish") {
					t.Errorf("internal finding %q: %q", f.Title, f.Explanation)
				}
				continue
			}
			subjects = append(subjects, f.Subject)
		}
		if internal != 1 || !slices.Equal(subjects, want) {
			t.Fatalf("findings %v (%d internal), want %v and one internal", subjects, internal, want)
		}
	}
}
