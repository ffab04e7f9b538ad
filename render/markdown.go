package render

import (
	"bufio"
	"io"
	"path/filepath"
	"strings"

	"github.com/pcapsleuth/pcapsleuth/detectors"
)

// maxMarkdownFindings bounds the findings table and the inferred settings
// of the Markdown summary (CI step summaries are limited to 1 MiB).
const maxMarkdownFindings = 50

// WriteMarkdown writes a short Markdown summary of r, suited for a CI step
// summary or a ticket comment: the verdict, a findings table, the inferred
// settings and the capture's health. Packet-derived text is cleaned and
// escaped so it cannot inject Markdown or HTML.
func WriteMarkdown(w io.Writer, r *Report) error {
	bw := bufio.NewWriter(w)
	p := func(s ...string) {
		for _, x := range s {
			bw.WriteString(x)
		}
		bw.WriteByte('\n')
	}
	views := make([]findingView, len(r.Findings))
	ids := findingIDs(r.Findings)
	for i := range r.Findings {
		views[i] = findingSummaryView(&r.Findings[i], ids[i])
	}
	v := newVerdict(r, views)

	p("## ", severityIcon(v.Class), " pcapsleuth: ", mdText(v.Headline))
	p()
	if in := captureNames(r); in != "" {
		p("Capture: ", in)
		p()
	}
	for _, it := range v.Items {
		line := "- **" + strings.ToUpper(it.Severity) + "**: " + mdText(it.Title)
		if it.Sentence != "" {
			line += ". " + mdText(it.Sentence)
		}
		if it.Similar > 0 {
			line += " (and " + plural(int64(it.Similar), "more like this", "more like this") + ")"
		}
		p(line)
	}
	if len(v.Items) > 0 {
		p()
	}
	for _, h := range v.Health {
		p("> ⚠️ ", mdText(h))
		p()
	}
	for _, l := range v.Lines {
		p("- ", mdText(l))
	}
	if len(v.Lines) > 0 {
		p()
	}
	p(mdText(v.Checked))
	p()

	if len(r.Findings) > 0 {
		p("### Findings")
		p()
		p("| | severity | detector | finding | connections | subject |")
		p("|---|---|---|---|---:|---|")
		for i := range r.Findings[:min(len(r.Findings), maxMarkdownFindings)] {
			f := &r.Findings[i]
			p("| ", severityIcon(severityClass(f.Severity)), " | ", severityClass(f.Severity), " | `", f.Kind.String(), "` | ",
				mdCell(views[i].Title), " | ", fmtInt(int64(views[i].FlowCount)), " | ", mdCell(views[i].Subject), " |")
		}
		p()
		if rest := views[min(len(views), maxMarkdownFindings):]; len(rest) > 0 {
			var parts []string
			for _, g := range groupFindings(rest) {
				parts = append(parts, fmtInt(int64(g.Count))+" `"+g.Kind+"` ("+g.Severity+")")
			}
			p("… and ", plural(int64(len(rest)), "more finding", "more findings"), ": ", strings.Join(parts, ", "),
				" (the HTML and JSON reports have them all).")
			p()
		}
	}

	var inferred [][3]string
	seen := map[[3]string]bool{}
	for i := range r.Findings {
		for _, s := range inferredSettings(r.Findings[i].Inferred) {
			row := [3]string{s.Label + " (`" + s.Name + "`)", s.Value, "`" + r.Findings[i].Kind.String() + "`"}
			if !seen[row] && len(inferred) < maxMarkdownFindings {
				seen[row] = true
				inferred = append(inferred, row)
			}
		}
	}
	if len(inferred) > 0 {
		p("### Inferred settings")
		p()
		p("| setting | value | from |")
		p("|---|---:|---|")
		for _, s := range inferred {
			p("| ", s[0], " | ", s[1], " | ", s[2], " |")
		}
		p()
	}

	p("### Capture health")
	p()
	p("| file | format | frames | TCP segments | duration | not analysed |")
	p("|---|---|---:|---:|---:|---|")
	for _, c := range r.Captures {
		format := mdCell(c.Format)
		if c.Compression != "" && c.Compression != "none" {
			format += ", " + mdCell(c.Compression)
		}
		var skipped []string
		for _, x := range []struct {
			n    int64
			what string
		}{{c.Decode.NonIP, "non-IP"}, {c.Decode.NonTCP, "non-TCP"}, {c.Decode.IPFragments, "IP fragments"},
			{c.Decode.Malformed, "malformed"}, {c.Decode.SnapTruncated, "cut by the snaplen"}} {
			if x.n > 0 {
				skipped = append(skipped, fmtInt(x.n)+" "+x.what)
			}
		}
		for _, lt := range sortedKeys(c.Decode.UnsupportedLink) {
			skipped = append(skipped, fmtInt(c.Decode.UnsupportedLink[lt])+" link type "+mdCell(lt))
		}
		tcp := fmtInt(c.TCPPackets)
		if t := tunnelText(c.Decode.Tunneled); t != "" {
			tcp += " (" + mdCell(t) + ")"
		}
		p("| ", mdCell(filepath.Base(c.Path)), " | ", format, " | ", fmtInt(c.Packets), " | ", tcp, " | ",
			fmtSeconds(c.DurationS), " | ", strings.Join(skipped, ", "), " |")
	}
	p()
	for _, c := range r.Captures {
		for _, e := range c.Errors {
			p("- ⚠️ **error** in ", mdText(filepath.Base(c.Path)), ": ", mdText(e))
		}
		for _, wn := range c.Warnings {
			p("- warning in ", mdText(filepath.Base(c.Path)), ": ", mdText(wn))
		}
	}
	tool := strings.TrimSpace(r.Tool.Name + " " + r.Tool.Version)
	if tool == "" {
		tool = "pcapsleuth"
	}
	foot := "<sub>" + mdText(tool)
	if r.GeneratedAt != "" {
		foot += ", " + mdText(r.GeneratedAt)
	}
	p()
	p(foot, "</sub>")
	return bw.Flush()
}

// findingSummaryView is the part of a finding's view the summaries use
// (no ladders are drawn).
func findingSummaryView(f *detectors.Finding, id string) findingView {
	return newFindingView(f, id, nil)
}

func captureNames(r *Report) string {
	var names []string
	for _, c := range r.Captures {
		names = append(names, mdText(filepath.Base(c.Path)))
	}
	return strings.Join(names, ", ")
}

func severityIcon(class string) string {
	switch class {
	case "critical":
		return "🔴"
	case "warning":
		return "🟠"
	case "info":
		return "🔵"
	}
	return "✅"
}

// mdText cleans s and escapes every character Markdown or HTML would
// interpret, so text from packets stays text.
func mdText(s string) string {
	s = cleanLine(s, 0)
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '\\', '`', '*', '_', '[', ']', '{', '}', '#', '|', '!', '~', '$':
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// mdCell is mdText for a table cell.
func mdCell(s string) string { return mdText(s) }
