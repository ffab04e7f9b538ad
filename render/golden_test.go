package render

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/pcapsleuth/pcapsleuth/render/reporttest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// goldenScenarios are the reports compared with testdata/golden.
func goldenScenarios() []struct {
	name string
	make func(testing.TB) *Report
} {
	return []struct {
		name string
		make func(testing.TB) *Report
	}{
		{"write-after-fin", writeAfterFINReport},
		{"healthcheck-close-wait", closeWaitReport},
		{"clean", cleanReport},
		{"hostile", hostileReport},
	}
}

// renderAll writes r as HTML, Markdown and text.
func renderAll(t *testing.T, r *Report) (h, md, txt *bytes.Buffer) {
	t.Helper()
	h, md, txt = &bytes.Buffer{}, &bytes.Buffer{}, &bytes.Buffer{}
	if err := WriteHTML(h, r); err != nil {
		t.Fatal(err)
	}
	if err := WriteMarkdown(md, r); err != nil {
		t.Fatal(err)
	}
	if err := WriteText(txt, r); err != nil {
		t.Fatal(err)
	}
	return h, md, txt
}

// TestGolden compares, per scenario, the HTML report's structure (an
// outline of its elements and text, scripts and styles named rather than
// copied), the data it embeds (connection table and chart options, as
// indented JSON), and the Markdown and text summaries with the golden files.
// Run `go test ./render -run TestGolden -update` to rewrite them.
func TestGolden(t *testing.T) {
	for _, sc := range goldenScenarios() {
		t.Run(sc.name, func(t *testing.T) {
			r := sc.make(t)
			h, md, txt := renderAll(t, r)
			doc, err := html.Parse(bytes.NewReader(h.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			data := map[string]json.RawMessage{
				"flow-data":  json.RawMessage(dataBlock(t, doc, "flow-data")),
				"chart-data": json.RawMessage(dataBlock(t, doc, "chart-data")),
			}
			dj, err := json.MarshalIndent(data, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			compareGolden(t, sc.name+".outline.txt", []byte(outline(doc)))
			compareGolden(t, sc.name+".data.json", append(dj, '\n'))
			compareGolden(t, sc.name+".md", md.Bytes())
			compareGolden(t, sc.name+".txt", txt.Bytes())

			// Deterministic: a second rendering is byte-identical.
			var again bytes.Buffer
			if err := WriteHTML(&again, sc.make(t)); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(h.Bytes(), again.Bytes()) {
				t.Error("two renderings of the same report differ")
			}
		})
	}
}

func compareGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file; run `go test ./render -run TestGolden -update` and review the diff:\n%s",
			name, firstDiff(string(want), string(got)))
	}
}

// firstDiff shows the first differing line.
func firstDiff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < max(len(wl), len(gl)); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return "line " + itoa(i+1) + ":\n- " + w + "\n+ " + g
		}
	}
	return "(only line endings differ)"
}

var cspHashRE = regexp.MustCompile(`'sha256-[A-Za-z0-9+/=]+'`)

// outline writes the document as an indented tree: one line per element
// with its id, classes and meaningful attributes, then its text. Inline
// scripts and the stylesheet are named, not copied; a ladder packet is one
// line with its texts joined by " | ".
func outline(doc *html.Node) string {
	var b strings.Builder
	var walk func(n *html.Node, depth int)
	walk = func(n *html.Node, depth int) {
		ind := strings.Repeat("  ", depth)
		switch n.Type {
		case html.TextNode:
			if s := strings.Join(strings.Fields(n.Data), " "); s != "" {
				b.WriteString(ind + "\"" + truncateRunes(s, 160) + "\"\n")
			}
			return
		case html.ElementNode:
		default:
			for c := n.FirstChild; c != nil; c = c.NextSibling {
				walk(c, depth)
			}
			return
		}
		b.WriteString(ind + n.Data)
		if id := reporttest.Attr(n, "id"); id != "" {
			b.WriteString("#" + id)
		}
		if cl := reporttest.Attr(n, "class"); cl != "" {
			b.WriteString("." + strings.Join(strings.Fields(cl), "."))
		}
		for _, a := range n.Attr {
			switch a.Key {
			case "id", "class", "d", "points", "x", "y", "x1", "x2", "y1", "y2", "width", "height", "viewbox", "xmlns", "rx", "text-anchor":
				continue
			case "content":
				if strings.EqualFold(reporttest.Attr(n, "http-equiv"), "content-security-policy") {
					b.WriteString(" csp=" + cspHashRE.ReplaceAllString(a.Val, "'sha256-…'"))
					continue
				}
			}
			b.WriteString(" " + a.Key + "=" + truncateRunes(a.Val, 120))
		}
		switch {
		case n.Data == "script" && reporttest.Attr(n, "type") == "":
			body := reporttest.Text(n)
			name := "UNKNOWN"
			switch body {
			case inlineText(echartsJS):
				name = "echarts " + echartsVersion
			case inlineText(reportJS):
				name = "report.js"
			}
			b.WriteString(" [inline script: " + name + "]\n")
			return
		case n.Data == "script":
			b.WriteString(" [data: see .data.json]\n")
			return
		case n.Data == "style":
			name := "UNKNOWN"
			if reporttest.Text(n) == inlineText(reportCSS) {
				name = "report.css"
			}
			b.WriteString(" [inline style: " + name + "]\n")
			return
		case n.Data == "g" && (hasClass(n, "pkt") || hasClass(n, "brk") || hasClass(n, "state")):
			var texts []string
			var collect func(*html.Node)
			collect = func(c *html.Node) {
				if c.Type == html.ElementNode && c.Data == "text" {
					texts = append(texts, reporttest.Text(c))
				}
				for k := c.FirstChild; k != nil; k = k.NextSibling {
					collect(k)
				}
			}
			collect(n)
			b.WriteString(": " + strings.Join(texts, " | ") + "\n")
			return
		case n.Data == "line" || n.Data == "polyline" || n.Data == "polygon" || n.Data == "rect":
			if n.Parent != nil && n.Parent.Data == "svg" {
				return // lifelines
			}
		}
		b.WriteString("\n")
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, depth+1)
		}
	}
	walk(doc, 0)
	return b.String()
}

func hasClass(n *html.Node, cls string) bool {
	for _, c := range strings.Fields(reporttest.Attr(n, "class")) {
		if c == cls {
			return true
		}
	}
	return false
}
