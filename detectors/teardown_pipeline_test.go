package detectors

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"testing"

	"github.com/pcapsleuth/pcapsleuth/decode"
	"github.com/pcapsleuth/pcapsleuth/flows"
)

// tdRun is the result of running a capture through the whole
// pipeline: decode → flows.Tracker → Engine.
type tdRun struct {
	Findings []Finding
	Conns    []*flows.Conn // every connection, in hand-on order (tests only)
	Env      Env
}

// tdRecorder wraps the Engine to keep every connection for assertions.
type tdRecorder struct {
	*Engine
	conns []*flows.Conn
}

func (r *tdRecorder) Done(c *flows.Conn) {
	r.conns = append(r.conns, c)
	r.Engine.Done(c)
}

// tdRunCapture decodes the capture in src, tracks its connections and runs
// specs over them with cfg, as `pcapsleuth analyze` does.
func tdRunCapture(src io.Reader, cfg Config, specs []*Spec) (*tdRun, error) {
	rd, err := decode.NewReader(src, decode.ReaderOptions{})
	if err != nil {
		return nil, fmt.Errorf("open capture: %w", err)
	}
	defer rd.Close()
	eng := &tdRecorder{Engine: NewEngine(&cfg, specs)}
	tr := flows.NewTracker(flows.DefaultConfig(), eng)
	dec := decode.NewDecoder()
	var (
		f   decode.Frame
		p   decode.Packet
		env Env
	)
	for {
		err := rd.Next(&f)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			env.ReadErrors = append(env.ReadErrors, err.Error())
			break
		}
		env.Packets++
		if f.TS != 0 {
			if env.Start == 0 || f.TS < env.Start {
				env.Start = f.TS
			}
			if f.TS > env.End {
				env.End = f.TS
			}
		}
		if !dec.Decode(&f, &p) {
			continue
		}
		env.TCPPackets++
		if p.Truncated {
			env.SnapTruncated++
		}
		tr.Add(&p)
	}
	tr.Flush()
	st := tr.Stats()
	env.Backwards, env.Evicted = st.Backwards, st.Evicted
	return &tdRun{Findings: eng.Finish(&env), Conns: eng.conns, Env: env}, nil
}

// tdRunFile runs the pipeline over a capture file.
func tdRunFile(t testing.TB, path string, cfg Config, specs []*Spec) *tdRun {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	r, err := tdRunCapture(bytes.NewReader(b), cfg, specs)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return r
}

// tdFindingsOf returns the findings of kind k.
func tdFindingsOf(fs []Finding, k Kind) []Finding {
	var out []Finding
	for _, f := range fs {
		if f.Kind == k {
			out = append(out, f)
		}
	}
	return out
}
