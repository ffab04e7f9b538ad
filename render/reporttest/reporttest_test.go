package reporttest

import (
	"strings"
	"testing"
)

const (
	ownScript = "var a = '<b>' < 1;"
	ownStyle  = "body{color:red}"
)

// page is a report-like page with own's script and style, its policy
// hashing them, two data blocks, and extra inside the body.
func page(extra string) []byte {
	csp := "default-src 'none'; connect-src 'none'; script-src " + Digest(ownScript) + "; style-src " + Digest(ownStyle)
	return []byte(`<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">` +
		`<meta http-equiv="Content-Security-Policy" content="` + csp + `"><title>r</title>` +
		`<style>` + ownStyle + `</style></head><body><main><p class="x">text &lt;/script&gt;</p>` + extra +
		`<script type="application/json" id="chart-data">{"a":"\u003c/script\u003e"}</script>` +
		`<script type="application/json" id="flow-data">[1,2]</script>` +
		`<script>` + ownScript + `</script></main></body></html>`)
}

var own = Own{Scripts: []string{ownScript}, Style: ownStyle}

func TestCheckAcceptsAnInertPage(t *testing.T) {
	if errs := Check(page(`<a href="#f1">f1</a><svg xmlns="http://www.w3.org/2000/svg"><rect x="1"></rect></svg>`), own); len(errs) > 0 {
		t.Fatalf("inert page rejected: %v", errs)
	}
}

// TestCheckRejects: each way a packet's string could get out of its text
// is reported.
func TestCheckRejects(t *testing.T) {
	for _, tc := range []struct {
		name, extra, want string
	}{
		{"script", `<script>alert(1)</script>`, "not the report's own"},
		{"element", `<img src=x>`, "unexpected element <img>"},
		{"handler", `<p onclick="alert(1)">x</p>`, "unexpected attribute onclick"},
		{"link", `<a href="https://evil.example/">x</a>`, "link out of the page"},
		{"namespace", `<svg xmlns="http://evil.example/"></svg>`, "xmlns="},
		{"style", `<style>p{}</style>`, "a style that is not the report's own"},
		{"data block", `<script type="application/json" id="x">{"a":"</b>"}</script>`, "not inert JSON"},
		{"script type", `<script type="module">x</script>`, `script of type "module"`},
		{"bidi", "\u202egnp.exe", "U+202E"},
		{"escape", "\x1b[31m", "U+001B"},
		{"utf-8", "\xff", "not valid UTF-8"},
	} {
		errs := Check(page(tc.extra), own)
		var all []string
		for _, e := range errs {
			all = append(all, e.Error())
		}
		if !strings.Contains(strings.Join(all, "\n"), tc.want) {
			t.Errorf("%s: errors %q, want one with %q", tc.name, all, tc.want)
		}
	}
}

// TestCheckWantsOwnScriptAndPolicy: a report without its script, or whose
// policy does not hash it or allows inline code, is reported.
func TestCheckWantsOwnScriptAndPolicy(t *testing.T) {
	p := string(page(""))
	for name, tc := range map[string]struct{ from, to, want string }{
		"missing script": {"<script>" + ownScript + "</script>", "", "script 0"},
		"unhashed":       {Digest(ownScript), "'sha256-x'", "lacks the hash of script 0"},
		"loose":          {"connect-src 'none'", "connect-src 'none' 'unsafe-inline'", "too loose"},
		"no default":     {"default-src 'none'; ", "", "lacks \"default-src 'none'\""},
	} {
		errs := Check([]byte(strings.Replace(p, tc.from, tc.to, 1)), own)
		var all []string
		for _, e := range errs {
			all = append(all, e.Error())
		}
		if !strings.Contains(strings.Join(all, "\n"), tc.want) {
			t.Errorf("%s: errors %q, want one with %q", name, all, tc.want)
		}
	}
}
