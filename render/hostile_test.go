package render

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/net/html"

	"github.com/pcapsleuth/pcapsleuth/decode/capturetest"
	"github.com/pcapsleuth/pcapsleuth/detectors"
	"github.com/pcapsleuth/pcapsleuth/flows"
	"github.com/pcapsleuth/pcapsleuth/render/reporttest"
)

// Hostile strings, as an attacker would put them in packets: markup that
// would run script if written raw, quotes that would end an attribute, a
// terminal escape, invalid UTF-8, and bidi controls (U+202E RIGHT-TO-LEFT
// OVERRIDE, U+2066 LEFT-TO-RIGHT ISOLATE) and a U+2028 LINE SEPARATOR.
const (
	// hostilePath is an HTTP request target: no spaces (the request line
	// is split on them), tabs separate the attributes instead.
	hostilePath = "/</script><script>window.__pwned=1</script><img\tsrc=x\tonerror=window.__pwned=2>'\"&amp;<!--\x1b[31m\u202egnp.exe\xff\xfe"
	hostileHost = "evil</title><svg onload=window.__pwned=3>\u202e\u2066\u2028x\xc3\x28.example\"'"
	hostileSNI  = "</script><img src=x onerror=window.__pwned=4>\u202emoc.evil\xff"
)

// hostileScript is a capture whose HTTP request line, Host header and TLS
// SNI carry the hostile strings.
func hostileScript() string {
	req := "GET " + hostilePath + " HTTP/1.1\r\nHost: " + hostileHost + "\r\n\r\n"
	hello := capturetest.ClientHello(hostileSNI, 7)
	return `
conn http client 10.66.0.1:40001 server 10.66.0.2:80
0.000 C>S SYN mss=1460 ws=7
0.001 S>C SYN,ACK mss=1460 ws=7
0.002 C>S ACK
0.003 C>S PSH,ACK data=` + strconv.Quote(req) + `
0.004 S>C ACK
0.100 C>S FIN,ACK
0.101 S>C ACK
conn tls client 10.66.0.1:40002 server 10.66.0.2:443
0.200 C>S SYN mss=1460 ws=7
0.201 S>C SYN,ACK mss=1460 ws=7
0.202 C>S ACK
0.203 C>S PSH,ACK hex=` + hex.EncodeToString(hello) + `
0.204 S>C ACK
0.300 C>S FIN,ACK
0.301 S>C ACK
conn idle client 10.66.0.1:40003 server 10.66.0.2:80
30.000 C>S ACK len=1
`
}

// hostileReport puts the hostile strings everywhere a report shows text: in
// the packets (so in the ladders and the connection table) and in every
// finding, chart, capture and settings field a detector or the command
// could fill from them.
func hostileReport(t testing.TB) *Report {
	a := analyze(t, "hostile", hostileScript())
	httpConn, tlsConn := a.byID(t, 1), a.byID(t, 2)
	if httpConn.App().HTTP.Target != hostilePath || httpConn.App().HTTP.Host == "" {
		t.Fatalf("HTTP sniffer kept target %q host %q", httpConn.App().HTTP.Target, httpConn.App().HTTP.Host)
	}
	if tlsConn.App().TLS.SNI != hostileSNI {
		t.Fatalf("TLS sniffer kept SNI %q", tlsConn.App().TLS.SNI)
	}
	h := func(s string) string { return s + " " + hostileSNI }
	f := detectors.Finding{
		Kind: detectors.KindTLSHandshakeAbandoned, Severity: detectors.Critical,
		Title:       h("TLS handshakes to SNI"),
		Explanation: "Paragraph one " + hostilePath + ".\n\nParagraph two " + hostileHost,
		Actions:     []string{h("do this"), hostileHost},
		Subject:     hostileHost,
		Caveat:      hostilePath,
		At:          tlsConn.FirstTS, Until: tlsConn.LastTS,
		Flows:     refs([]*flows.Conn{httpConn, tlsConn}),
		FlowCount: 2,
		Evidence:  []detectors.Metric{{Name: hostileSNI, Value: 3, Unit: hostileHost, Note: hostilePath}},
		Inferred:  detectors.Inferred{IdleTimeoutS: detectors.F(65)},
		Exemplars: []*flows.Conn{tlsConn, httpConn},
		Highlight: []int64{tlsConn.Orig.FINFrame, httpConn.FirstFrame + 3},
		Charts: []detectors.Chart{{
			ID: hostileSNI, Title: h("chart"), XLabel: hostileHost, YLabel: hostilePath, Type: detectors.ChartScatter,
			Series: []detectors.Series{{Name: hostileSNI, Points: []detectors.Point{{X: 1, Y: 2, Label: hostilePath}}}},
			Marks:  []detectors.Mark{{X: 1.5, Label: hostileHost}},
		}},
	}
	r := a.report([]detectors.Finding{f})
	r.Tool.Version = hostileHost
	r.GeneratedAt = hostileSNI
	r.Captures[0].Path = "/tmp/" + hostilePath
	r.Captures[0].Errors = []string{hostileSNI}
	r.Captures[0].Warnings = []string{hostileHost}
	r.Summary.Lines = []string{hostilePath}
	r.Settings.Detectors = []string{hostileSNI}
	r.Settings.Values[hostileHost] = hostilePath
	r.States = []flows.StateSeries{serverStates(a.conns, "10.66.0.2:80", a.capture.FirstTS, a.capture.LastTS, 1e9)}
	r.States[0].Endpoint = hostileHost
	return r
}

// checkInert fails on anything in a report that could run or load (see
// reporttest.Check): its inline scripts and style must be exactly the
// report's own.
func checkInert(t *testing.T, out []byte) {
	t.Helper()
	own := reporttest.Own{Scripts: []string{inlineText(echartsJS), inlineText(reportJS)}, Style: inlineText(reportCSS)}
	for _, err := range reporttest.Check(out, own) {
		t.Error(err)
	}
}

// allText returns the document's visible text (outside scripts and styles).
func allText(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && (n.Data == "script" || n.Data == "style") {
			return
		}
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
			b.WriteByte('\n')
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return b.String()
}

func TestHTMLHostileStringsStayInert(t *testing.T) {
	r := hostileReport(t)
	var buf bytes.Buffer
	if err := WriteHTML(&buf, r); err != nil {
		t.Fatal(err)
	}
	out := buf.Bytes()
	checkInert(t, out)
	doc, err := html.Parse(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	text := allText(doc)
	// The hostile strings are shown, as text, with their controls visible.
	for _, want := range []string{
		// in the explanation and the caveat (tabs are kept there)
		"</script><script>window.__pwned=1</script><img\tsrc=x\tonerror=window.__pwned=2>'\"&amp;<!--\\x1b[31m[U+202E]gnp.exe\uFFFD",
		// in the ladder's facts, on one line
		"GET /</script><script>window.__pwned=1</script><img\\tsrc=x\\tonerror=window.__pwned=2>'\"&amp;<!--\\x1b[31m[U+202E]gnp.exe\uFFFD",
		"</script><img src=x onerror=window.__pwned=4>[U+202E]moc.evil\uFFFD",
		"evil</title><svg onload=window.__pwned=3>[U+202E][U+2066][U+2028]x\uFFFD(.example\"'",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("visible text lacks %q", want)
		}
	}
	// The ladder of the TLS connection names the SNI in its notes and title.
	if !strings.Contains(text, "TLS ClientHello SNI </script>") {
		t.Error("ladder note of the ClientHello not shown")
	}
	// The data blocks carry the same cleaned strings, JSON-escaped.
	own := bytes.Replace(out, []byte(inlineText(echartsJS)), nil, 1) // ECharts' own code has markup in strings
	for _, raw := range []string{"<script>window", "<img", "<svg onload", "<!--"} {
		if bytes.Contains(own, []byte(raw)) {
			t.Errorf("hostile markup %q written raw", raw)
		}
	}
	var ft flowTable
	var rows [][]int64
	block := dataBlock(t, doc, "flow-data")
	if err := json.Unmarshal([]byte(block), &ft); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(ft.Rows, &rows); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 || rows[0][C("app")] < 0 {
		t.Fatalf("rows = %v", rows)
	}
	if app := ft.Strs[rows[0][C("app")]]; !strings.HasPrefix(app, "HTTP GET /</script><script>window.__pwned=1</script><img\\tsrc") {
		t.Errorf("table application cell of the HTTP connection = %q", app)
	}
	if app := ft.Strs[rows[1][C("app")]]; !strings.Contains(app, "TLS TLS 1.2 (offered) </script><img src=x onerror=window.__pwned=4>[U+202E]moc.evil\uFFFD") &&
		!strings.Contains(app, "</script><img src=x onerror=window.__pwned=4>[U+202E]moc.evil\uFFFD") {
		t.Errorf("table application cell of the TLS connection = %q", app)
	}
	if !strings.Contains(block, `\u003c/script\u003e`) {
		t.Error("flow data not HTML-escaped")
	}
	charts := dataBlock(t, doc, "chart-data")
	if !strings.Contains(charts, `\u003c/script\u003e`) || strings.Contains(charts, "</") {
		t.Errorf("chart data not HTML-escaped: %.200s", charts)
	}
}

// C returns the index of a flow table column.
func C(name string) int {
	for i, c := range flowColumns {
		if c == name {
			return i
		}
	}
	panic("no column " + name)
}

func dataBlock(t *testing.T, doc *html.Node, id string) string {
	t.Helper()
	var found *html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "script" && reporttest.Attr(n, "id") == id {
			found = n
		}
		for c := n.FirstChild; c != nil && found == nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	if found == nil {
		t.Fatalf("no data block %s", id)
	}
	return reporttest.Text(found)
}

func TestMarkdownAndTextHostileStrings(t *testing.T) {
	r := hostileReport(t)
	var md, txt bytes.Buffer
	if err := WriteMarkdown(&md, r); err != nil {
		t.Fatal(err)
	}
	if err := WriteText(&txt, r); err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string][]byte{"markdown": md.Bytes(), "text": txt.Bytes()} {
		if !utf8.Valid(out) {
			t.Errorf("%s: invalid UTF-8", name)
		}
		for _, r := range []rune{0x1b, 0x202e, 0x2066, 0x2028} {
			if bytes.ContainsRune(out, r) {
				t.Errorf("%s: contains U+%04X raw", name, r)
			}
		}
		if !bytes.Contains(out, []byte("[U+202E]")) && !bytes.Contains(out, []byte(`\[U+202E\]`)) {
			t.Errorf("%s: bidi override not shown visibly", name)
		}
	}
	// Markdown: the only tags are the report's own <sub>.
	m := strings.ReplaceAll(strings.ReplaceAll(md.String(), "<sub>", ""), "</sub>", "")
	if strings.Contains(m, "<") {
		i := strings.Index(m, "<")
		t.Errorf("markdown has a raw '<': %q", m[max(0, i-40):min(len(m), i+40)])
	}
	if !strings.Contains(md.String(), `&lt;/script&gt;&lt;img src=x onerror=window.\_\_pwned=4&gt;`) {
		t.Errorf("markdown does not show the SNI escaped:\n%s", md.String())
	}
	if !strings.Contains(txt.String(), "</script><img src=x onerror=window.__pwned=4>[U+202E]moc.evil") {
		t.Errorf("text does not show the SNI:\n%s", txt.String())
	}
}
