package render

import (
	"bufio"
	"io"
	"path/filepath"
	"strings"
)

// Terminal summary bounds.
const (
	textWidth       = 100 // the column the summary wraps at
	maxTextFindings = 25  // findings listed; the rest are counted per detector
)

// WriteText writes the terminal summary of r: the verdict, the summary
// lines, each finding with its severity, connections and inferred settings,
// and the capture's errors and warnings. Control characters and bidi
// overrides from packets are shown as visible escapes, never sent to the
// terminal.
func WriteText(w io.Writer, r *Report) error {
	bw := bufio.NewWriter(w)
	line := func(s ...string) {
		for _, x := range s {
			bw.WriteString(x)
		}
		bw.WriteByte('\n')
	}
	ids := findingIDs(r.Findings)
	views := make([]findingView, len(r.Findings))
	for i := range r.Findings {
		views[i] = findingSummaryView(&r.Findings[i], ids[i])
	}
	v := newVerdict(r, views)

	head := "pcapsleuth"
	if r.Tool.Version != "" {
		head += " " + cleanLine(r.Tool.Version, 40)
	}
	var names []string
	var first, last int64
	for _, c := range r.Captures {
		names = append(names, cleanLine(filepath.Base(c.Path), 120))
		if c.FirstTS > 0 && (first == 0 || c.FirstTS < first) {
			first = c.FirstTS
		}
		last = max(last, c.LastTS)
	}
	if len(names) > 0 {
		head += ": " + strings.Join(names, ", ")
	}
	if rg := fmtRange(first, last); rg != "" {
		head += " (" + rg + ")"
	}
	line(head)
	line()
	line(strings.ToUpper(v.Headline))
	for _, h := range v.Health {
		wrapInto(bw, "! ", "  ", h)
	}
	for _, l := range v.Lines {
		wrapInto(bw, "  ", "    ", l)
	}
	line()
	for i := range views[:min(len(views), maxTextFindings)] {
		f := &views[i]
		tag := strings.ToUpper(f.Severity)
		wrapInto(bw, padRight(tag, 10), strings.Repeat(" ", 10), f.Title)
		ind := strings.Repeat(" ", 10)
		if len(f.Paragraphs) > 0 {
			wrapInto(bw, ind, ind, firstSentence(f.Paragraphs[0]))
		}
		facts := f.Kind
		if f.Subject != "" {
			facts += ", " + f.Subject
		}
		facts += "; " + plural(int64(f.FlowCount), "connection", "connections")
		var inf []string
		for _, s := range f.Inferred {
			inf = append(inf, s.Label+" "+s.Value)
		}
		if len(inf) > 0 {
			facts += "; inferred " + strings.Join(inf, ", ")
		}
		wrapInto(bw, ind, ind, "("+facts+")")
	}
	if rest := views[min(len(views), maxTextFindings):]; len(rest) > 0 {
		var parts []string
		for _, g := range groupFindings(rest) {
			parts = append(parts, fmtInt(int64(g.Count))+" "+g.Kind+" ("+g.Severity+")")
		}
		wrapInto(bw, "", "  ", "... and "+plural(int64(len(rest)), "more finding", "more findings")+": "+strings.Join(parts, ", ")+
			" (the HTML and JSON reports have them all)")
	}
	if len(views) > 0 {
		line()
	}
	wrapInto(bw, "", "  ", v.Checked)
	for _, c := range r.Captures {
		name := cleanLine(filepath.Base(c.Path), 120)
		for _, e := range c.Errors {
			wrapInto(bw, "error: ", "       ", name+": "+cleanLine(e, 500))
		}
		for _, wn := range c.Warnings {
			wrapInto(bw, "warning: ", "         ", name+": "+cleanLine(wn, 500))
		}
	}
	return bw.Flush()
}

// wrapInto writes s word-wrapped at textWidth, the first line after first
// and the others after rest. s is cleaned first.
func wrapInto(w *bufio.Writer, first, rest, s string) {
	s = cleanLine(s, 0)
	prefix := first
	col := 0
	w.WriteString(prefix)
	col = len([]rune(prefix))
	startOfLine := true
	for _, word := range strings.Fields(s) {
		n := len([]rune(word))
		if !startOfLine && col+1+n > textWidth {
			w.WriteByte('\n')
			w.WriteString(rest)
			col = len([]rune(rest))
			startOfLine = true
		}
		if !startOfLine {
			w.WriteByte(' ')
			col++
		}
		w.WriteString(word)
		col += n
		startOfLine = false
	}
	w.WriteByte('\n')
}

func padRight(s string, n int) string {
	if len(s) >= n {
		return s + " "
	}
	return s + strings.Repeat(" ", n-len(s))
}
