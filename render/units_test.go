package render

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/pcapsleuth/pcapsleuth/decode"
	"github.com/pcapsleuth/pcapsleuth/detectors"
	"github.com/pcapsleuth/pcapsleuth/flows"
)

func TestCleanLine(t *testing.T) {
	for _, tc := range []struct {
		in   string
		max  int
		want string
	}{
		{"plain", 0, "plain"},
		{"a\nb\r\tc", 0, `a\nb\r\tc`},
		{"\x1b[31mred", 0, `\x1b[31mred`},
		{"\x7f\u0085", 0, `\x7f\u0085`},
		{"bad\xff\xfeutf8", 0, "bad\uFFFDutf8"},
		{"abc\u202edef", 0, "abc[U+202E]def"},
		{"\u2066\u2069\u200e\u200f\u061c\u200b\ufeff\u2028\u2029", 0, "[U+2066][U+2069][U+200E][U+200F][U+061C][U+200B][U+FEFF][U+2028][U+2029]"},
		{"héllo wörld", 0, "héllo wörld"},
		{"abcdef", 3, "abc…"},
		{"日本語テキスト", 3, "日本語…"},
	} {
		if got := cleanLine(tc.in, tc.max); got != tc.want {
			t.Errorf("cleanLine(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
		}
	}
	if got := cleanText("one\n\ttwo\x1b\u202e"); got != "one\n\ttwo\\x1b[U+202E]" {
		t.Errorf("cleanText = %q", got)
	}
}

func TestFormat(t *testing.T) {
	for _, tc := range []struct {
		got, want string
	}{
		{fmtInt(0), "0"}, {fmtInt(999), "999"}, {fmtInt(1234), "1,234"}, {fmtInt(-1234567), "-1,234,567"},
		{fmtSeconds(412.4), "412 s"}, {fmtSeconds(20), "20.0 s"}, {fmtSeconds(1.53), "1.5 s"},
		{fmtSeconds(0.2), "200 ms"}, {fmtSeconds(0.0032), "3.2 ms"}, {fmtSeconds(0.000085), "85 µs"}, {fmtSeconds(0), "0 s"},
		{fmtNumber(87040), "87,040"}, {fmtNumber(0.357), "0.357"}, {fmtNumber(24.17), "24.17"}, {fmtNumber(1.5), "1.5"},
		{fmtValue(87040, "bytes"), "87,040 bytes"}, {fmtValue(65, "s"), "65.0 s"}, {fmtValue(1.5, "s"), "1.50 s"}, {fmtValue(1.004, "s"), "1.00 s"}, {fmtValue(212, "ms"), "212 ms"},
		{plural(1, "packet", "packets"), "1 packet"}, {plural(1234, "packet", "packets"), "1,234 packets"},
		{joinAnd([]string{"a"}), "a"}, {joinAnd([]string{"a", "b", "c"}), "a, b and c"},
		{metricName("fin_to_write_s", "s"), "fin to write"}, {metricName("retransmissions", ""), "retransmissions"},
		{metricName("probe_interval_s", ""), "probe interval s"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
	got := inferredSettings(detectors.Inferred{IdleTimeoutS: detectors.F(65), MSS: func() *int { v := 1412; return &v }()})
	if len(got) != 2 || got[0].Name != "idle_timeout_s" || got[0].Value != "65.0 s" || got[1].Value != "1,412 bytes" {
		t.Errorf("inferredSettings = %+v", got)
	}
}

func TestFilters(t *testing.T) {
	ap := netip.MustParseAddrPort
	for _, tc := range []struct {
		a, b netip.AddrPort
		want string
	}{
		{ap("10.0.0.1:40312"), ap("10.0.0.2:8080"), "ip.addr==10.0.0.1 && tcp.port==40312 && ip.addr==10.0.0.2 && tcp.port==8080"},
		{ap("[fd00::1]:40000"), ap("[fd00::2]:443"), "ipv6.addr==fd00::1 && tcp.port==40000 && ipv6.addr==fd00::2 && tcp.port==443"},
		{ap("127.0.0.1:5000"), ap("127.0.0.1:6000"), "ip.addr==127.0.0.1 && tcp.port==5000 && tcp.port==6000"},
		{ap("10.0.0.1:179"), ap("10.0.0.2:179"), "ip.addr==10.0.0.1 && tcp.port==179 && ip.addr==10.0.0.2"},
		{ap("[::ffff:10.0.0.1]:1"), ap("10.0.0.2:2"), "ip.addr==10.0.0.1 && tcp.port==1 && ip.addr==10.0.0.2 && tcp.port==2"},
	} {
		if got := flowFilter(tc.a, tc.b); got != tc.want {
			t.Errorf("flowFilter(%v, %v) = %q, want %q", tc.a, tc.b, got, tc.want)
		}
	}
	if got := framesFilter([]int64{57, 12, 57, 88}); got != "frame.number in {12 57 88}" {
		t.Errorf("framesFilter = %q", got)
	}
	if framesFilter(nil) != "" {
		t.Error("framesFilter(nil) not empty")
	}
}

func TestRichText(t *testing.T) {
	got := richText("run `ss -tan` then `lsof` and a stray ` tick")
	want := []textPart{{"run ", false}, {"ss -tan", true}, {" then ", false}, {"lsof", true}, {" and a stray ` tick", false}}
	if len(got) != len(want) {
		t.Fatalf("richText = %+v", got)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("part %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

// TestLadderRows checks gap compression and elision marks.
func TestLadderRows(t *testing.T) {
	c := &flows.Conn{ID: 7, Packets: 2000, FirstTS: 1e9}
	at := func(i int64, ts float64) flows.LogEntry {
		return flows.LogEntry{Index: i, Frame: i + 1, TS: 1e9 + int64(ts*1e9), Flags: decode.FlagACK}
	}
	c.Log = []flows.LogEntry{at(0, 0), at(1, 0.001), at(2, 0.002), at(3, 20.002), at(1500, 20.5), at(1501, 20.501)}
	rows := ladderRows(c)
	var kinds []string
	for _, r := range rows {
		switch {
		case r.pkt != nil:
			kinds = append(kinds, "p")
		default:
			kinds = append(kinds, "gap="+fmtNS(r.gap)+",elided="+fmtInt(r.elided))
		}
	}
	want := "p p p gap=20.0 s,elided=0 p gap=498 ms,elided=1,496 p p gap=0 s,elided=498"
	if got := strings.Join(kinds, " "); got != want {
		t.Errorf("rows = %s\nwant   %s", got, want)
	}
	svg, _ := ladderSVG(c, map[int64]bool{4: true})
	for _, s := range []string{"20.0 s later", "… 1,496 packets not shown … 498 ms later", "… 498 packets not shown …", "◆ evidence"} {
		if !strings.Contains(string(svg), s) {
			t.Errorf("ladder lacks %q", s)
		}
	}
}

func TestChartHelpers(t *testing.T) {
	if got := strings.Join(categoryLabels([]float64{2.001, 2.002, 2.003}), ","); got != "2.001,2.002,2.003" {
		t.Errorf("categoryLabels = %s", got)
	}
	if got := strings.Join(categoryLabels([]float64{1, 5}), ","); got != "1,5" {
		t.Errorf("categoryLabels = %s", got)
	}
	// Element ids are unique even when detectors' chart ids are alike.
	long := strings.Repeat("retransmission-storm-10-77-15-2-", 3)
	r := &Report{Findings: []detectors.Finding{{Kind: detectors.KindRetransmissionStorm, Severity: detectors.Warning,
		Charts: []detectors.Chart{
			{ID: long + "time", Title: "a", Type: detectors.ChartBar, Series: []detectors.Series{{Name: "x", Points: []detectors.Point{{X: 1, Y: 1}}}}},
			{ID: long + "backoff", Title: "b", Type: detectors.ChartLine, Series: []detectors.Series{{Name: "x", Points: []detectors.Point{{X: 1, Y: 1}}}}},
			{ID: "empty", Title: "c", Type: detectors.ChartLine, Series: []detectors.Series{{Name: "x"}}},
		}}}}
	cs, err := buildCharts(r, findingIDs(r.Findings), maxFullFindings)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs.Views) != 2 || cs.Views[0].ID == cs.Views[1].ID {
		t.Errorf("charts %+v: want 2 with distinct ids (the empty one left out)", cs.Views)
	}
}

// TestZeroReport: the writers cope with an empty report and with findings
// that fill nothing but their kind.
func TestZeroReport(t *testing.T) {
	for _, r := range []*Report{
		{},
		{Findings: []detectors.Finding{{Kind: detectors.KindCaptureQuality}, {Kind: detectors.KindInternal, Severity: detectors.Warning,
			Exemplars: []*flows.Conn{nil, {ID: 3}}, Charts: []detectors.Chart{{}}}}},
	} {
		var h, md, txt strings.Builder
		if err := WriteHTML(&h, r); err != nil {
			t.Fatal(err)
		}
		checkInert(t, []byte(h.String()))
		if err := WriteMarkdown(&md, r); err != nil {
			t.Fatal(err)
		}
		if err := WriteText(&txt, r); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(h.String(), "<h1>") {
			t.Error("no verdict")
		}
	}
}
