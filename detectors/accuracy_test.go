package detectors

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/pcapsleuth/pcapsleuth/decode"
	"github.com/pcapsleuth/pcapsleuth/flows"
)

// captureRun is the outcome of the whole analysis of one capture: decode →
// flows → detectors, as cmd runs it.
type captureRun struct {
	Findings []Finding
	Conns    []*flows.Conn // in hand-on order
	Env      Env
	Decode   decode.Stats
	Tracker  flows.Stats
	// Kinds counts frames per segment classification bit (index = bit
	// position of flows.SegKind), for comparisons with tshark.
	Kinds [32]int64
	// FrameKinds is every TCP frame's classification, by frame number, when
	// the run was asked to keep it.
	FrameKinds map[int64]flows.SegKind
}

// count returns the number of frames classified with k.
func (r *captureRun) count(k flows.SegKind) int64 {
	for i := 0; i < 32; i++ {
		if k == 1<<i {
			return r.Kinds[i]
		}
	}
	return 0
}

// runObserver forwards the tracker's callbacks to the engine and counts the
// classifications.
type runObserver struct {
	eng  *Engine
	run  *captureRun
	keep bool
}

func (o *runObserver) Segment(c *flows.Conn, s *flows.Segment) {
	for k := s.Kind; k != 0; k &= k - 1 {
		i := 0
		for x := k & -k; x > 1; x >>= 1 {
			i++
		}
		o.run.Kinds[i]++
	}
	if o.keep {
		o.run.FrameKinds[s.P.Frame] |= s.Kind
	}
	o.eng.Segment(c, s)
}

func (o *runObserver) Done(c *flows.Conn) {
	o.run.Conns = append(o.run.Conns, c)
	o.eng.Done(c)
}

// runCapture analyzes the capture at path with cfg (DefaultConfig when nil)
// and the given specs (all when none). keepFrames keeps every frame's
// classification in FrameKinds. A capture that cannot be opened fails the
// test; one that is cut off or damaged later is analyzed up to the fault,
// with the error in Env.ReadErrors, as cmd does.
func runCapture(tb testing.TB, path string, cfg *Config, keepFrames bool, specs ...*Spec) *captureRun {
	tb.Helper()
	if cfg == nil {
		c := DefaultConfig()
		cfg = &c
	}
	if len(specs) == 0 {
		specs = Specs()
	}
	r, err := decode.Open(path, decode.ReaderOptions{})
	if err != nil {
		tb.Fatalf("open %s: %v", path, err)
	}
	defer r.Close()
	run := &captureRun{}
	if keepFrames {
		run.FrameKinds = make(map[int64]flows.SegKind)
	}
	eng := NewEngine(cfg, specs)
	obs := &runObserver{eng: eng, run: run, keep: keepFrames}
	tr := flows.NewTracker(flows.DefaultConfig(), obs)
	dec := decode.NewDecoder()
	var f decode.Frame
	var p decode.Packet
	env := &run.Env
	for {
		err = r.Next(&f)
		if err != nil {
			break
		}
		env.Packets++
		if env.Start == 0 || f.TS < env.Start {
			env.Start = f.TS
		}
		if f.TS > env.End {
			env.End = f.TS
		}
		if dec.Decode(&f, &p) {
			tr.Add(&p)
		}
	}
	if !errors.Is(err, io.EOF) {
		env.ReadErrors = append(env.ReadErrors, filepath.Base(path)+": "+err.Error())
	}
	tr.Flush()
	st := tr.Stats()
	run.Decode, run.Tracker = dec.Stats, st
	env.TCPPackets = dec.Stats.TCP
	env.SnapTruncated = dec.Stats.TCPTruncated + dec.Stats.SnapTruncated
	env.Backwards = st.Backwards
	env.Evicted = st.Evicted
	for _, ifc := range r.Info().Interfaces {
		if ifc.HasDropped {
			env.HasDropped = true
			env.Dropped += ifc.Dropped
		}
	}
	run.Findings = eng.Finish(env)
	return run
}

// repoShared returns the shared material folder beside the repository root
// (../shared from it), or "" when there is none.
func repoShared(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatalf("getwd: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			s := filepath.Join(filepath.Dir(dir), "shared")
			if _, err := os.Stat(s); err == nil {
				return s
			}
			return ""
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// oracleRow is one line of ORACLE.tsv (tshark 4.0 figures).
type oracleRow struct {
	file                                 string
	readFully                            bool
	retrans, fast, ooo, zeroWin, lostSeg int64
}

func readOracle(tb testing.TB, path string) []oracleRow {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("read oracle: %v", err)
	}
	var rows []oracleRow
	var header []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		cols := strings.Split(line, "\t")
		if header == nil {
			header = cols
			continue
		}
		m := map[string]string{}
		for i, c := range cols {
			if i < len(header) {
				m[header[i]] = c
			}
		}
		n := func(k string) int64 { v, _ := strconv.ParseInt(m[k], 10, 64); return v }
		rows = append(rows, oracleRow{file: m["file"], readFully: m["read_fully"] == "yes",
			retrans: n("tcp_retransmission"), fast: n("tcp_fast_retransmission"), ooo: n("tcp_out_of_order"),
			zeroWin: n("tcp_zero_window"), lostSeg: n("tcp_lost_segment")})
	}
	return rows
}

func TestAccuracyTable(t *testing.T) {
	shared := repoShared(t)
	if shared == "" {
		t.Skip("SKIP accuracy test: no ../shared/corpus beside the repository")
	}
	dir := filepath.Join(shared, "corpus")
	for _, row := range readOracle(t, filepath.Join(dir, "ORACLE.tsv")) {
		if !row.readFully {
			continue
		}
		run := runCapture(t, filepath.Join(dir, row.file), nil, false)
		t.Logf("%-70s retr %5d/%5d fast %4d/%4d ooo %4d/%4d zw %4d/%4d lost %5d/%5d", row.file,
			run.count(flows.SegRetransmission), row.retrans, run.count(flows.SegFastRetransmission), row.fast,
			run.count(flows.SegOutOfOrder), row.ooo, run.count(flows.SegZeroWindow), row.zeroWin,
			run.count(flows.SegPrevNotCaptured), row.lostSeg)
	}
}

// tsharkFrames runs tshark on path and returns, per frame number, the
// tcp.analysis flags it shows, using our SegKind bits.
func tsharkFrames(tb testing.TB, path string) map[int64]flows.SegKind {
	tb.Helper()
	fields := []struct {
		name string
		kind flows.SegKind
	}{
		{"tcp.analysis.retransmission", flows.SegRetransmission},
		{"tcp.analysis.fast_retransmission", flows.SegFastRetransmission},
		{"tcp.analysis.spurious_retransmission", flows.SegSpurious},
		{"tcp.analysis.out_of_order", flows.SegOutOfOrder},
		{"tcp.analysis.zero_window", flows.SegZeroWindow},
		{"tcp.analysis.lost_segment", flows.SegPrevNotCaptured},
		{"tcp.analysis.ack_lost_segment", flows.SegAckedUnseen},
		{"tcp.analysis.keep_alive", flows.SegKeepAlive},
		{"tcp.analysis.keep_alive_ack", flows.SegKeepAliveAck},
		{"tcp.analysis.window_update", flows.SegWindowUpdate},
		{"tcp.analysis.duplicate_ack", flows.SegDupAck},
		{"tcp.analysis.zero_window_probe", flows.SegZeroWindowProbe},
	}
	args := []string{"-n", "-r", path, "-T", "fields", "-e", "frame.number"}
	for _, f := range fields {
		args = append(args, "-e", f.name)
	}
	out, err := exec.Command("tshark", args...).Output()
	if err != nil && len(out) == 0 {
		tb.Logf("tshark %s: %v", path, err)
		return nil
	}
	m := map[int64]flows.SegKind{}
	for _, line := range strings.Split(string(out), "\n") {
		cols := strings.Split(line, "\t")
		if len(cols) < len(fields)+1 {
			continue
		}
		n, err := strconv.ParseInt(cols[0], 10, 64)
		if err != nil {
			continue
		}
		var k flows.SegKind
		for i, f := range fields {
			if cols[i+1] != "" {
				k |= f.kind
			}
		}
		m[n] = k
	}
	return m
}

func TestAccuracyFrames(t *testing.T) {
	file := os.Getenv("ACC_FILE")
	if file == "" {
		t.Skip("ACC_FILE not set")
	}
	run := runCapture(t, file, nil, true)
	ts := tsharkFrames(t, file)
	mask := flows.AnyRetransmission | flows.SegOutOfOrder | flows.SegZeroWindow | flows.SegPrevNotCaptured | flows.SegKeepAlive | flows.SegWindowUpdate | flows.SegDupAck | flows.SegAckedUnseen | flows.SegZeroWindowProbe | flows.SegKeepAliveAck
	var frames []int64
	for f := range ts {
		frames = append(frames, f)
	}
	sort.Slice(frames, func(i, j int) bool { return frames[i] < frames[j] })
	for _, f := range frames {
		a, b := run.FrameKinds[f]&mask, ts[f]&mask
		if a != b {
			t.Logf("frame %6d ours=%-40s tshark=%s", f, a, b)
		}
	}
}
