package detectors

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/pcapsleuth/pcapsleuth/flows"
)

// Detector is one running detector. It sees the capture in a single pass, in
// capture order: every finished connection through ConnDone (and, if it
// implements SegmentDetector, every segment), then Finish once.
//
// This is go/analysis's Analyzer shape turned into a stream: a detector must
// keep only what it needs (counts, a bounded sample), never the whole capture.
type Detector interface {
	// ConnDone is called once per connection when the tracker hands it on.
	// The detector may keep c (e.g. as an exemplar); it must not modify it.
	ConnDone(c *flows.Conn)
	// Finish returns the findings once the whole capture was read.
	Finish(env *Env) []Finding
}

// SegmentDetector is a Detector that also wants every TCP segment.
type SegmentDetector interface {
	Detector
	// Segment is called for every segment; s is valid only during the call.
	Segment(c *flows.Conn, s *flows.Segment)
}

// Spec describes a detector and makes fresh instances of it.
type Spec struct {
	Kind Kind
	// Title is the one-line description shown by `pcapsleuth detectors`.
	Title string
	// Doc explains the pattern, the evidence and the false-positive guards.
	Doc string
	// Severity is the most severe level the detector reports.
	Severity Severity
	// New returns a detector with its own state for one analysis.
	New func(cfg *Config) Detector
}

// Name is the detector's stable name, the contract's detector name.
func (s *Spec) Name() string { return s.Kind.String() }

// Env is what detectors know about the capture as a whole when they finish.
type Env struct {
	Start, End int64 // first and last packet times (Unix ns); 0 when no packet
	Packets    int64 // frames read
	TCPPackets int64
	// Capture health, for capture-quality and for caveats.
	SnapTruncated int64    // segments cut by the snaplen
	Dropped       uint64   // pcapng interface drop counters, summed
	HasDropped    bool     // a drop counter was present
	ReadErrors    []string // why reading stopped early, per capture file
	Interrupted   string   // why the run stopped reading before the end (an interrupt), "" when it did not
	Backwards     int64    // packets whose time went backwards
	Evicted       int64    // connections handed on early to bound memory
}

// Engine runs a set of detectors over one analysis. It implements
// flows.Observer, so the tracker feeds it directly.
type Engine struct {
	cfg   *Config
	specs []*Spec
	dets  []Detector
	// segs are the SegmentDetectors still running, in spec order, and
	// segIdx[k] is the index in specs of segs[k]: a detector that panicked
	// is removed, so the per-segment loop neither checks failed nor asserts
	// types.
	segs   []SegmentDetector
	segIdx []int
	sink   uint32 // what warmSlots read, so that no compiler drops the loads
	failed []error
	// dupsFrom is the index in dets of the retransmission-storm detector
	// whose duplicate tracker capture-quality reads (-1: none; see
	// quality.rs), dupsTo that capture-quality.
	dupsFrom int
	dupsTo   *quality
}

// NewEngine makes a fresh instance of each spec.
func NewEngine(cfg *Config, specs []*Spec) *Engine {
	e := &Engine{cfg: cfg, specs: specs, failed: make([]error, len(specs))}
	slot := 0
	for i, s := range specs {
		d := s.New(cfg)
		if u, ok := d.(slotUser); ok && slot < flows.MaxSlots {
			u.useSlot(slot)
			slot++
		}
		e.dets = append(e.dets, d)
		if sd, ok := d.(SegmentDetector); ok {
			e.segs = append(e.segs, sd)
			e.segIdx = append(e.segIdx, i)
		}
	}
	e.shareDups()
	return e
}

// shareDups lets capture-quality read retransmission-storm's duplicate
// tracker when both run, retransmission-storm first (see quality.rs).
func (e *Engine) shareDups() {
	e.dupsFrom = -1
	var rs *retrans
	for i, d := range e.dets {
		switch d := d.(type) {
		case *retrans:
			if rs == nil {
				rs, e.dupsFrom = d, i
			}
		case *quality:
			if rs != nil && e.dupsTo == nil {
				d.shareDups(rs)
				e.dupsTo = d
			}
		}
	}
}

// Warm loads the detectors' states of cs, the connections of the next
// callbacks (a run of a batch's events, in order), without changing
// anything; the analysis's pipeline calls it before each run.
//
// On a busy capture a connection's detector states are rarely in the CPU
// cache, and waiting for each detector's state in turn, as each detector
// ran, was most of their cost. Touching one connection's states first
// (what Segment did until the pipeline warmed runs) put their two or
// three misses in flight together; Warm's loops, over the whole run, a
// dozen and more: first the line of each connection's Slots, then what the
// slots point to. The detectors then find their states in the cache.
//
// ackOnly[i] tells that cs[i]'s callback is a segment without payload, SYN
// or FIN (nil: none is): about half a busy capture's segments are such
// ACKs, and they read no more than the connection's own states, so what
// only data reaches is not loaded for them.
func (e *Engine) Warm(cs []*flows.Conn, ackOnly []bool) {
	var sum uint32
	for _, c := range cs {
		if c != nil && c.Slots[0] != nil {
			sum++
		}
	}
	for i, c := range cs {
		if c != nil {
			sum += warmSlots(c, i < len(ackOnly) && ackOnly[i])
		}
	}
	e.sink += sum
}

// Segment implements flows.Observer (see Warm).
func (e *Engine) Segment(c *flows.Conn, s *flows.Segment) {
	for k := 0; k < len(e.segs); {
		k = e.segmentFrom(k, c, s)
	}
}

// segmentFrom hands s to e.segs[k:] under one recover (a defer per
// detector per segment was a measurable share of the per-segment cost). It
// returns len(e.segs), or, when a detector panicked, the position of the
// one after it once the failed one is disabled, so the others still see s.
func (e *Engine) segmentFrom(k int, c *flows.Conn, s *flows.Segment) (next int) {
	defer func() {
		if r := recover(); r != nil {
			e.disable(e.segIdx[next], r) // removes it: next is now the one after it
		}
	}()
	for next = k; next < len(e.segs); next++ {
		e.segs[next].Segment(c, s)
	}
	return next
}

// Done implements flows.Observer (see Warm).
func (e *Engine) Done(c *flows.Conn) {
	for i := 0; i < len(e.dets); {
		i = e.doneFrom(i, c)
	}
}

// doneFrom hands c to the running detectors from index i on, under one
// recover, like segmentFrom.
func (e *Engine) doneFrom(i int, c *flows.Conn) (next int) {
	defer func() {
		if r := recover(); r != nil {
			e.disable(next, r)
			next++
		}
	}()
	for next = i; next < len(e.dets); next++ {
		if e.failed[next] == nil {
			e.dets[next].ConnDone(c)
		}
	}
	return next
}

// failure is the error of detector i's panic r, with the stack: call it
// from the deferred function that recovered r.
func (e *Engine) failure(i int, r any) error {
	return fmt.Errorf("detector %s failed: %v\n%s", e.specs[i].Name(), r, debug.Stack())
}

// disable records the panic r of detector i, called from the deferred
// function that recovered it (so the stack is the panic's), and stops
// handing it segments and connections.
func (e *Engine) disable(i int, r any) {
	e.failed[i] = e.failure(i, r)
	if i == e.dupsFrom && e.dupsTo != nil {
		e.dupsTo.shareDups(nil)
	}
	for k, j := range e.segIdx {
		if j == i {
			e.segs = append(e.segs[:k], e.segs[k+1:]...)
			e.segIdx = append(e.segIdx[:k], e.segIdx[k+1:]...)
			break
		}
	}
}

// Finish collects every detector's findings, sorted most severe first, then
// by time and kind, so map order never leaks into the output.
//
// Each detector's Finish reads only its own state and env, so they run on
// up to GOMAXPROCS goroutines, each taking the next detector not yet
// taken: on a busy capture they are a tenth of a second and more of the
// run's serial end (h1g: write-after-fin, close-wait-leak and
// retransmission-storm first). Their findings are put together in spec
// order, so the result is the same whatever the scheduling.
func (e *Engine) Finish(env *Env) []Finding {
	found := make([][]Finding, len(e.dets))
	errs := make([]error, len(e.dets))
	var next atomic.Int64
	work := func() {
		for {
			i := int(next.Add(1)) - 1
			if i >= len(e.dets) {
				return
			}
			if e.failed[i] == nil {
				found[i], errs[i] = e.finishOne(i, env)
			}
		}
	}
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(e.dets)) - 1 {
		wg.Go(work)
	}
	work()
	wg.Wait()
	var out []Finding
	for i := range e.dets {
		if errs[i] != nil {
			e.failed[i] = errs[i]
		}
		out = append(out, found[i]...)
		if err := e.failed[i]; err != nil {
			out = append(out, Finding{Kind: KindInternal, Severity: Warning, Subject: e.specs[i].Name(),
				Title:       fmt.Sprintf("the %s detector failed; its findings are missing", e.specs[i].Name()),
				Explanation: firstLine(err.Error()) + ". This is a bug in pcapsleuth; please report it with the capture if you can."})
		}
	}
	relate(out)
	SortFindings(out)
	return out
}

// finishOne runs detector i's Finish, turning a panic into its error (with
// the panic's stack) and no findings. It changes nothing of e, so several
// may run at once.
func (e *Engine) finishOne(i int, env *Env) (fs []Finding, err error) {
	defer func() {
		if r := recover(); r != nil {
			fs, err = nil, e.failure(i, r)
		}
	}()
	return e.dets[i].Finish(env), nil
}

// rank orders kinds within a severity: specific root causes of the
// post-mortems first, generic symptoms (a retransmission storm, CLOSE_WAIT
// sockets, failed handshakes) after them, facts about the capture last.
var rank = [numKinds]uint8{
	KindWriteAfterFINBlackholed:  1,
	KindHealthcheckFINUnanswered: 2,
	KindTLSHandshakeAbandoned:    3,
	KindHandshakeFailure:         4, // a listen queue that overflows is a root cause too
	KindStaleConnectionReuse:     5,
	KindWriteAfterFINReset:       6,
	KindUpstreamTimeout:          7,
	KindIdleTimeoutClose:         8,
	KindZeroWindowStall:          9,
	KindRetransmissionStorm:      10,
	KindCloseWaitLeak:            11,
	KindTSOSuperSegments:         12,
	KindCaptureQuality:           13,
	KindInternal:                 14,
}

// symptoms are the kinds that another finding can explain.
var symptoms = map[Kind]bool{KindRetransmissionStorm: true, KindCloseWaitLeak: true}

// relate notes, on a symptom finding, the root-cause finding that covers
// most of its connections ("these retransmissions are writes after FIN
// into a black hole"), so the report tells cause from consequence.
func relate(fs []Finding) {
	for i := range fs {
		a := &fs[i]
		if !symptoms[a.Kind] || len(a.Flows) == 0 {
			continue
		}
		ids := newIDSet(a.Flows, maxIDBitmap)
		best, bestN := -1, 0
		for j := range fs {
			b := &fs[j]
			if j == i || symptoms[b.Kind] || rank[b.Kind] == 0 || rank[b.Kind] >= rank[KindZeroWindowStall] {
				continue
			}
			n := 0
			for _, r := range b.Flows {
				if ids.has(r.ID) {
					n++
				}
			}
			if n > bestN || (n == bestN && best >= 0 && rank[b.Kind] < rank[fs[best].Kind]) {
				best, bestN = j, n
			}
		}
		if best < 0 || bestN*2 < len(a.Flows) {
			continue
		}
		b := &fs[best]
		a.ExplainedBy = b.Kind
		a.Explanation = strings.TrimSpace(a.Explanation + fmt.Sprintf(
			" %d of these %d connections are also in the %s finding (%q): this is a consequence of it rather than a cause of its own.",
			bestN, len(a.Flows), b.Kind, b.Title))
	}
}

// maxIDBitmap is the widest span of connection IDs an idSet keeps as a
// bitmap (8 MiB); a wider one is a map.
const maxIDBitmap = 1 << 26

// idSet is a set of connection IDs: a bitmap over the span from the least
// to the largest when it is at most maxSpan wide (connection IDs are
// dense: h1g's 10,000-flow findings span 320,000 IDs, 40 KB), else a map.
// relate asks it about every flow of every other finding: with a map that
// was 0.13 s of the findings' 0.3 s on h1g.
type idSet struct {
	lo   int64
	bits []uint64
	m    map[int64]bool
}

func newIDSet(flows []FlowRef, maxSpan int64) idSet {
	if len(flows) == 0 {
		return idSet{}
	}
	lo, hi := flows[0].ID, flows[0].ID
	for _, r := range flows {
		lo, hi = min(lo, r.ID), max(hi, r.ID)
	}
	if span := uint64(hi) - uint64(lo); span >= uint64(maxSpan) {
		s := idSet{m: make(map[int64]bool, len(flows))}
		for _, r := range flows {
			s.m[r.ID] = true
		}
		return s
	}
	s := idSet{lo: lo, bits: make([]uint64, (hi-lo)/64+1)}
	for _, r := range flows {
		i := r.ID - lo
		s.bits[i/64] |= 1 << (i % 64)
	}
	return s
}

func (s idSet) has(id int64) bool {
	if s.m != nil {
		return s.m[id]
	}
	i := uint64(id) - uint64(s.lo) // below lo wraps past the bitmap
	return i/64 < uint64(len(s.bits)) && s.bits[i/64]&(1<<(i%64)) != 0
}

// SortFindings orders findings most severe first; within a severity, root
// causes before the symptoms they explain, then by kind (rank), first
// evidence and subject.
func SortFindings(fs []Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := &fs[i], &fs[j]
		if a.Severity != b.Severity {
			return a.Severity > b.Severity
		}
		if (a.ExplainedBy == 0) != (b.ExplainedBy == 0) {
			return a.ExplainedBy == 0 // causes before their consequences
		}
		if rank[a.Kind] != rank[b.Kind] {
			return rank[a.Kind] < rank[b.Kind]
		}
		if a.At != b.At {
			return a.At < b.At
		}
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		return a.Subject < b.Subject
	})
}

func firstLine(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			return s[:i]
		}
	}
	return s
}
