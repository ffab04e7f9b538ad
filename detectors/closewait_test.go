package detectors

import (
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pcapsleuth/pcapsleuth/flows"
)

// scenarioPath finds a scenario: ours (testdata/teardown) or a shared one
// (../testdata/scenarios) when the name starts with "shared/".
func scenarioPath(name string) string {
	if rest, ok := strings.CutPrefix(name, "shared/"); ok {
		return filepath.Join("..", "testdata", "scenarios", rest+".txtar")
	}
	return filepath.Join("testdata", "teardown", name+".txtar")
}

// expectFinding is what a table test expects of the one finding of a kind
// in a scenario (no finding when flows is nil).
type expectFinding struct {
	flows    []int64  // connection IDs
	sev      Severity // 0: any
	subject  string   // "" : any
	titleHas []string // substrings of the title
	explHas  []string // substrings of the explanation
}

// checkKind runs a scenario and checks the finding of kind k.
func checkKind(t *testing.T, scenario string, k Kind, want expectFinding) *Finding {
	t.Helper()
	r, _ := runScenario(t, scenarioPath(scenario))
	fs := tdFindingsOf(r.Findings, k)
	if want.flows == nil {
		if len(fs) > 0 {
			t.Errorf("%s: unexpected %s: %s", scenario, k, titles(fs))
		}
		return nil
	}
	if len(fs) != 1 {
		t.Fatalf("%s: want one %s finding, got %d: %s", scenario, k, len(fs), titles(fs))
	}
	f := &fs[0]
	var ids []int64
	for _, fl := range f.Flows {
		ids = append(ids, fl.ID)
	}
	if !equalIDs(ids, want.flows) || f.FlowCount != len(want.flows) {
		t.Errorf("%s: flows %v (count %d), want %v", scenario, ids, f.FlowCount, want.flows)
	}
	if want.sev != 0 && f.Severity != want.sev {
		t.Errorf("%s: severity %v, want %v", scenario, f.Severity, want.sev)
	}
	if want.subject != "" && f.Subject != want.subject {
		t.Errorf("%s: subject %q, want %q", scenario, f.Subject, want.subject)
	}
	for _, s := range want.titleHas {
		if !strings.Contains(f.Title, s) {
			t.Errorf("%s: title %q lacks %q", scenario, f.Title, s)
		}
	}
	for _, s := range want.explHas {
		if !strings.Contains(f.Explanation, s) {
			t.Errorf("%s: explanation lacks %q:\n%s", scenario, s, f.Explanation)
		}
	}
	checkFindingShape(t, f)
	return f
}

// checkFindingShape checks what every teardown finding must carry.
func checkFindingShape(t *testing.T, f *Finding) {
	t.Helper()
	if f.Title == "" || f.Explanation == "" || len(f.Actions) == 0 || len(f.Evidence) == 0 {
		t.Errorf("%s: incomplete finding: title %q, %d actions, %d metrics", f.Kind, f.Title, len(f.Actions), len(f.Evidence))
	}
	if strings.Contains(f.Title, "\n") {
		t.Errorf("%s: title has a newline: %q", f.Kind, f.Title)
	}
	if len(f.Exemplars) == 0 || len(f.Exemplars) > DefaultConfig().MaxExemplars {
		t.Errorf("%s: %d exemplars", f.Kind, len(f.Exemplars))
	}
	in := map[int64]bool{}
	for _, fl := range f.Flows {
		in[fl.ID] = true
	}
	for _, c := range f.Exemplars {
		if !in[c.ID] {
			t.Errorf("%s: exemplar %d is not one of the finding's flows", f.Kind, c.ID)
		}
	}
	if len(f.Highlight) == 0 {
		t.Errorf("%s: no highlighted frames", f.Kind)
	}
	if f.At == 0 || f.Subject == "" {
		t.Errorf("%s: At %d, Subject %q", f.Kind, f.At, f.Subject)
	}
}

func equalIDs(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestCloseWaitLeak(t *testing.T) {
	tests := []struct {
		scenario string
		want     expectFinding
	}{
		{"closewait-young-pulled-in", expectFinding{flows: []int64{1, 2, 3, 6}, sev: Warning, subject: "10.0.0.2:8080",
			titleHas: []string{"4 server sockets on 10.0.0.2:8080 never closed after the client's FIN", "4 still in CLOSE_WAIT"},
			explHas:  []string{"4 connections closed by the client after their exchange", "closed 2 other connections in time"}}},
		{"closewait-young-only", expectFinding{flows: []int64{1, 2, 3}, sev: Info, titleHas: []string{"too soon to call a leak"}}},
		{"closewait-lone-young", expectFinding{flows: []int64{1}, subject: "10.0.0.3:9000"}},
		{"closewait-client-late", expectFinding{flows: []int64{1}, sev: Info, subject: "10.0.0.1 → 10.0.0.2:8080",
			titleHas: []string{"1 client socket from 10.0.0.1 to 10.0.0.2:8080 stayed in CLOSE_WAIT for up to 10.0 s after the server's FIN"},
			explHas:  []string{"closed eventually, but only after the grace period"}}},
		{"midstream-client-closewait", expectFinding{flows: []int64{1}, subject: "10.0.0.1 → 10.0.0.2:8080"}},
		{"idle-close-young-closewait", expectFinding{flows: []int64{1, 2}, sev: Info, subject: "10.0.0.1 → 10.0.0.2:8080"}},
		{"healthcheck-stopped", expectFinding{flows: []int64{6, 7, 8, 9, 10}, explHas: []string{"5 connect-and-close probes", "healthcheck-fin-unanswered"}}},
		{"tls-after-serverhello", expectFinding{flows: []int64{3, 4, 5}, explHas: []string{"3 abandoned TLS handshakes"}}},
		{"healthcheck-young-stop", expectFinding{flows: []int64{7, 8}, sev: Info}},
		{"unanswered-requests-young-fin", expectFinding{flows: []int64{1, 2}, sev: Warning, explHas: []string{"2 unanswered requests"}}},
		{"shared/close-wait-leak", expectFinding{flows: []int64{1}, sev: Warning}},
		{"shared/idle-timeout-close", expectFinding{flows: []int64{1, 2, 3}, explHas: []string{"keep-alive connections the server closed when idle"}}},
		// negatives
		{"halfclose-long-response", expectFinding{}},
		{"halfclose-streaming-at-end", expectFinding{}},
		{"tls-close-notify-rst", expectFinding{}},
		{"healthcheck-answered", expectFinding{}},
		{"blackhole-only", expectFinding{}},
		{"shared/fin-at-capture-end", expectFinding{}},
		{"shared/graceful-close-client", expectFinding{}},
		{"shared/graceful-close-server", expectFinding{}},
		{"shared/half-close", expectFinding{}},
		{"shared/long-idle-keepalive", expectFinding{}},
		{"shared/one-sided", expectFinding{}},
	}
	for _, tt := range tests {
		t.Run(tt.scenario, func(t *testing.T) {
			f := checkKind(t, tt.scenario, KindCloseWaitLeak, tt.want)
			if f != nil && len(f.Charts) > 0 && f.Charts[0].Type != ChartLine {
				t.Errorf("accumulation chart type %v", f.Charts[0].Type)
			}
		})
	}
}

// leakedConn builds a connection whose client FIN (at sec) the server ACKed
// and never answered.
func leakedConn(id int64, port uint16, sec float64) *flows.Conn {
	ts := int64(1_700_000_000e9) + int64(sec*1e9)
	c := &flows.Conn{ID: id, DirKnown: true, FirstTS: ts - 1e6, LastTS: ts + 1e5, EstablishedTS: ts - 1e6}
	c.Orig.Addr = netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), port)
	c.Resp.Addr = netip.MustParseAddrPort("10.0.0.2:8080")
	c.Orig.FINTS, c.Orig.FINFrame, c.Orig.FINAckedTS = ts, id*4, ts+1e5
	c.Orig.Bytes, c.Resp.Bytes = 100, 200
	c.Turns = []flows.Turn{{Dir: flows.Orig, StartTS: ts - 9e5, EndTS: ts - 9e5}, {Dir: flows.Resp, StartTS: ts - 8e5, EndTS: ts - 8e5}}
	return c
}

// TestCloseWaitLeakBounded feeds many leaked sockets straight to the
// detector: the flow list stops at MaxFlows while FlowCount stays exact,
// exemplars stay at MaxExemplars, and the finding turns critical.
func TestCloseWaitLeakBounded(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxFlows = 50
	d := newCloseWait(&cfg)
	const n = 30_000
	for i := 0; i < n; i++ {
		d.ConnDone(leakedConn(int64(i+1), uint16(10000+i%50000), float64(i)*0.01))
	}
	env := &Env{Start: 1_700_000_000e9, End: 1_700_000_000e9 + 600e9}
	fs := d.Finish(env)
	if len(fs) != 1 {
		t.Fatalf("%d findings", len(fs))
	}
	f := fs[0]
	if f.FlowCount != n || len(f.Flows) != cfg.MaxFlows {
		t.Errorf("FlowCount %d (want %d), %d flows listed (want %d)", f.FlowCount, n, len(f.Flows), cfg.MaxFlows)
	}
	if len(f.Exemplars) != cfg.MaxExemplars {
		t.Errorf("%d exemplars", len(f.Exemplars))
	}
	if f.Severity != Critical {
		t.Errorf("severity %v with %d open sockets", f.Severity, n)
	}
	if g := d.groups[sockGroup{Side: flows.Resp, Listener: netip.MustParseAddrPort("10.0.0.2:8080")}]; len(g.recs) > d.recCap() {
		t.Errorf("%d records kept, cap %d", len(g.recs), d.recCap())
	}
	if len(f.Charts) != 1 || len(f.Charts[0].Series[0].Points) > timelineBuckets {
		t.Errorf("chart: %+v", f.Charts)
	}
	if !strings.Contains(f.Title, "30,000 server sockets") || !strings.Contains(f.Title, "(30,000 still in CLOSE_WAIT") {
		t.Errorf("title %q", f.Title)
	}
}

// serverClosedConn builds a keep-alive connection from client host number
// host that the server closed after 5 s idle and the client never closed.
func serverClosedConn(id int64, host int, sec float64) *flows.Conn {
	ts := int64(1_700_000_000e9) + int64(sec*1e9)
	c := &flows.Conn{ID: id, DirKnown: true, FirstTS: ts - 6e9, LastTS: ts + 1e5, EstablishedTS: ts - 6e9}
	c.Orig.Addr = netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(host >> 16), byte(host >> 8), byte(host)}), 40000)
	c.Resp.Addr = netip.MustParseAddrPort("10.0.0.2:8080")
	c.Resp.FINTS, c.Resp.FINFrame, c.Resp.FINAckedTS = ts, id*4, ts+1e5
	c.Orig.Bytes, c.Resp.Bytes = 100, 200
	c.Turns = []flows.Turn{{Dir: flows.Orig, StartTS: ts - 5.1e9, EndTS: ts - 5.1e9}, {Dir: flows.Resp, StartTS: ts - 5e9, EndTS: ts - 5e9}}
	return c
}

// TestTeardownGroupsBounded feeds connections from more client hosts than
// maxGroups: per-client-host groups stop at maxGroups and the findings say
// how many connections were left out; idle timeouts of clients aggregate
// per listener.
func TestTeardownGroupsBounded(t *testing.T) {
	cfg := DefaultConfig()
	cw, it := newCloseWait(&cfg), newIdleTimeout(&cfg)
	n := maxGroups + 500
	for i := 0; i < n; i++ {
		c := serverClosedConn(int64(i+1), i, 10)
		cw.ConnDone(c)
		it.ConnDone(c)
	}
	env := &Env{Start: 1_700_000_000e9, End: 1_700_000_000e9 + 100e9}
	if len(cw.groups) != maxGroups || cw.dropped != 500 {
		t.Errorf("close-wait: %d groups, %d dropped", len(cw.groups), cw.dropped)
	}
	fs := cw.Finish(env)
	if len(fs) != 1 || fs[0].FlowCount != maxGroups || fs[0].Subject != "clients of 10.0.0.2:8080" ||
		!strings.Contains(fs[0].Caveat, "500 connections were left out") {
		t.Fatalf("%d findings; first: %s (%d flows), caveat %q", len(fs), fs[0].Subject, fs[0].FlowCount, fs[0].Caveat)
	}
	if !strings.Contains(fs[0].Title, "client sockets of many hosts to 10.0.0.2:8080") {
		t.Errorf("title %q", fs[0].Title)
	}
	if len(it.groups) != 1 {
		t.Errorf("idle-timeout: %d groups, want 1 (the server's listener)", len(it.groups))
	}
}

// TestTeardownRecordBudget fills more groups than the detector-wide record
// budget holds, each below recCap: the records stop at the budget, the rest
// take the overflow path, every connection is still counted, and each
// finding's flows are its own group's (the packed references resolve to
// the right connections).
func TestTeardownRecordBudget(t *testing.T) {
	cfg := DefaultConfig()
	d := newCloseWait(&cfg)
	per := d.recCap()
	hosts := recBudget + 2
	id := int64(0)
	for i := 0; i < per; i++ {
		for h := 0; h < hosts; h++ {
			id++
			d.ConnDone(serverClosedConn(id, h, 10))
		}
	}
	kept := 0
	for _, g := range d.groups {
		kept += len(g.recs)
	}
	if want := recBudget * per; kept != want || d.kept != want {
		t.Fatalf("%d records kept (counter %d), want the budget %d", kept, d.kept, want)
	}
	env := &Env{Start: 1_700_000_000e9, End: 1_700_000_000e9 + 100e9}
	fs := d.Finish(env)
	if len(fs) != hosts {
		t.Fatalf("%d findings, want %d", len(fs), hosts)
	}
	total := 0
	for _, f := range fs {
		total += f.FlowCount
		if len(f.Flows) == 0 {
			t.Fatalf("%s: no flows listed", f.Subject)
		}
		for _, r := range f.Flows {
			if r.Client.Addr() != f.Flows[0].Client.Addr() || r.Server != netip.MustParseAddrPort("10.0.0.2:8080") || r.ID <= 0 || r.ID > id {
				t.Fatalf("%s lists %+v next to %+v", f.Subject, r, f.Flows[0])
			}
		}
		if !strings.Contains(f.Subject, f.Flows[0].Client.Addr().String()) {
			t.Errorf("finding %q lists flows of %s", f.Subject, f.Flows[0].Client.Addr())
		}
	}
	if total != int(id) {
		t.Errorf("findings count %d connections, want %d", total, id)
	}
}
