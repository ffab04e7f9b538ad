package analysis

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"golang.org/x/net/html"

	"github.com/pcapsleuth/pcapsleuth/cmd/internal/jsonschema"
	"github.com/pcapsleuth/pcapsleuth/decode/capturetest"
	"github.com/pcapsleuth/pcapsleuth/flows"
	"github.com/pcapsleuth/pcapsleuth/render"
	"github.com/pcapsleuth/pcapsleuth/render/reporttest"
)

// The fuzz targets of this file run the whole analysis over a capture, as
// the command does: reading, decoding, tracking, every detector, and the
// four reports. decode's and flows' own targets stop at their package; a
// detector or a report that fails on some packets only these reach.
//
// Whatever the capture, an analysis must
//   - end, without panicking, with a report or an *InputError;
//   - give the same reports, byte for byte, with the detectors behind the
//     tracker and connections reused (as the tool runs) and with the
//     tracker calling them itself (the reference, see reportJSON);
//   - write JSON that the contract's schema accepts, strictly;
//   - write HTML that reporttest.Check finds inert, its inline scripts
//     and style exactly those of an empty capture's report;
//   - write Markdown and text in valid UTF-8 without terminal escapes or
//     bidi controls.

// FuzzAnalyze takes arbitrary bytes as a capture, seeded with the project's
// test captures: mutations of real files reach the detectors with headers
// no script would write.
func FuzzAnalyze(f *testing.F) {
	paths, _ := filepath.Glob("../../testdata/captures/*")
	seeded := 0
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil || len(b) > maxFuzzCapture || strings.HasSuffix(p, ".tsv") {
			continue
		}
		f.Add(b)
		seeded++
	}
	if seeded < 20 {
		f.Fatalf("only %d seed captures", seeded)
	}
	f.Fuzz(func(t *testing.T, capture []byte) {
		if len(capture) > maxFuzzCapture {
			return
		}
		checkAnalysis(t, capture)
	})
}

// maxFuzzCapture bounds a fuzzed capture: large enough for the test
// captures that show a finding (demo.pcap is 34 KB), small enough that an
// input takes milliseconds.
const maxFuzzCapture = 40 << 10

// FuzzAnalyzeScript builds a capture from arbitrary bytes through a
// capturetest script (see scriptFrom): every input is a well-formed capture
// of handshakes, requests, responses, TLS hellos, losses, resends, gaps,
// zero windows, FINs and RSTs on four connections, over one of several link
// types and formats, so the detectors' own logic is what gets explored.
func FuzzAnalyzeScript(f *testing.F) {
	for _, seed := range fuzzSeeds {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 3*maxScriptPackets+1 {
			return
		}
		s := parseFuzzScript(scriptFrom(data))
		if s == nil {
			return
		}
		capture, err := s.Bytes()
		if err != nil {
			return
		}
		checkAnalysis(t, capture)
	})
}

// maxScriptPackets bounds the packet lines of a fuzzed script.
const maxScriptPackets = 300

// The actions of fuzzActions the seeds use.
const (
	aSYN, aSYNACK, aACK = 0, 1, 4
	aRequest, aResponse = 5, 6
	aData, aResend      = 7, 8
	aFIN, aRST          = 10, 11
	aZeroWindow         = 13
	aClientHello        = 17
	aKeepAlive          = 20
)

// fuzzLine is one packet line of a seed, as scriptFrom reads it.
func fuzzLine(conn byte, server bool, delta byte, action, param byte) []byte {
	b := conn&3 | delta<<3
	if server {
		b |= 4
	}
	return []byte{b, action, param}
}

// fuzzSeeds are the incidents in small: a request answered then closed;
// the client's FIN, then the server's writes resent into silence; a TLS
// hello never answered; a CLOSE_WAIT after an idle keep-alive; a zero
// window. Their first bytes pick Ethernet, VLAN, SLL2 and raw IP, the last
// with a 96-byte snaplen.
var fuzzSeeds = [][]byte{
	bytes.Join([][]byte{{0},
		fuzzLine(0, false, 0, aSYN, 0), fuzzLine(0, true, 4, aSYNACK, 0), fuzzLine(0, false, 4, aACK, 0),
		fuzzLine(0, false, 1, aRequest, 0), fuzzLine(0, true, 7, aResponse, 0), fuzzLine(0, true, 2, aData, 200),
		fuzzLine(0, false, 4, aACK, 0), fuzzLine(0, false, 14, aFIN, 0), fuzzLine(0, true, 4, aFIN, 0),
		fuzzLine(0, false, 4, aACK, 0)}, nil),
	bytes.Join([][]byte{{1},
		fuzzLine(1, false, 0, aSYN, 0), fuzzLine(1, true, 4, aSYNACK, 0), fuzzLine(1, false, 4, aACK, 0),
		fuzzLine(1, false, 1, aRequest, 1), fuzzLine(1, false, 16, aFIN, 0), fuzzLine(1, true, 4, aACK, 0),
		fuzzLine(1, true, 17, aData, 100), fuzzLine(1, true, 11, aResend, 100), fuzzLine(1, true, 12, aResend, 100),
		fuzzLine(1, true, 14, aResend, 100), fuzzLine(1, true, 15, aResend, 100)}, nil),
	bytes.Join([][]byte{{2},
		fuzzLine(2, false, 0, aSYN, 0), fuzzLine(2, true, 4, aSYNACK, 0), fuzzLine(2, false, 4, aACK, 0),
		fuzzLine(2, false, 1, aClientHello, 3), fuzzLine(2, true, 4, aACK, 0), fuzzLine(2, false, 20, aFIN, 0),
		fuzzLine(2, true, 4, aFIN, 0), fuzzLine(2, false, 4, aACK, 0)}, nil),
	bytes.Join([][]byte{{27},
		fuzzLine(3, false, 0, aSYN, 0), fuzzLine(3, true, 4, aSYNACK, 0), fuzzLine(3, false, 4, aACK, 0),
		fuzzLine(3, false, 1, aRequest, 2), fuzzLine(3, true, 5, aResponse, 0), fuzzLine(3, false, 26, aKeepAlive, 0),
		fuzzLine(3, true, 4, aACK, 0), fuzzLine(3, false, 26, aFIN, 0), fuzzLine(3, true, 4, aACK, 0),
		fuzzLine(0, false, 29, aSYN, 0), fuzzLine(0, true, 4, aSYNACK, 0), fuzzLine(0, false, 4, aZeroWindow, 0),
		fuzzLine(0, true, 4, aData, 100), fuzzLine(0, false, 16, aRST, 0)}, nil),
}

// fuzzDeltas are the times between two packet lines, in seconds: from
// within a millisecond to past every timeout the detectors infer.
var fuzzDeltas = [32]string{"0", "0.00001", "0.0001", "0.0005", "0.001", "0.002", "0.005", "0.01",
	"0.02", "0.05", "0.1", "0.2", "0.3", "0.5", "1", "1.5", "2", "3", "4", "5", "8", "10", "15", "20",
	"30", "45", "60", "75", "120", "300", "900", "3600"}

// fuzzActions are what a packet line does; %d is its parameter byte, scaled
// as each needs. An action that the script cannot evaluate at that point
// (a resend before anything was sent) is dropped by parseFuzzScript.
var fuzzActions = []func(p int) string{
	func(int) string { return "SYN mss=1460 ws=7 sackok ts" },
	func(int) string { return "SYN,ACK mss=1412 ws=7 sackok ts" },
	func(int) string { return "SYN" },
	func(int) string { return "SYN,ACK" },
	func(int) string { return "ACK" },
	func(p int) string { return "PSH,ACK data=" + strconv.Quote(fuzzRequest(p)) },
	func(p int) string {
		codes := []int{200, 204, 301, 404, 500, 502, 503, 504, 101}
		return "PSH,ACK data=" + strconv.Quote(fmt.Sprintf("HTTP/1.1 %d X\r\nContent-Length: %d\r\n\r\n", codes[p%len(codes)], p))
	},
	func(p int) string { return fmt.Sprintf("ACK len=%d", 1+p*11) },
	func(p int) string { return fmt.Sprintf("PSH,ACK len=%d retrans", 1+p*11) },
	func(p int) string { return fmt.Sprintf("ACK len=%d lost", 1+p*11) },
	func(int) string { return "FIN,ACK" },
	func(int) string { return "RST" },
	func(int) string { return "RST,ACK" },
	func(int) string { return "ACK win=0" },
	func(p int) string { return fmt.Sprintf("ACK win=%d", p*257) },
	func(p int) string { return fmt.Sprintf("ACK len=%d seq=+%d", 1+p, 1+p*97) },
	func(p int) string { return fmt.Sprintf("ACK len=%d seq=-%d", 1+p*7, 1+p) },
	func(p int) string { return fmt.Sprintf("PSH,ACK tls=clienthello sni=s%d.example", p%5) },
	func(int) string { return "PSH,ACK tls=serverhello" },
	func(p int) string { return fmt.Sprintf("PSH,ACK tls=appdata len=%d", 1+p*5) },
	func(int) string { return "ACK seq=-1 len=1" }, // a keep-alive probe
	func(int) string { return "ACK retrans=una" },
	func(p int) string { return fmt.Sprintf("ACK ack=%d", p*97) },
	func(p int) string { return fmt.Sprintf("FIN,PSH,ACK len=%d", 1+p*3) },
	func(int) string { return "none" },
	func(int) string { return "SYN,FIN" },
	func(p int) string { return fmt.Sprintf("ACK sack=1-%d", 2+p*50) },
	func(p int) string { return fmt.Sprintf("ACK len=40 caplen=%d", 14+p%80) },
	func(int) string { return "ACK badsum" },
	func(p int) string { return fmt.Sprintf("ACK rawseq=%d len=%d", uint32(p)*16777259, p) },
	func(int) string { return "ECE,CWR,ACK" },
	func(int) string { return "URG,PSH,ACK len=5" },
	func(p int) string { return "PSH,ACK data=" + strconv.Quote(fuzzHostile[p%len(fuzzHostile)]) },
}

// fuzzHostile are payloads that would do harm if a report wrote them raw.
var fuzzHostile = []string{
	"GET /</script><script>alert(1)</script> HTTP/1.1\r\nHost: <img src=x onerror=alert(2)>\r\n\r\n",
	"GET /\u202egnp.exe\x1b[31m HTTP/1.1\r\nHost: a\"'&amp;\u2028\r\n\r\n",
	"HTTP/1.1 500 </title><svg onload=alert(3)>\xff\xfe\r\n\r\n",
}

// fuzzRequest is an HTTP request, whole or cut in its request line.
func fuzzRequest(p int) string {
	methods := []string{"GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "CONNECT"}
	req := fmt.Sprintf("%s /r%d HTTP/1.1\r\nHost: h%d\r\n\r\n", methods[p%len(methods)], p, p%3)
	if p%5 == 4 {
		return req[:p%len(req)]
	}
	return req
}

// scriptFrom turns fuzz bytes into a capturetest script. The first byte
// picks the link type, the file format, a snaplen and whether frames stay
// in script order (so time may go backwards); then each three bytes are a
// packet line: the connection and direction with the time since the line
// before, the action, and its parameter.
func scriptFrom(data []byte) string {
	if len(data) == 0 {
		return ""
	}
	h := int(data[0])
	var b strings.Builder
	fmt.Fprintf(&b, "link %s\n", []string{"ether", "vlan 7", "sll2", "raw", "loop", "sll"}[h%6])
	fmt.Fprintf(&b, "format %s\n", []string{"pcap", "pcap-nano", "pcapng", "pcap-be"}[h/6%4])
	if snap := []int{0, 96, 64}[h/24%3]; snap > 0 {
		fmt.Fprintf(&b, "snaplen %d\n", snap)
	}
	unsorted := h/72%2 == 1
	if unsorted {
		b.WriteString("unsorted\n")
	}
	b.WriteString("conn a client 10.0.0.1:40000 server 10.0.0.2:80\n" +
		"conn b client 10.0.0.1:40001 server 10.0.0.2:80\n" +
		"conn c client [fd00::1]:40002 server [fd00::2]:443\n" +
		"conn d client 10.0.0.3:40000 server 10.0.0.2:80\n")
	var now float64 // seconds since the capture start
	for rec := data[1:]; len(rec) >= 3; rec = rec[3:] {
		conn := "abcd"[rec[0]&3]
		dir := "C>S"
		if rec[0]&4 != 0 {
			dir = "S>C"
		}
		delta, _ := strconv.ParseFloat(fuzzDeltas[rec[0]>>3], 64)
		// When frames stay in script order ("unsorted"), a parameter of
		// 255 steps back in time instead, so the capture's time goes
		// backwards (a sorted capture would only move the frame).
		if unsorted && rec[2] == 255 {
			now = max(0, now-delta)
		} else {
			now += delta
		}
		action := fuzzActions[int(rec[1])%len(fuzzActions)](int(rec[2]))
		fmt.Fprintf(&b, "%.6f %s@%c %s\n", now, dir, conn, action)
	}
	return b.String()
}

// parseFuzzScript parses src, dropping each packet line the script cannot
// evaluate (and the line only), or returns nil.
func parseFuzzScript(src string) *capturetest.Script {
	lines := strings.Split(src, "\n")
	for range 64 {
		s, err := capturetest.Parse(strings.Join(lines, "\n"))
		if err == nil {
			return s
		}
		var pe *capturetest.ParseError
		if !errors.As(err, &pe) || pe.Line < 1 || pe.Line > len(lines) || !strings.Contains(lines[pe.Line-1], "@") {
			return nil // not a packet line: the generator's own mistake
		}
		lines = append(lines[:pe.Line-1], lines[pe.Line:]...)
	}
	return nil
}

// checkAnalysis analyzes capture as the tool does and as the reference
// does, and checks their reports (see the top of this file).
func checkAnalysis(t *testing.T, capture []byte) {
	path := filepath.Join(t.TempDir(), "fuzz.pcap")
	if err := os.WriteFile(path, capture, 0o644); err != nil {
		t.Fatal(err)
	}
	got, gerr := fuzzReports(t, path, asTool)
	want, werr := fuzzReports(t, path, reference)
	if gerr != nil || werr != nil {
		var ie *InputError
		if !errors.As(gerr, &ie) || !errors.As(werr, &ie) || gerr.Error() != werr.Error() {
			t.Fatalf("analysis errors: as the tool runs %v, the reference %v (want the same *InputError)", gerr, werr)
		}
		return
	}
	for i, name := range []string{"JSON", "HTML", "Markdown", "text"} {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("the %s report differs when the detectors run behind the tracker and connections are reused (%d against %d bytes)",
				name, len(got[i]), len(want[i]))
		}
	}
	for _, e := range fuzzSchema(t).Validate(got[0], true) {
		t.Errorf("JSON report: %v", e)
	}
	for _, err := range reporttest.Check(got[1], fuzzReference(t)) {
		t.Errorf("HTML report: %v", err)
	}
	for i, name := range []string{"Markdown", "text"} {
		out := got[2+i]
		if !utf8.Valid(out) {
			t.Errorf("%s report: invalid UTF-8", name)
		}
		for _, r := range []rune{0x1b, 0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069, 0x2028, 0x2029} {
			if bytes.ContainsRune(out, r) {
				t.Errorf("%s report: U+%04X written raw", name, r)
			}
		}
	}
}

// fuzzReports runs the analysis of path in mode (the tracker's default
// configuration) and returns its JSON, HTML, Markdown and text reports.
func fuzzReports(t *testing.T, path string, mode runMode) ([4][]byte, error) {
	var out [4][]byte
	res, err := Run(modeOptions([]string{path}, mode, flows.Config{}, t.TempDir()))
	if err != nil {
		return out, err
	}
	defer res.Close()
	for i, write := range []func(*bytes.Buffer, *render.Report) error{
		func(b *bytes.Buffer, r *render.Report) error { return render.WriteJSON(b, r) },
		func(b *bytes.Buffer, r *render.Report) error { return render.WriteHTML(b, r) },
		func(b *bytes.Buffer, r *render.Report) error { return render.WriteMarkdown(b, r) },
		func(b *bytes.Buffer, r *render.Report) error { return render.WriteText(b, r) },
	} {
		var b bytes.Buffer
		if err := write(&b, res.Report); err != nil {
			t.Fatalf("report %d: %v", i, err)
		}
		out[i] = b.Bytes()
	}
	return out, nil
}

var (
	fuzzSchemaOnce sync.Once
	fuzzSchemaV    *jsonschema.Schema
	fuzzSchemaErr  error
)

// fuzzSchema is docs/report.schema.json, compiled once per process.
func fuzzSchema(t *testing.T) *jsonschema.Schema {
	fuzzSchemaOnce.Do(func() {
		doc, err := os.ReadFile("../../docs/report.schema.json")
		if err != nil {
			fuzzSchemaErr = err
			return
		}
		fuzzSchemaV, fuzzSchemaErr = jsonschema.Compile(doc)
	})
	if fuzzSchemaErr != nil {
		t.Fatal(fuzzSchemaErr)
	}
	return fuzzSchemaV
}

var (
	fuzzOwnOnce sync.Once
	fuzzOwn     reporttest.Own
	fuzzOwnErr  error
)

// fuzzReference returns the inline scripts and style of the report of an
// empty capture, read once per process: every report must have exactly
// these.
func fuzzReference(t *testing.T) reporttest.Own {
	fuzzOwnOnce.Do(func() {
		out, err := fuzzReports(t, "../../testdata/captures/empty.pcap", asTool)
		if err != nil {
			fuzzOwnErr = err
			return
		}
		doc, err := html.Parse(bytes.NewReader(out[1]))
		if err != nil {
			fuzzOwnErr = err
			return
		}
		reporttest.Walk(doc, func(n *html.Node) {
			switch {
			case n.Data == "script" && reporttest.Attr(n, "type") == "":
				fuzzOwn.Scripts = append(fuzzOwn.Scripts, reporttest.Text(n))
			case n.Data == "style":
				fuzzOwn.Style = reporttest.Text(n)
			}
		})
		if len(fuzzOwn.Scripts) == 0 || fuzzOwn.Style == "" {
			fuzzOwnErr = errors.New("the empty capture's report has no script or no style")
		}
	})
	if fuzzOwnErr != nil {
		t.Fatal(fuzzOwnErr)
	}
	return fuzzOwn
}

// TestFuzzScriptsParse keeps the script generator honest: the seeds give
// captures with packets of every connection, and every action parses on
// its own after a handshake.
func TestFuzzScriptsParse(t *testing.T) {
	for i, a := range fuzzActions {
		for _, p := range []int{0, 1, 7, 254} {
			src := "conn a client 10.0.0.1:40000 server 10.0.0.2:80\n" +
				"0 C>S@a SYN\n0.001 S>C@a SYN,ACK\n0.002 C>S@a ACK\n0.003 C>S@a ACK len=10\n0.004 S>C@a ACK len=10\n" +
				"0.005 C>S@a " + a(p) + "\n"
			if _, err := capturetest.Parse(src); err != nil {
				t.Errorf("action %d (%q): %v", i, a(p), err)
			}
		}
	}
	for i, seed := range fuzzSeeds {
		s := parseFuzzScript(scriptFrom(seed))
		if s == nil {
			t.Fatalf("seed %d does not parse:\n%s", i, scriptFrom(seed))
		}
		if got, want := len(s.Frames()), (len(seed)-1)/3; got != want {
			t.Errorf("seed %d gives %d frames, want %d:\n%s", i, got, want, scriptFrom(seed))
		}
	}
}
