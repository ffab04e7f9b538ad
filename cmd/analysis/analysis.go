// Package analysis runs pcapsleuth's single pass over one capture timeline:
// read frames, decode TCP segments, track connections and run the detectors
// in the same pass, then assemble the render.Report.
//
// # Pipeline
//
//	decode.Reader.Next → decode.Decoder.Decode → flows.Tracker.Add
//	    → flows.Observer fan-out: detectors.Engine, the connection store, the state timeline
//	→ Tracker.Flush → Engine.Finish → render.Report
//
// Reading and decoding, tracking, and the observers each run on a goroutine
// of their own, over batches of packets (see pipeline.go); the connection
// store and the state timeline on a fourth (offload.go). The observers see
// the same calls in the same order as in a sequential run, so the results
// do not depend on the scheduling.
//
// Several input files form one timeline when Options.Paths holds more than
// one (rotated captures, --merge): they are read in order into one tracker.
package analysis

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/pcapsleuth/pcapsleuth/decode"
	"github.com/pcapsleuth/pcapsleuth/detectors"
	"github.com/pcapsleuth/pcapsleuth/flows"
	"github.com/pcapsleuth/pcapsleuth/render"
)

// Options configures one analysis.
type Options struct {
	// Paths are the capture files of one timeline ("-" is standard input).
	Paths []string
	// Detectors names the detectors to run (all when empty).
	Detectors []string
	Config    detectors.Config
	Flows     flows.Config
	Reader    decode.ReaderOptions
	// Filter, when set, keeps only the segments it accepts.
	Filter func(p *decode.Packet) bool
	// Progress, when set, is called every few thousand frames with the bytes
	// consumed from the current input and the frames read so far.
	Progress func(path string, bytesRead, frames int64)
	// TempDir holds the connection store's spill file ("" = os.TempDir()).
	TempDir string
	// Stdin is read for the path "-" (default os.Stdin).
	Stdin io.Reader
	// Stop, when set, is asked whether to stop reading (an interrupted
	// run): before every frame of a stream, where the next one may be long
	// in coming, and every 1,024 frames of a regular file (and before the
	// first). stream tells whether the input is standard input or a pipe,
	// whose writer usually ends with the same interrupt, rather than a
	// regular file. A non-empty answer says why; reading stops there, the
	// analysis covers the frames read before it, and the capture's errors
	// and a capture-quality warning say so.
	Stop func(stream bool) string
	// Version is the tool version written into the report.
	Version string
	// StatesBucket is the width of the state timeline buckets (0 = automatic).
	StatesBucket time.Duration
	// inlineObservers runs the detectors on the tracking goroutine, called
	// by the tracker itself, as before the pipeline had its third stage:
	// tests compare the two.
	inlineObservers bool
	// noConnReuse: the tracker allocates every connection (tests compare
	// that with reuse, see flows.ConnPool); onReuse, when set, is called
	// with each connection given back for reuse (tests overwrite it).
	noConnReuse bool
	onReuse     func(*flows.Conn)
	// inlineOffload calls the offloaded observers from Done itself, so
	// that a connection is given back as soon as it finished (tests).
	inlineOffload bool
}

// InputError reports an input that could not be read at all (missing, not a
// capture, unsupported): the CLI's exit status 2.
type InputError struct {
	Path string
	Err  error
}

func (e *InputError) Error() string { return fmt.Sprintf("%s: %v", e.Path, e.Err) }
func (e *InputError) Unwrap() error { return e.Err }

// Result is a finished analysis. Close releases the connection store.
type Result struct {
	Report *render.Report
	store  *render.ConnStore
}

// Close removes temporary files.
func (r *Result) Close() error {
	if r.store != nil {
		return r.store.Close()
	}
	return nil
}

// fanout sends the tracker's callbacks to several observers.
type fanout []flows.Observer

func (f fanout) Segment(c *flows.Conn, s *flows.Segment) {
	for _, o := range f {
		o.Segment(c, s)
	}
}

// Warm hands cs to the observers that warm (see warmer).
func (f fanout) Warm(cs []*flows.Conn, ackOnly []bool) {
	for _, o := range f {
		if w, ok := o.(warmer); ok {
			w.Warm(cs, ackOnly)
		}
	}
}

func (f fanout) Done(c *flows.Conn) {
	for _, o := range f {
		o.Done(c)
	}
}

// Run analyzes the capture timeline of opts.Paths.
func Run(opts Options) (*Result, error) {
	if len(opts.Paths) == 0 {
		return nil, errors.New("no capture given")
	}
	specs, err := detectors.Select(opts.Detectors)
	if err != nil {
		return nil, err
	}
	cfg := opts.Config
	if cfg.MaxFlows == 0 {
		cfg = detectors.DefaultConfig()
	}
	store, err := render.NewConnStore(opts.TempDir)
	if err != nil {
		return nil, fmt.Errorf("connection store: %w", err)
	}
	engine := detectors.NewEngine(&cfg, specs)
	timeline := flows.NewTimeline()
	summ := newSummarizer(store)
	late := newOffload(summ, timeline)
	var pool *flows.ConnPool
	if !opts.noConnReuse {
		// The offloaded observers see a connection last: they give it back.
		pool = new(flows.ConnPool)
		if opts.onReuse != nil {
			pool.OnPut(opts.onReuse)
		}
		late.pool = pool
	}
	late.inline = opts.inlineOffload
	keep := opts.Flows.AppBytes
	if keep <= 0 {
		keep = flows.DefaultConfig().AppBytes
	}
	obs := fanout{engine, late}
	pl := newPipeline(keep, obs, opts.inlineObservers)
	var trackerObs flows.Observer = pl
	if opts.inlineObservers {
		trackerObs = obs
	}
	tracker := flows.NewTracker(opts.Flows, trackerObs)
	if pool != nil {
		tracker.SetPool(pool)
	}

	env := &detectors.Env{}
	var caps []render.Capture
	var frame decode.Frame
	var pkt decode.Packet
	dec := decode.NewDecoder()
	var frameBase int64
	for _, path := range opts.Paths {
		capInfo, err := readOne(path, opts, dec, tracker, pl, &frame, &pkt, env, frameBase)
		if err != nil {
			pl.close()
			late.Close()
			store.Close()
			return nil, err
		}
		frameBase += capInfo.Packets
		caps = append(caps, capInfo)
	}
	tracker.Flush()
	pl.close()
	late.Close()
	ts := tracker.Stats()
	env.TCPPackets = ts.Segments
	env.Backwards = ts.Backwards
	env.Evicted = ts.Evicted
	env.SnapTruncated = dec.Stats.SnapTruncated // cut before the TCP header; capture-quality counts cut segments itself
	findings := engine.Finish(env)

	rep := &render.Report{
		Tool:     render.Tool{Name: "pcapsleuth", Version: opts.Version},
		Captures: caps,
		Findings: findings,
		States:   timeline.Series(env.Start, env.End, int64(opts.StatesBucket)),
		Settings: settingsOf(specs, &cfg, &opts),
	}
	store.SetCaptureEnd(env.End)
	store.SetFindings(findings)
	rep.Conns = store
	rep.Summary = summ.summary(env.End)
	rep.Summary.Evicted = ts.Evicted
	rep.Summary.HalfOpenEvicted = ts.HalfOpenEvicted
	rep.Summary.PeakLive = ts.PeakLive
	return &Result{Report: rep, store: store}, nil
}

// readOne reads one capture file into the tracker.
func readOne(path string, opts Options, dec *decode.Decoder, tracker *flows.Tracker, pl *pipeline,
	frame *decode.Frame, pkt *decode.Packet, env *detectors.Env, frameBase int64) (render.Capture, error) {
	var r *decode.Reader
	var err error
	if path == "-" && opts.Stdin != nil {
		r, err = decode.NewReader(opts.Stdin, opts.Reader)
	} else {
		r, err = decode.Open(path, opts.Reader)
	}
	if err != nil {
		return render.Capture{}, &InputError{Path: path, Err: err}
	}
	defer r.Close()
	before := dec.Stats
	var frames, tcp int64
	var first, last int64
	// This goroutine tracks; the reader decodes into batches it hands over,
	// and the observers get them next (see pipeline).
	full := make(chan *batch, batchesInFlight/2)
	var readErr error
	var stopped string // why opts.Stop stopped the reading
	stream := IsStream(path)
	done := make(chan struct{})
	keyer := tracker.Keyer()
	go func() {
		defer close(done)
		defer close(full)
		b := <-pl.free
		b.own()
		for {
			if opts.Stop != nil && (stream || frames&1023 == 0) {
				if stopped = opts.Stop(stream); stopped != "" {
					break
				}
			}
			err := r.Next(frame)
			if err == io.EOF {
				break
			}
			if err != nil {
				readErr = err
				break
			}
			frames++
			if opts.Progress != nil && frames&8191 == 0 {
				opts.Progress(path, r.BytesRead(), frames)
			}
			p := &b.pkts[b.n]
			if !dec.Decode(frame, p) {
				continue
			}
			p.Frame += frameBase
			b.keepPayload(p)
			b.keys[b.n] = keyer.Key(p)
			if b.n++; b.n == len(b.pkts) {
				full <- b
				b = <-pl.free
				b.own()
			}
		}
		// The last batch goes over even when empty: the tracker passes
		// every batch on, and this one must come back to the free list.
		full <- b
	}()
	for b := range full {
		pl.tracking(b)
		for i := 0; i < b.n; i++ {
			if i%flows.WarmChunk == 0 {
				tracker.Warm(b.pkts[i:b.n], b.keys[i:b.n])
			}
			p := &b.pkts[i]
			if first == 0 || p.TS < first {
				first = p.TS
			}
			if p.TS > last {
				last = p.TS
			}
			if opts.Filter != nil && !opts.Filter(p) {
				continue
			}
			tcp++
			tracker.AddKeyed(p, b.keys[i])
		}
		pl.pass()
	}
	<-done
	if opts.Progress != nil {
		opts.Progress(path, r.BytesRead(), frames)
	}
	info := r.Info()
	c := render.Capture{
		Path: path, Format: info.Format.String(), Compression: info.Compression.String(),
		Packets: frames, TCPPackets: tcp, FirstTS: first, LastTS: last,
		ByteOrder: info.ByteOrder, Version: info.Version, Sections: info.Sections,
		Errors: []string{},
	}
	if first != 0 {
		c.Start = time.Unix(0, first).UTC().Format(time.RFC3339Nano)
		c.End = time.Unix(0, last).UTC().Format(time.RFC3339Nano)
		c.DurationS = float64(last-first) / 1e9
	}
	for _, ifc := range info.Interfaces {
		ri := render.Interface{LinkType: ifc.LinkType.String(), SnapLen: ifc.SnapLen, Name: ifc.Name,
			Resolution: resolution(ifc.TSUnitsPerSecond)}
		if ifc.HasDropped {
			d := ifc.Dropped
			ri.Dropped = &d
			env.Dropped += d
			env.HasDropped = true
		}
		c.Interfaces = append(c.Interfaces, ri)
	}
	st := dec.Stats
	c.Decode = render.DecodeStats{
		NonIP: st.NonIP - before.NonIP, NonTCP: st.NonTCP - before.NonTCP,
		IPFragments: st.IPFragments - before.IPFragments, Malformed: st.Malformed - before.Malformed,
		// Cut before the TCP header ends, or within the payload: both are
		// the snaplen's doing.
		SnapTruncated: st.SnapTruncated - before.SnapTruncated + st.TCPTruncated - before.TCPTruncated,
	}
	for k := decode.TunnelNone + 1; k < decode.NumTunnels; k++ {
		if n := st.Tunneled[k] - before.Tunneled[k]; n > 0 {
			if c.Decode.Tunneled == nil {
				c.Decode.Tunneled = map[string]int64{}
			}
			c.Decode.Tunneled[k.String()] = n
		}
	}
	for lt, n := range st.UnsupportedLink {
		if n -= before.UnsupportedLink[lt]; n > 0 {
			if c.Decode.UnsupportedLink == nil {
				c.Decode.UnsupportedLink = map[string]int64{}
			}
			c.Decode.UnsupportedLink[lt.String()] = n
		}
	}
	if readErr != nil {
		msg := fmt.Sprintf("reading stopped early: %v; the analysis covers the %d frames before it", readErr, frames)
		c.Errors = append(c.Errors, msg)
		env.ReadErrors = append(env.ReadErrors, path+": "+readErr.Error())
	}
	if stopped != "" {
		c.Errors = append(c.Errors, fmt.Sprintf("reading stopped early: %s; the analysis covers the %d frames before it", stopped, frames))
		if env.Interrupted == "" {
			env.Interrupted = fmt.Sprintf("%s after %d frames of %s", stopped, env.Packets+frames, path)
		}
	}
	if len(c.Decode.UnsupportedLink) > 0 {
		var parts []string
		for name, n := range c.Decode.UnsupportedLink {
			parts = append(parts, fmt.Sprintf("%d frames of link type %s", n, name))
		}
		sort.Strings(parts)
		c.Warnings = append(c.Warnings, "skipped "+strings.Join(parts, ", ")+" (not decoded)")
	}
	if c.Decode.SnapTruncated > 0 {
		c.Warnings = append(c.Warnings, fmt.Sprintf("%d frames were cut by the snaplen (headers-only capture): payload lengths come from the IP headers", c.Decode.SnapTruncated))
	}
	if frames == 0 {
		c.Warnings = append(c.Warnings, "the capture holds no packets")
	}
	env.Packets += frames
	if first != 0 && (env.Start == 0 || first < env.Start) {
		env.Start = first
	}
	if last > env.End {
		env.End = last
	}
	if st, ok := statSize(path); ok {
		c.Bytes = st
	}
	return c, nil
}

// IsStream reports whether path is standard input or a file that is not a
// regular one (a pipe, a FIFO, a device): a stream that ends when its
// writer does.
func IsStream(path string) bool {
	if path == "-" {
		return true
	}
	fi, err := os.Stat(path)
	return err == nil && !fi.Mode().IsRegular()
}

func statSize(path string) (int64, bool) {
	if path == "-" {
		return 0, false
	}
	fi, err := os.Stat(path)
	if err != nil {
		return 0, false
	}
	return fi.Size(), true
}

func resolution(unitsPerSecond uint64) string {
	switch unitsPerSecond {
	case 0, 1e6:
		return "microseconds"
	case 1e9:
		return "nanoseconds"
	case 1e3:
		return "milliseconds"
	}
	return fmt.Sprintf("1/%d s", unitsPerSecond)
}

func settingsOf(specs []*detectors.Spec, cfg *detectors.Config, opts *Options) render.Settings {
	s := render.Settings{Config: *cfg, Values: map[string]string{}}
	for _, sp := range specs {
		s.Detectors = append(s.Detectors, sp.Name())
	}
	fc := opts.Flows
	def := flows.DefaultConfig()
	if fc.MaxConns == 0 {
		fc.MaxConns = def.MaxConns
	}
	s.Values["max-conns"] = fmt.Sprint(fc.MaxConns)
	if fc.MaxHalfOpen == 0 {
		fc.MaxHalfOpen = def.MaxHalfOpen
	}
	s.Values["max-half-open"] = fmt.Sprint(min(fc.MaxHalfOpen, fc.MaxConns))
	s.Values["max-flows"] = fmt.Sprint(cfg.MaxFlows)
	s.Values["close-wait-grace"] = cfg.Teardown.CloseWaitGrace.String()
	return s
}
