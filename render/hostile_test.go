package render

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
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

// allowedTags are every element the report may contain.
var allowedTags = map[string]bool{
	"html": true, "head": true, "meta": true, "title": true, "style": true, "body": true, "header": true,
	"span": true, "nav": true, "a": true, "main": true, "section": true, "h1": true, "h2": true, "h3": true,
	"h4": true, "ol": true, "ul": true, "li": true, "p": true, "article": true, "div": true, "code": true,
	"table": true, "thead": true, "tbody": true, "tr": true, "th": true, "td": true, "button": true,
	"details": true, "summary": true, "figure": true, "figcaption": true, "svg": true, "g": true,
	"rect": true, "text": true, "line": true, "polygon": true, "polyline": true, "input": true,
	"select": true, "option": true, "noscript": true, "footer": true, "strong": true, "script": true,
}

// allowedAttrs are every attribute the report may contain.
var allowedAttrs = map[string]bool{
	"lang": true, "charset": true, "http-equiv": true, "content": true, "name": true, "class": true,
	"id": true, "href": true, "aria-label": true, "role": true, "type": true, "data-copy": true,
	"data-finding": true, "data-sort": true, "data-frame": true, "xmlns": true, "viewbox": true,
	"width": true, "height": true, "x": true, "y": true, "x1": true, "y1": true, "x2": true, "y2": true,
	"text-anchor": true, "points": true, "rx": true, "placeholder": true, "value": true,
}

// checkInert parses a report and fails on anything that could run or load:
// unexpected elements or attributes, event handlers, links that leave the
// page, scripts or styles that are not exactly the report's own (checked
// against the CSP hashes), and bidi controls or invalid UTF-8 in the output.
func checkInert(t *testing.T, out []byte) {
	t.Helper()
	if !utf8.Valid(out) {
		t.Error("report is not valid UTF-8")
	}
	for _, r := range []rune{0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069, 0x200e, 0x200f, 0x2028, 0x2029, 0x1b} {
		if bytes.ContainsRune(out, r) {
			t.Errorf("report contains U+%04X raw", r)
		}
	}
	doc, err := html.Parse(bytes.NewReader(out))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	var csp string
	var scripts, dataBlocks, styles int
	var walk func(n *html.Node, inSVG bool)
	walk = func(n *html.Node, inSVG bool) {
		if n.Type == html.ElementNode {
			if !allowedTags[n.Data] {
				t.Errorf("unexpected element <%s>", n.Data)
			}
			for _, a := range n.Attr {
				key := strings.ToLower(a.Key)
				if !allowedAttrs[key] || strings.HasPrefix(key, "on") {
					t.Errorf("unexpected attribute %s=%q on <%s>", a.Key, a.Val, n.Data)
				}
				if key == "href" && !strings.HasPrefix(a.Val, "#") {
					t.Errorf("link out of the page: href=%q", a.Val)
				}
				if key == "xmlns" && a.Val != "http://www.w3.org/2000/svg" {
					t.Errorf("xmlns=%q", a.Val)
				}
				if key == "http-equiv" && strings.EqualFold(a.Val, "Content-Security-Policy") {
					csp = attr(n, "content")
				}
			}
			switch n.Data {
			case "script":
				body := textOf(n)
				switch attr(n, "type") {
				case "application/json":
					dataBlocks++
					if !json.Valid([]byte(body)) {
						t.Errorf("data block %s is not valid JSON", attr(n, "id"))
					}
				case "":
					scripts++
					if body != inlineText(echartsJS) && body != inlineText(reportJS) {
						t.Errorf("unexpected inline script of %d bytes: %.80q", len(body), body)
					}
					if !strings.Contains(csp, cspDigest(body)) {
						t.Errorf("inline script of %d bytes has no hash in the CSP", len(body))
					}
				default:
					t.Errorf("script of type %q", attr(n, "type"))
				}
			case "style":
				styles++
				if body := textOf(n); body != inlineText(reportCSS) || !strings.Contains(csp, cspDigest(body)) {
					t.Errorf("unexpected or unhashed style of %d bytes", len(body))
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, inSVG || n.Data == "svg")
		}
	}
	walk(doc, false)
	if scripts != 2 || dataBlocks != 2 || styles != 1 {
		t.Errorf("%d scripts, %d data blocks, %d styles; want 2, 2, 1", scripts, dataBlocks, styles)
	}
	for _, want := range []string{"default-src 'none'", "connect-src 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") || strings.Contains(csp, "http") {
		t.Errorf("CSP too loose: %q", csp)
	}
}

func cspDigest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func textOf(n *html.Node) string {
	var b strings.Builder
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.TextNode {
			b.WriteString(c.Data)
		}
	}
	return b.String()
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
		if n.Type == html.ElementNode && n.Data == "script" && attr(n, "id") == id {
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
	return textOf(found)
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
