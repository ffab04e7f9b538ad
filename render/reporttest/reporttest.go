// Package reporttest checks, for tests, that an HTML report is inert: that
// nothing a packet put into it can run, load or restyle the page. Package
// render's own tests use it on reports built to carry hostile strings, and
// the whole analysis' fuzz targets on reports of arbitrary captures.
//
// Package reporttest imports nothing from pcapsleuth, so package render's
// own tests can use it.
package reporttest

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/html"
)

// Own is what a report writes inline of its own: its scripts, in any
// order, and its style.
type Own struct {
	Scripts []string
	Style   string
}

// Check returns every way in which out is not an inert report whose only
// inline scripts and style are own's:
//   - invalid UTF-8, or a bidi control, line separator or terminal escape
//     written raw;
//   - an element or attribute the report never writes, an event handler,
//     a link that leaves the page, an SVG namespace that is not SVG's;
//   - an inline script or style that is not exactly own's, or one whose
//     hash the Content-Security-Policy lacks;
//   - a data block (application/json) that is not JSON or that holds "</";
//   - not exactly two data blocks and one style;
//   - a policy that allows more than the report needs.
//
// Own's scripts and style are cut out of out before it is parsed (a report
// is mostly its charting library), so each inline script must then be
// empty, and as many as own has.
func Check(out []byte, own Own) []error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if !utf8.Valid(out) {
		fail("report is not valid UTF-8")
	}
	for _, r := range []rune{0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069, 0x200e, 0x200f, 0x2028, 0x2029, 0x1b} {
		if bytes.ContainsRune(out, r) {
			fail("report contains U+%04X raw", r)
		}
	}
	for i, body := range append(append([]string(nil), own.Scripts...), own.Style) {
		j := bytes.Index(out, []byte(body))
		if j < 0 {
			if i < len(own.Scripts) {
				fail("the report's script %d (%d bytes) is missing", i, len(body))
			} else {
				fail("the report's style is missing")
			}
			continue
		}
		out = append(out[:j:j], out[j+len(body):]...)
	}
	doc, err := html.Parse(bytes.NewReader(out))
	if err != nil {
		return append(errs, fmt.Errorf("parse: %w", err))
	}
	var csp string
	var scripts, blocks, styles int
	Walk(doc, func(n *html.Node) {
		if !allowedTags[n.Data] {
			fail("unexpected element <%.40s>", n.Data)
		}
		for _, a := range n.Attr {
			key := strings.ToLower(a.Key)
			if !allowedAttrs[key] || strings.HasPrefix(key, "on") {
				fail("unexpected attribute %.40s=%.80q on <%s>", a.Key, a.Val, n.Data)
			}
			if key == "href" && !strings.HasPrefix(a.Val, "#") {
				fail("link out of the page: href=%.80q", a.Val)
			}
			if key == "xmlns" && a.Val != "http://www.w3.org/2000/svg" {
				fail("xmlns=%.80q", a.Val)
			}
			if key == "http-equiv" && strings.EqualFold(a.Val, "Content-Security-Policy") {
				csp = Attr(n, "content")
			}
		}
		switch n.Data {
		case "script":
			body := Text(n)
			switch Attr(n, "type") {
			case "application/json":
				blocks++
				if !json.Valid([]byte(body)) || strings.Contains(body, "</") {
					fail("data block %s is not inert JSON: %.120q", Attr(n, "id"), body)
				}
			case "":
				scripts++
				if body != "" {
					fail("an inline script that is not the report's own (%d bytes): %.80q", len(body), body)
				}
			default:
				fail("script of type %.40q", Attr(n, "type"))
			}
		case "style":
			styles++
			if body := Text(n); body != "" {
				fail("a style that is not the report's own: %.80q", body)
			}
		}
	})
	if scripts != len(own.Scripts) || blocks != 2 || styles != 1 {
		fail("%d inline scripts, %d data blocks, %d styles; want %d, 2, 1", scripts, blocks, styles, len(own.Scripts))
	}
	for i, body := range own.Scripts {
		if !strings.Contains(csp, Digest(body)) {
			fail("the Content-Security-Policy lacks the hash of script %d", i)
		}
	}
	if !strings.Contains(csp, Digest(own.Style)) {
		fail("the Content-Security-Policy lacks the style's hash")
	}
	for _, want := range []string{"default-src 'none'", "connect-src 'none'"} {
		if !strings.Contains(csp, want) {
			fail("Content-Security-Policy %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") || strings.Contains(csp, "http") {
		fail("Content-Security-Policy too loose: %q", csp)
	}
	return errs
}

// Digest is a Content-Security-Policy source of s: 'sha256-...'.
func Digest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}

// allowedTags are every element a report may contain.
var allowedTags = map[string]bool{
	"html": true, "head": true, "meta": true, "title": true, "style": true, "body": true, "header": true,
	"span": true, "nav": true, "a": true, "main": true, "section": true, "h1": true, "h2": true, "h3": true,
	"h4": true, "ol": true, "ul": true, "li": true, "p": true, "article": true, "div": true, "code": true,
	"table": true, "thead": true, "tbody": true, "tr": true, "th": true, "td": true, "button": true,
	"details": true, "summary": true, "figure": true, "figcaption": true, "svg": true, "g": true,
	"rect": true, "text": true, "line": true, "polygon": true, "polyline": true, "input": true,
	"select": true, "option": true, "noscript": true, "footer": true, "strong": true, "script": true,
}

// allowedAttrs are every attribute a report may contain.
var allowedAttrs = map[string]bool{
	"lang": true, "charset": true, "http-equiv": true, "content": true, "name": true, "class": true,
	"id": true, "href": true, "aria-label": true, "role": true, "type": true, "data-copy": true,
	"data-finding": true, "data-sort": true, "data-frame": true, "xmlns": true, "viewbox": true,
	"width": true, "height": true, "x": true, "y": true, "x1": true, "y1": true, "x2": true, "y2": true,
	"text-anchor": true, "points": true, "rx": true, "placeholder": true, "value": true,
}

// Walk calls f on every element under n, n included, in document order.
func Walk(n *html.Node, f func(*html.Node)) {
	if n.Type == html.ElementNode {
		f(n)
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		Walk(c, f)
	}
}

// Attr returns the value of n's attribute key, "" when it has none.
func Attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

// Text returns the text directly inside n (a script's or a style's body).
func Text(n *html.Node) string {
	var b strings.Builder
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.TextNode {
			b.WriteString(c.Data)
		}
	}
	return b.String()
}
