package batch

import (
	"bufio"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"html/template"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"unicode"

	"github.com/pcapsleuth/pcapsleuth/cmd/cli"
	"github.com/pcapsleuth/pcapsleuth/detectors"
)

// WriteJSON writes index.json.
func WriteJSON(w io.Writer, ix *Index) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(ix); err != nil {
		return fmt.Errorf("write index: %w", err)
	}
	return nil
}

// severities lists the severities most severe first.
var severities = []string{"critical", "warning", "info"}

// countsText writes "1 critical, 2 warning" ("none" when empty).
func countsText(c map[string]int) string {
	var parts []string
	for _, s := range severities {
		if n := c[s]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, s))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// Headline is the one-line verdict of a batch, e.g. "3 captures: 1 clean,
// 1 with findings, 1 unreadable; exit status 2".
func Headline(ix *Index) string {
	var clean, findings, failed, errs, skipped int
	for _, e := range ix.Entries {
		if e.skipped {
			skipped++
			continue
		}
		switch e.Status {
		case StatusClean:
			clean++
		case StatusFindings:
			findings++
		case StatusFail:
			failed++
		case StatusError:
			errs++
		}
	}
	noun := "captures"
	if len(ix.Entries) == 1 {
		noun = "capture"
	}
	if ix.Merged {
		noun = "timelines"
		if len(ix.Entries) == 1 {
			noun = "merged timeline"
		}
	}
	var parts []string
	add := func(n int, s string) {
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, s))
		}
	}
	add(clean, "clean")
	add(findings, "with findings")
	if ix.FailOn != "" {
		add(failed, "at or above "+ix.FailOn)
	}
	add(errs, "unreadable")
	add(skipped, "not analyzed (interrupted)")
	return fmt.Sprintf("%d %s: %s; exit status %d", len(ix.Entries), noun, strings.Join(parts, ", "), ix.ExitStatus)
}

// displayPath is an entry's capture path(s) for people.
func displayPath(e *Entry) string {
	if len(e.Paths) == 1 {
		return e.Paths[0]
	}
	return fmt.Sprintf("%s (+%d more)", e.Paths[0], len(e.Paths)-1)
}

// WriteText writes the batch summary for a terminal: one line per capture,
// then its findings, then the verdict.
func WriteText(w io.Writer, ix *Index) error {
	bw := bufio.NewWriter(w)
	tw := tabwriter.NewWriter(bw, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CAPTURE\tSTATUS\tPACKETS\tCONNS\tFINDINGS\tREPORT")
	for i := range ix.Entries {
		e := &ix.Entries[i]
		if e.Status == StatusError {
			fmt.Fprintf(tw, "%s\t%s\t-\t-\t-\t-\n", oneLine(displayPath(e)), e.Status)
			continue
		}
		rep := e.Report
		if rep == "" {
			rep = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", oneLine(displayPath(e)), e.Status, cli.Count(e.Packets),
			cli.Count(e.Connections), countsText(e.Counts), oneLine(rep))
	}
	tw.Flush()
	for i := range ix.Entries {
		e := &ix.Entries[i]
		if e.Status == StatusError {
			fmt.Fprintf(bw, "\n%s: %s\n", oneLine(displayPath(e)), oneLine(e.Error))
			continue
		}
		if len(e.Findings) == 0 && len(e.Warnings) == 0 {
			continue
		}
		fmt.Fprintf(bw, "\n%s:\n", oneLine(displayPath(e)))
		for _, f := range e.Findings {
			fmt.Fprintf(bw, "  %-8s  %s  %s\n", f.Severity, f.Detector, oneLine(f.Title))
		}
		for _, m := range e.Warnings {
			fmt.Fprintf(bw, "  note: %s\n", oneLine(m))
		}
	}
	fmt.Fprintf(bw, "\n%s\n", Headline(ix))
	return bw.Flush()
}

// WriteMarkdown writes the batch summary as Markdown, for a pipeline's step
// summary ($GITHUB_STEP_SUMMARY) or a merge-request comment.
func WriteMarkdown(w io.Writer, ix *Index) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "## pcapsleuth: %s\n\n", mdText(Headline(ix)))
	if ix.Filter != "" {
		fmt.Fprintf(bw, "Filter: `%s`\n\n", strings.ReplaceAll(ix.Filter, "`", "'"))
	}
	fmt.Fprintln(bw, "| capture | status | packets | connections | findings |")
	fmt.Fprintln(bw, "|---|---|---:|---:|---|")
	for i := range ix.Entries {
		e := &ix.Entries[i]
		name := mdText(displayPath(e))
		if e.Report != "" {
			name = fmt.Sprintf("[%s](%s)", name, mdLink(e.Report))
		}
		if e.Status == StatusError {
			fmt.Fprintf(bw, "| %s | **error** | | | %s |\n", name, mdText(e.Error))
			continue
		}
		status := e.Status
		if status == StatusFail {
			status = "**fail**"
		}
		fmt.Fprintf(bw, "| %s | %s | %s | %s | %s |\n", name, status, cli.Count(e.Packets), cli.Count(e.Connections), countsText(e.Counts))
	}
	for i := range ix.Entries {
		e := &ix.Entries[i]
		if len(e.Findings) == 0 {
			continue
		}
		fmt.Fprintf(bw, "\n### %s\n\n", mdText(displayPath(e)))
		for _, f := range e.Findings {
			subj := ""
			if f.Subject != "" {
				subj = " " + mdText(f.Subject) + ":"
			}
			flows := ""
			if f.FlowCount > 0 {
				flows = " (" + plural(f.FlowCount, "flow") + ")"
			}
			fmt.Fprintf(bw, "- **%s** `%s`%s %s%s\n", f.Severity, f.Detector, subj, mdText(f.Title), flows)
		}
	}
	return bw.Flush()
}

func plural(n int, s string) string {
	if n == 1 {
		return "1 " + s
	}
	return fmt.Sprintf("%d %ss", n, s)
}

// oneLine makes a string safe for one terminal line: control characters
// (escape sequences from packet bytes) become spaces or '?'.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\r' || r == '\t':
			return ' '
		case unicode.IsControl(r) || r == '\u202e' || r == '\u202d':
			return '?'
		}
		return r
	}, s)
}

// mdText escapes text for a Markdown table cell or list item.
func mdText(s string) string {
	var b strings.Builder
	for _, r := range oneLine(s) {
		switch r {
		case '\\', '`', '*', '_', '[', ']', '<', '>', '|', '#', '!', '~':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// mdLink escapes a relative link target.
func mdLink(s string) string {
	return strings.NewReplacer(" ", "%20", "(", "%28", ")", "%29", "<", "%3C", ">", "%3E").Replace(s)
}

var indexHTML = template.Must(template.New("index").Funcs(template.FuncMap{
	"counts": countsText,
	"path":   displayPath,
	"plural": plural,
}).Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>pcapsleuth: {{.Headline}}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:72rem;padding:0 1rem;color:#1b1f24}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:2rem}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.35rem .6rem;border-bottom:1px solid #d8dee4;vertical-align:top}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.s{font-weight:600;border-radius:3px;padding:0 .35rem}
.critical,.fail,.error{background:#ffebe9;color:#a40e26}.warning,.findings{background:#fff8c5;color:#7d4e00}
.info,.clean{background:#ddf4ff;color:#0a3069}
code{font:12px ui-monospace,monospace}ul{margin:.3rem 0;padding-left:1.2rem}.muted{color:#656d76}
</style>
</head>
<body>
<h1>pcapsleuth: {{.Headline}}</h1>
<p class="muted">{{.Ix.Tool.Name}} {{.Ix.Tool.Version}}{{if .Ix.GeneratedAt}}, {{.Ix.GeneratedAt}}{{end}}{{if .Ix.FailOn}}; --fail-on {{.Ix.FailOn}}{{end}}{{if .Ix.Filter}}; filter: <code>{{.Ix.Filter}}</code>{{end}}</p>
<table>
<thead><tr><th>capture</th><th>status</th><th>packets</th><th>connections</th><th>findings</th></tr></thead>
<tbody>
{{range .Ix.Entries}}<tr>
<td>{{if .Report}}<a href="{{.Report}}">{{path .}}</a>{{else}}{{path .}}{{end}}</td>
<td><span class="s {{.Status}}">{{.Status}}</span></td>
{{if eq .Status "error"}}<td colspan="3">{{.Error}}</td>{{else}}<td class="n">{{.Packets}}</td><td class="n">{{.Connections}}</td>
<td>{{if .Findings}}<ul>{{range .Findings}}<li><span class="s {{.Severity}}">{{.Severity}}</span> <code>{{.Detector}}</code> {{.Title}} <span class="muted">({{plural .FlowCount "flow"}})</span></li>{{end}}</ul>{{else}}none{{end}}
{{range .Warnings}}<div class="muted">note: {{.}}</div>{{end}}</td>{{end}}
</tr>
{{end}}</tbody>
</table>
</body>
</html>
`))

// WriteHTML writes index.html: a self-contained page (no scripts, no network
// access) linking each capture's report.
func WriteHTML(w io.Writer, ix *Index) error {
	bw := bufio.NewWriter(w)
	if err := indexHTML.Execute(bw, struct {
		Ix       *Index
		Headline string
	}{ix, Headline(ix)}); err != nil {
		return fmt.Errorf("write index: %w", err)
	}
	return bw.Flush()
}

// JUnit XML (the de-facto schema Jenkins, GitLab, GitHub test reporters,
// Azure DevOps and CircleCI read).
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name      string      `xml:"name,attr"`
	Tests     int         `xml:"tests,attr"`
	Failures  int         `xml:"failures,attr"`
	Errors    int         `xml:"errors,attr"`
	Skipped   int         `xml:"skipped,attr"`
	Time      string      `xml:"time,attr"`
	Timestamp string      `xml:"timestamp,attr,omitempty"`
	Cases     []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	Error     *junitProblem `xml:"error,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// WriteJUnit writes JUnit XML: a test suite per capture with a test case per
// detector that ran, so CI systems show findings as failed tests. A case
// fails when its detector reported a finding at or above --fail-on (warning
// when --fail-on is not given); lower findings are listed in its
// system-out. An unreadable capture is one case in error; a detector that
// crashed is its case in error.
func WriteJUnit(w io.Writer, ix *Index) error {
	out := junitSuites{Name: "pcapsleuth"}
	for i := range ix.Entries {
		e := &ix.Entries[i]
		class := "pcapsleuth." + e.Name
		s := junitSuite{Name: displayPath(e), Time: "0", Timestamp: ix.GeneratedAt}
		if e.Status == StatusError {
			s.Cases = append(s.Cases, junitCase{Name: "read capture", Classname: class, Time: "0",
				Error: &junitProblem{Message: clip(e.Error, 200), Type: "unreadable", Text: xmlText(e.Error)}})
		} else {
			byDet := map[string][]Finding{}
			for _, f := range e.Findings {
				d := f.Detector
				if d == detectors.KindInternal.String() && f.Subject != "" {
					d = f.Subject
				}
				byDet[d] = append(byDet[d], f)
			}
			names := append([]string(nil), e.Detectors...)
			for d := range byDet {
				if !contains(names, d) {
					names = append(names, d)
				}
			}
			if len(names) == 0 {
				names = []string{"analysis"}
			}
			sort.SliceStable(names, func(i, j int) bool { return indexOf(e.Detectors, names[i]) < indexOf(e.Detectors, names[j]) })
			for _, d := range names {
				c := junitCase{Name: d, Classname: class, Time: "0"}
				var fail, low []string
				var crashed string
				worst := ""
				for _, f := range byDet[d] {
					line := fmt.Sprintf("%s: %s (%s)", f.Severity, f.Title, plural(f.FlowCount, "flow"))
					if f.Subject != "" && f.Detector != detectors.KindInternal.String() {
						line = fmt.Sprintf("%s: %s: %s (%s)", f.Severity, f.Subject, f.Title, plural(f.FlowCount, "flow"))
					}
					switch {
					case f.Detector == detectors.KindInternal.String():
						crashed = f.Title
					case failing(f.Severity, ix.FailOn):
						fail = append(fail, line)
						if worst == "" || sevRank(f.Severity) > sevRank(worst) {
							worst = f.Severity
						}
					default:
						low = append(low, line)
					}
				}
				switch {
				case crashed != "":
					c.Error = &junitProblem{Message: clip(crashed, 200), Type: "internal-error", Text: xmlText(crashed)}
				case len(fail) > 0:
					c.Failure = &junitProblem{Message: clip(xmlText(strings.SplitN(fail[0], "\n", 2)[0]), 200), Type: worst,
						Text: xmlText(strings.Join(fail, "\n"))}
				}
				if len(low) > 0 {
					c.SystemOut = xmlText(strings.Join(low, "\n"))
				}
				s.Cases = append(s.Cases, c)
			}
		}
		for _, c := range s.Cases {
			s.Tests++
			if c.Failure != nil {
				s.Failures++
			}
			if c.Error != nil {
				s.Errors++
			}
		}
		out.Tests += s.Tests
		out.Failures += s.Failures
		out.Errors += s.Errors
		out.Suites = append(out.Suites, s)
	}
	bw := bufio.NewWriter(w)
	bw.WriteString(xml.Header)
	enc := xml.NewEncoder(bw)
	enc.Indent("", "  ")
	if err := enc.Encode(out); err != nil {
		return fmt.Errorf("write junit: %w", err)
	}
	bw.WriteString("\n")
	return bw.Flush()
}

func sevRank(s string) int {
	v, _ := detectors.ParseSeverity(s)
	return int(v)
}

func contains(l []string, s string) bool { return indexOf(l, s) < len(l) }

func indexOf(l []string, s string) int {
	for i, x := range l {
		if x == s {
			return i
		}
	}
	return len(l)
}

// xmlText drops the characters XML 1.0 cannot carry (control characters
// from packet bytes), which encoding/xml would otherwise reject or mangle.
func xmlText(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' || r == '\r' {
			return r
		}
		if r < 0x20 || r == 0xFFFE || r == 0xFFFF || (r >= 0xD800 && r <= 0xDFFF) {
			return '?'
		}
		return r
	}, s)
}

func clip(s string, n int) string {
	s = xmlText(oneLine(s))
	if len([]rune(s)) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}
