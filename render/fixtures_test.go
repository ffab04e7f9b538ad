package render

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/pcapsleuth/pcapsleuth/decode"
	"github.com/pcapsleuth/pcapsleuth/decode/capturetest"
	"github.com/pcapsleuth/pcapsleuth/detectors"
	"github.com/pcapsleuth/pcapsleuth/flows"
)

// Test fixtures: Reports built from small captures written with
// capturetest's DSL and run through the real decoder and tracker. The
// findings are written by hand here (realistic titles, evidence and
// exemplars) so the writers can be tested independently of the detectors.

// memConns is an in-memory ConnSource.
type memConns []ConnSummary

func (m memConns) Len() int { return len(m) }

func (m memConns) Each(f func(*ConnSummary) error) error {
	for i := range m {
		if err := f(&m[i]); err != nil {
			return err
		}
	}
	return nil
}

// recorder keeps every connection the tracker hands on.
type recorder struct{ conns []*flows.Conn }

func (r *recorder) Segment(*flows.Conn, *flows.Segment) {}
func (r *recorder) Done(c *flows.Conn)                  { r.conns = append(r.conns, c) }

// analysis is a capture run through decode and flows.
type analysis struct {
	capture  Capture
	conns    []*flows.Conn // in ID order
	stats    flows.Stats
	findings []detectors.Finding // from the real detectors, when asked for
}

// byID returns the connection with the given ID.
func (a *analysis) byID(t testing.TB, id int64) *flows.Conn {
	t.Helper()
	for _, c := range a.conns {
		if c.ID == id {
			return c
		}
	}
	t.Fatalf("no connection #%d", id)
	return nil
}

// analyze builds the capture of script and tracks its connections.
func analyze(t testing.TB, name, script string) *analysis {
	t.Helper()
	return analyzeBytes(t, name+".pcap", capturetest.Build(t, script), false)
}

// fanout sends the tracker's callbacks to several observers.
type fanout []flows.Observer

func (f fanout) Segment(c *flows.Conn, s *flows.Segment) {
	for _, o := range f {
		o.Segment(c, s)
	}
}

func (f fanout) Done(c *flows.Conn) {
	for _, o := range f {
		o.Done(c)
	}
}

// analyzeBytes runs a capture file's bytes through the decoder and the
// tracker and, when detect is set, through every real detector
// (detectors.Specs with the default configuration): the pipeline of
// decode.NewReader → decode.NewDecoder → flows.NewTracker → detectors.Engine.
func analyzeBytes(t testing.TB, name string, b []byte, detect bool) *analysis {
	t.Helper()
	rd, err := decode.NewReader(bytes.NewReader(b), decode.ReaderOptions{})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	defer rd.Close()
	rec := &recorder{}
	obs := fanout{rec}
	var eng *detectors.Engine
	if detect {
		cfg := detectors.DefaultConfig()
		eng = detectors.NewEngine(&cfg, detectors.Specs())
		obs = append(obs, eng)
	}
	tr := flows.NewTracker(flows.DefaultConfig(), obs)
	dec := decode.NewDecoder()
	var f decode.Frame
	var p decode.Packet
	a := &analysis{}
	var readErr error
	for {
		if err := rd.Next(&f); err != nil {
			if !errors.Is(err, io.EOF) {
				readErr = err
			}
			break
		}
		if a.capture.FirstTS == 0 {
			a.capture.FirstTS = f.TS
		}
		a.capture.LastTS = f.TS
		if dec.Decode(&f, &p) {
			tr.Add(&p)
		}
	}
	tr.Flush()
	info := rd.Info()
	c := &a.capture
	c.Path = "testdata/" + name
	c.Format = info.Format.String()
	c.Compression = info.Compression.String()
	c.Version = info.Version
	c.ByteOrder = info.ByteOrder
	c.Sections = info.Sections
	c.Packets = dec.Stats.Frames
	c.TCPPackets = dec.Stats.TCP
	c.Bytes = int64(len(b))
	c.Start = rfc3339(c.FirstTS)
	c.End = rfc3339(c.LastTS)
	c.DurationS = float64(c.LastTS-c.FirstTS) / 1e9
	c.Errors = []string{}
	if readErr != nil {
		c.Errors = append(c.Errors, readErr.Error())
	}
	for _, in := range info.Interfaces {
		res := "µs"
		if in.TSUnitsPerSecond == 1e9 {
			res = "ns"
		}
		c.Interfaces = append(c.Interfaces, Interface{LinkType: in.LinkType.String(), SnapLen: in.SnapLen, Resolution: res, Name: in.Name})
	}
	c.Decode = DecodeStats{NonIP: dec.Stats.NonIP, NonTCP: dec.Stats.NonTCP, IPFragments: dec.Stats.IPFragments,
		Malformed: dec.Stats.Malformed, SnapTruncated: dec.Stats.SnapTruncated}
	a.conns = rec.conns
	sortConns(a.conns)
	a.stats = tr.Stats()
	if eng != nil {
		env := &detectors.Env{Start: c.FirstTS, End: c.LastTS, Packets: c.Packets, TCPPackets: c.TCPPackets,
			SnapTruncated: dec.Stats.TCPTruncated, Evicted: a.stats.Evicted, Backwards: a.stats.Backwards}
		if readErr != nil {
			env.ReadErrors = []string{readErr.Error()}
		}
		a.findings = eng.Finish(env)
	}
	return a
}

func sortConns(cs []*flows.Conn) {
	for i := 1; i < len(cs); i++ {
		for j := i; j > 0 && cs[j-1].ID > cs[j].ID; j-- {
			cs[j-1], cs[j] = cs[j], cs[j-1]
		}
	}
}

func rfc3339(ns int64) string {
	if ns == 0 {
		return ""
	}
	return time.Unix(0, ns).UTC().Format(time.RFC3339Nano)
}

// report assembles a Report from an analysis and hand-written findings.
func (a *analysis) report(findings []detectors.Finding) *Report {
	byConn := map[int64][]string{}
	for _, f := range findings {
		for _, fl := range f.Flows {
			byConn[fl.ID] = append(byConn[fl.ID], f.Kind.String())
		}
	}
	var sums memConns
	counts := map[string]map[string]int64{"client": {}, "server": {}}
	for _, c := range a.conns {
		s := summarize(c)
		s.Findings = byConn[c.ID]
		sums = append(sums, s)
		counts["client"][s.ClientState]++
		counts["server"][s.ServerState]++
	}
	r := &Report{
		Tool:     Tool{Name: "pcapsleuth", Version: "test"},
		Captures: []Capture{a.capture},
		Findings: findings,
		Conns:    sums,
		Summary: Summary{
			Connections: int64(len(a.conns)),
			StateCounts: counts,
			PeakLive:    a.stats.PeakLive,
		},
		Settings: Settings{Detectors: nil, Config: detectors.DefaultConfig(),
			Values: map[string]string{"max-flows": "10000", "close-wait-grace": "2s", "max-exemplars": "3"}},
	}
	detectors.SortFindings(r.Findings)
	return r
}

// summarize is a test stand-in for the lead's connection summary.
func summarize(c *flows.Conn) ConnSummary {
	s := ConnSummary{
		ID:              c.ID,
		Client:          c.Orig.Addr.String(),
		Server:          c.Resp.Addr.String(),
		DirectionFrom:   "syn",
		Packets:         c.Packets,
		Retransmissions: c.Retransmissions(),
		ClientState:     c.Orig.State.String(),
		ServerState:     c.Resp.State.String(),
		Start:           rfc3339(c.FirstTS),
		DurationS:       float64(c.Duration()) / 1e9,
		ClientPackets:   c.Orig.Packets,
		ServerPackets:   c.Resp.Packets,
		ClientBytes:     c.Orig.UniqueBytes,
		ServerBytes:     c.Resp.UniqueBytes,
		ClientMSS:       c.Orig.MSS,
		ServerMSS:       c.Resp.MSS,
		History:         history(c),
		End:             c.EndState.String(),
		TLSSNI:          c.App().TLS.SNI,
		HTTPStatus:      c.App().HTTP.Status,
	}
	if !c.DirKnown {
		s.DirectionFrom = "port-heuristic"
	}
	if c.HandshakeRTT > 0 {
		ms := float64(c.HandshakeRTT) / 1e6
		s.HandshakeRTTMS = &ms
	}
	if c.App().HTTP.Method != "" {
		s.HTTPRequest = c.App().HTTP.Method + " " + c.App().HTTP.Target
		if c.App().HTTP.Host != "" {
			s.HTTPRequest += " (Host: " + c.App().HTTP.Host + ")"
		}
	}
	return s
}

// history is a Zeek-like history string of the logged packets (upper case:
// client), enough to exercise the table.
func history(c *flows.Conn) string {
	var b strings.Builder
	last := map[byte]bool{}
	for _, le := range c.Log {
		var ch byte
		switch {
		case le.Flags.Has(decode.FlagSYN) && le.Flags.Has(decode.FlagACK):
			ch = 'h'
		case le.Flags.Has(decode.FlagSYN):
			ch = 's'
		case le.Flags.Has(decode.FlagRST):
			ch = 'r'
		case le.Flags.Has(decode.FlagFIN):
			ch = 'f'
		case le.Kind&flows.AnyRetransmission != 0:
			ch = 't'
		case le.Len > 0:
			ch = 'd'
		default:
			ch = 'a'
		}
		if le.Dir == flows.Orig {
			ch -= 'a' - 'A'
		}
		if !last[ch] {
			last[ch] = true
			b.WriteByte(ch)
		}
	}
	return b.String()
}

// serverStates is the "ss view" of the server side of one listener:
// sockets per state at the end of each bucket.
func serverStates(conns []*flows.Conn, listener string, from, until, width int64) flows.StateSeries {
	s := flows.StateSeries{Endpoint: listener, Side: flows.Resp, BucketStart: from, BucketWidth: width}
	for t := from + width; t <= until+width; t += width {
		var row [flows.NumStates]int32
		for _, c := range conns {
			if c.Resp.Addr.String() != listener || c.FirstTS > t {
				continue
			}
			row[c.Resp.StateAt(t)]++
		}
		s.Counts = append(s.Counts, row)
	}
	for _, c := range conns {
		if c.Resp.Addr.String() == listener {
			s.Conns++
		}
	}
	return s
}

// exemplars picks the connections with the given IDs.
func (a *analysis) exemplars(t testing.TB, ids ...int64) []*flows.Conn {
	var out []*flows.Conn
	for _, id := range ids {
		out = append(out, a.byID(t, id))
	}
	return out
}

func refs(cs []*flows.Conn) []detectors.FlowRef {
	var out []detectors.FlowRef
	for _, c := range cs {
		out = append(out, detectors.Ref(c))
	}
	return out
}

// ---- scenarios ---------------------------------------------------------

// writeAfterFINScript is incident 004 seen on the backend: the balancer
// sends FIN 20 s after the request; the backend writes its response d s
// later; for d < 16 s the balancer answers RST, later the switch drops
// everything and the backend retransmits with backoff. The first data
// segment is a TSO super-segment of 5 MSS.
func writeAfterFINScript(delays []float64) string {
	var b strings.Builder
	for i, d := range delays {
		t0 := float64(i) * 2.5
		fmt.Fprintf(&b, "conn c%d client 10.20.0.7:%d server 10.30.1.15:8080\n", i, 41000+i)
		fmt.Fprintf(&b, "%.6f C>S SYN mss=1412 ws=7 sackok\n", t0)
		fmt.Fprintf(&b, "%.6f S>C SYN,ACK mss=1412 ws=7 sackok\n", t0+0.0004)
		fmt.Fprintf(&b, "%.6f C>S ACK\n", t0+0.0008)
		fmt.Fprintf(&b, "%.6f C>S PSH,ACK data=\"POST /api/orders HTTP/1.1\\r\\nHost: orders.internal\\r\\nContent-Length: 0\\r\\n\\r\\n\"\n", t0+0.001)
		fmt.Fprintf(&b, "%.6f S>C ACK\n", t0+0.0014)
		fin := t0 + 20.001
		fmt.Fprintf(&b, "%.6f C>S FIN,ACK\n", fin)
		fmt.Fprintf(&b, "%.6f S>C ACK\n", fin+0.0003)
		w := fin + d
		fmt.Fprintf(&b, "%.6f S>C ACK len=7060\n", w)
		if d < 16 {
			fmt.Fprintf(&b, "%.6f C>S RST\n", w+0.0005)
			continue
		}
		fmt.Fprintf(&b, "%.6f S>C PSH,ACK len=1132\n", w+0.0001)
		rto := 0.2
		at := w
		for k := 0; k < 6; k++ {
			at += rto
			fmt.Fprintf(&b, "%.6f S>C ACK len=1412 retrans=una\n", at)
			rto *= 2
		}
	}
	return b.String()
}

// writeAfterFINReport is incident 004 with its findings.
func writeAfterFINReport(t testing.TB) *Report {
	delays := []float64{3.2, 9.8, 14.1, 17.5, 24.0, 31.0}
	a := analyze(t, "write-after-fin", writeAfterFINScript(delays))
	if len(a.conns) != len(delays) {
		t.Fatalf("got %d connections, want %d", len(a.conns), len(delays))
	}
	var rst, silent []*flows.Conn
	for i, c := range a.conns {
		if delays[i] < 16 {
			rst = append(rst, c)
		} else {
			silent = append(silent, c)
		}
	}
	var rstPts, silentPts []detectors.Point
	for i, c := range a.conns {
		p := detectors.Point{X: delays[i], Y: 1, Label: fmt.Sprintf("#%d", c.ID)}
		if delays[i] < 16 {
			rstPts = append(rstPts, p)
		} else {
			p.Y = 0
			silentPts = append(silentPts, p)
		}
	}
	last := silent[len(silent)-1]
	hl := []int64{last.Resp.DataAfterPeerFIN().FirstFrame, last.Orig.FINFrame}
	blackholed := detectors.Finding{
		Kind: detectors.KindWriteAfterFINBlackholed, Severity: detectors.Critical,
		Title: "3 responses written 17.5–31.0 s after the load balancer's FIN were silently dropped: " +
			"the backend retransmitted for up to 12.6 s each (drop window 16 s)",
		Explanation: "10.20.0.7 closes each request's connection (FIN) 20.0 s after the request, without waiting for the response. " +
			"The backend 10.30.1.15:8080 keeps the socket and writes its response later. Written within 16 s of the FIN, the response is answered by RST; " +
			"written later, nothing answers: a stateful device in the path has forgotten the connection and drops every packet.\n\n" +
			"The backend's send buffer fills while it retransmits with exponential backoff, so the writing thread blocks until its write timeout.",
		Actions: []string{
			"Answer or abandon requests before the balancer's 20 s timeout (bound the request queue).",
			"Set a write timeout well below 16 s on the backend, or close the socket when the peer's FIN arrives.",
		},
		Subject: "10.20.0.7 → 10.30.1.15:8080",
		At:      silent[0].FirstTS, Until: last.LastTS,
		Flows: refs(silent), FlowCount: len(silent),
		Evidence: []detectors.Metric{
			{Name: "fin_to_write_s", Value: 24.17, Unit: "s", Note: "median delay from the FIN to the first write"},
			{Name: "retransmissions", Value: 18, Note: "of data written after the FIN, never ACKed"},
			{Name: "send_buffer_bytes", Value: 87040, Unit: "bytes"},
		},
		Inferred:  detectors.Inferred{RequestTimeoutS: detectors.F(20.0), DropWindowS: detectors.F(16.0), RTOInitialS: detectors.F(0.2)},
		Exemplars: []*flows.Conn{last, silent[0]},
		Highlight: hl,
		Charts: []detectors.Chart{{
			ID: "fin-write-delay", Title: "Delay from FIN to the backend's write, by outcome",
			XLabel: "seconds from the peer's FIN to the write", YLabel: "answered by RST (1) or not (0)",
			Type:   detectors.ChartScatter,
			Series: []detectors.Series{{Name: "RST", Points: rstPts}, {Name: "silence (dropped)", Points: silentPts}},
			Marks:  []detectors.Mark{{X: 16, Label: "drop window 16 s"}},
		}},
	}
	reset := detectors.Finding{
		Kind: detectors.KindWriteAfterFINReset, Severity: detectors.Warning,
		Title:       "3 responses written 3.2–14.1 s after the load balancer's FIN were answered by RST",
		Explanation: "The load balancer closed these connections 20.0 s after the request; the backend wrote afterwards and got RST back. The client never saw these responses.",
		Actions:     []string{"Look for requests that take longer than the balancer's 20 s timeout."},
		Subject:     "10.20.0.7 → 10.30.1.15:8080",
		At:          rst[0].FirstTS, Until: rst[len(rst)-1].LastTS,
		Flows: refs(rst), FlowCount: len(rst),
		Evidence:  []detectors.Metric{{Name: "fin_to_write_s", Value: 9.8, Unit: "s", Note: "median"}},
		Inferred:  detectors.Inferred{RequestTimeoutS: detectors.F(20.0)},
		Exemplars: []*flows.Conn{rst[0]},
		Highlight: []int64{rst[0].Orig.RSTFrame},
	}
	var sizes []detectors.Point
	for _, m := range []struct{ x, y float64 }{{1, 10}, {5, 6}, {0.8, 3}, {4, 2}} {
		sizes = append(sizes, detectors.Point{X: m.x, Y: m.y})
	}
	tso := detectors.Finding{
		Kind: detectors.KindTSOSuperSegments, Severity: detectors.Info,
		Title:       "The capture was taken on the sender with TSO/GSO: 6 segments of up to 5 × MSS 1412 (7,060 bytes)",
		Explanation: "Segments larger than the MSS never cross the wire; the NIC cuts them. Sizes and counts of data segments are those the kernel handed to the NIC.",
		Subject:     "10.30.1.15:8080",
		At:          a.conns[0].FirstTS,
		Flows:       refs(a.conns), FlowCount: len(a.conns),
		Inferred: detectors.Inferred{MSS: func() *int { v := 1412; return &v }()},
		Charts: []detectors.Chart{{
			ID: "segment-sizes", Title: "Data segment sizes in multiples of the MSS", XLabel: "size / MSS", YLabel: "segments",
			Type: detectors.ChartBar, Series: []detectors.Series{{Name: "segments", Points: sizes}},
			Marks: []detectors.Mark{{X: 1, Label: "MSS 1412"}},
		}},
	}
	r := a.report([]detectors.Finding{tso, reset, blackholed})
	r.Summary.Lines = []string{
		"server side: 6 connections to 10.30.1.15:8080, all closed by the client 20.0 s after the request",
		"3 responses answered by RST, 3 dropped in silence",
	}
	return r
}

// closeWaitScript is incident 001: a health checker connects every 1.5 s
// and closes at once; the server answers with its own FIN at first, then
// (from the 5th probe on) only ACKs the FIN: CLOSE_WAIT climbs.
func closeWaitScript(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		t0 := float64(i) * 1.5
		fmt.Fprintf(&b, "conn p%d client 10.0.5.9:%d server 10.0.7.2:9090\n", i, 52000+i)
		fmt.Fprintf(&b, "%.6f C>S SYN mss=1460 ws=7\n", t0)
		fmt.Fprintf(&b, "%.6f S>C SYN,ACK mss=1460 ws=7\n", t0+0.0002)
		fmt.Fprintf(&b, "%.6f C>S ACK\n", t0+0.0004)
		fmt.Fprintf(&b, "%.6f C>S FIN,ACK\n", t0+0.0006)
		fmt.Fprintf(&b, "%.6f S>C ACK\n", t0+0.0008)
		if i < 4 {
			fmt.Fprintf(&b, "%.6f S>C FIN,ACK\n", t0+0.0011)
			fmt.Fprintf(&b, "%.6f C>S ACK\n", t0+0.0013)
		}
	}
	// the capture runs on for a minute
	fmt.Fprintf(&b, "conn tail client 10.0.5.10:33000 server 10.0.7.2:22\n")
	fmt.Fprintf(&b, "%.6f C>S ACK len=48\n", float64(n)*1.5+60)
	return b.String()
}

func closeWaitReport(t testing.TB) *Report {
	const n = 24
	a := analyze(t, "healthcheck-close-wait", closeWaitScript(n))
	var leaked []*flows.Conn
	for _, c := range a.conns {
		if c.Resp.State == flows.StateCloseWait {
			leaked = append(leaked, c)
		}
	}
	if len(leaked) != n-4 {
		t.Fatalf("%d connections in CLOSE_WAIT, want %d", len(leaked), n-4)
	}
	var hl []int64
	for _, c := range leaked {
		hl = append(hl, c.Orig.FINFrame)
	}
	hc := detectors.Finding{
		Kind: detectors.KindHealthcheckFINUnanswered, Severity: detectors.Critical,
		Title: "10.0.7.2:9090 stopped closing health-check connections: 20 of 24 probes from 10.0.5.9 (every 1.5 s) left in CLOSE_WAIT",
		Explanation: "A health checker connects every 1.5 s and closes at once, with no data. Until 6.0 s the server answered each FIN with its own within 1 ms; " +
			"from then on it only ACKs the FIN and never closes: the application accepted the sockets but lost track of them (e.g. an error after accept).\n\n" +
			"The accept queue is not full: every SYN is answered at once.",
		Actions: []string{"Look at the server's logs at 6.0 s into the capture for errors after accept (OutOfMemoryError, too many open files).",
			"Check `ss -tan state close-wait '( sport = :9090 )'` on the server: the count grows by one per probe."},
		Subject: "10.0.7.2:9090",
		At:      leaked[0].FirstTS, Until: leaked[len(leaked)-1].LastTS,
		Flows: refs(leaked), FlowCount: len(leaked),
		Evidence: []detectors.Metric{
			{Name: "probe_interval_s", Value: 1.5, Unit: "s", Note: "median of 23 gaps"},
			{Name: "fin_answered_before", Value: 4, Note: "probes answered with a FIN within 1 ms"},
			{Name: "close_wait_at_end", Value: 20},
		},
		Inferred:  detectors.Inferred{ProbeIntervalS: detectors.F(1.5)},
		Exemplars: []*flows.Conn{leaked[0], a.conns[0]},
		Highlight: hl,
	}
	cw := detectors.Finding{
		Kind: detectors.KindCloseWaitLeak, Severity: detectors.Warning,
		Title:       "20 server sockets of 10.0.7.2:9090 left in CLOSE_WAIT for up to 90.0 s",
		Explanation: "The peer closed (FIN), the server's kernel ACKed it, and the application never closed its socket.",
		Subject:     "10.0.7.2:9090",
		At:          leaked[0].FirstTS,
		Flows:       refs(leaked), FlowCount: len(leaked),
		Exemplars: []*flows.Conn{leaked[len(leaked)-1]},
	}
	r := a.report([]detectors.Finding{cw, hc})
	start := a.capture.FirstTS
	r.States = []flows.StateSeries{serverStates(a.conns, "10.0.7.2:9090", start, a.capture.LastTS, 5e9)}
	r.Summary.Lines = []string{"server side: 24 connections to 10.0.7.2:9090, 20 still in CLOSE_WAIT at the end of the capture, oldest 90 s"}
	return r
}

// cleanReport is a capture with nothing wrong.
func cleanReport(t testing.TB) *Report {
	a := analyze(t, "clean", `
client 10.0.0.1:40000
server 10.0.0.2:80
0.000 C>S SYN mss=1460 ws=7
0.001 S>C SYN,ACK mss=1460 ws=7
0.002 C>S ACK
0.010 C>S PSH,ACK data="GET /healthz HTTP/1.1\r\nHost: svc\r\n\r\n"
0.020 S>C PSH,ACK data="HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
0.021 C>S ACK
0.030 C>S FIN,ACK
0.031 S>C FIN,ACK
0.032 C>S ACK
`)
	r := a.report(nil)
	r.Summary.Lines = []string{"1 connection, closed normally"}
	return r
}
