package render

import (
	"bufio"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/pcapsleuth/pcapsleuth/detectors"
	"github.com/pcapsleuth/pcapsleuth/flows"
)

// HTML report bounds: whatever the detectors report, the page stays a few
// MB beyond the connection table (TestHTMLBoundedFindings).
const (
	verdictItems       = 3       // findings spelled out in the verdict
	flowSampleSize     = 12      // connections listed in a finding (all are in the table)
	maxLadders         = 4       // ladders drawn per finding
	maxFullFindings    = 40      // findings drawn in full; the next ones are table rows
	maxCompactFindings = 400     // findings listed as rows; the rest are counted per detector
	maxLadderBytes     = 2500000 // SVG of all ladders together
	maxEvidence        = 40
	maxActions         = 12
	maxExplanation     = 6000 // runes
)

// ladderBudget is what is left of maxLadderBytes.
type ladderBudget struct {
	left    int
	omitted int
}

// findingGroup counts the findings of one detector and severity that the
// report only counts.
type findingGroup struct {
	Kind, Severity string
	Count          int
	Flows          int
}

// groupFindings counts findings per detector and severity, largest first.
func groupFindings(fs []findingView) []findingGroup {
	idx := map[[2]string]int{}
	var out []findingGroup
	for _, f := range fs {
		k := [2]string{f.Kind, f.Severity}
		i, ok := idx[k]
		if !ok {
			i = len(out)
			idx[k] = i
			out = append(out, findingGroup{Kind: f.Kind, Severity: f.Severity})
		}
		out[i].Count++
		out[i].Flows += f.FlowCount
	}
	slices.SortStableFunc(out, func(a, b findingGroup) int {
		if a.Count != b.Count {
			return b.Count - a.Count
		}
		return strings.Compare(a.Kind+a.Severity, b.Kind+b.Severity)
	})
	return out
}

// parsedTemplate returns the report's template, parsed once per process
// (see inlined; the parse was a tenth of a small capture's report):
// html/template's templates may be executed by several goroutines at once,
// and the escaping worked out at the first execution is kept for the next.
var parsedTemplate = sync.OnceValues(func() (*template.Template, error) {
	tmpl, err := template.New("report").Funcs(template.FuncMap{
		"int": func(n any) string {
			switch v := n.(type) {
			case int:
				return fmtInt(int64(v))
			case int64:
				return fmtInt(v)
			}
			return fmt.Sprint(n)
		},
		"rich": richText,
	}).Parse(reportTemplate)
	if err != nil {
		return nil, fmt.Errorf("parse report template: %w", err)
	}
	return tmpl, nil
})

// inlineAssets are the report's inline script and style texts as written
// (inlineText) and the Content-Security-Policy that allows exactly them.
type inlineAssets struct {
	echarts, app, css string
	csp               string
}

// inlined returns the inline assets, worked out once per process. They
// depend on nothing but the embedded files, so this is a constant computed
// late, never state that changes: copying and hashing ECharts' megabyte
// was a third of the time a small capture's report took to write, once per
// report of a batch run.
var inlined = sync.OnceValue(func() inlineAssets {
	a := inlineAssets{echarts: inlineText(echartsJS), app: inlineText(reportJS), css: inlineText(reportCSS)}
	a.csp = contentSecurityPolicy([]string{a.echarts, a.app}, []string{a.css})
	return a
})

// WriteHTML writes r as one self-contained HTML file: every script and style
// is inline (ECharts is embedded), a Content-Security-Policy forbids any
// network access and any script but the report's own (by sha256 hash), and
// every string that came from packets is cleaned and escaped. Output is
// deterministic: the only clock in it is r.GeneratedAt.
//
// Top to bottom the report shows the verdict, each finding (explanation,
// evidence, inferred settings, actions, affected flows and exemplar ladder
// diagrams with display filters), the charts, the ladder legend and index,
// the connection table, and the capture metadata and analysis settings.
func WriteHTML(w io.Writer, r *Report) error {
	p, err := newPage(r)
	if err != nil {
		return err
	}
	tmpl, err := parsedTemplate()
	if err != nil {
		return err
	}
	// The connection table's data goes between the template's first two
	// parts, written from its rows as they are (10 MB on a capture of
	// 150,000 connections or more): as a string in the template's data it
	// took two more copies of them, the largest allocations of the report.
	// json.Marshal escapes <, > and &, and the rows are numbers, so
	// nothing in it can close the <script> element.
	bw := bufio.NewWriterSize(w, 64<<10)
	if err := tmpl.ExecuteTemplate(bw, "top", p); err != nil {
		return fmt.Errorf("write html report: %w", err)
	}
	bw.WriteString(`<script type="application/json" id="flow-data">`)
	if err := p.flows.writeJSON(bw); err != nil {
		return fmt.Errorf("write html report: connection table: %w", err)
	}
	bw.WriteString("</script>\n")
	if err := tmpl.ExecuteTemplate(bw, "bottom", p); err != nil {
		return fmt.Errorf("write html report: %w", err)
	}
	// ECharts' megabyte too: through the template it was copied into a
	// buffer of fmt's first (a megabyte of garbage a report). It is the
	// embedded file, whose hash the Content-Security-Policy lists.
	bw.WriteString("<script>")
	bw.WriteString(inlined().echarts)
	bw.WriteString("</script>\n")
	if err := tmpl.ExecuteTemplate(bw, "tail", p); err != nil {
		return fmt.Errorf("write html report: %w", err)
	}
	return bw.Flush()
}

// textPart is a run of text, shown as code when Code is set.
type textPart struct {
	Text string
	Code bool
}

// richText splits detector prose at paired backticks, so commands such as
// `ss -tan state close-wait` show as code. The parts stay plain text for
// html/template to escape.
func richText(s string) []textPart {
	var out []textPart
	for {
		i := strings.IndexByte(s, '`')
		if i < 0 {
			break
		}
		j := strings.IndexByte(s[i+1:], '`')
		if j <= 0 {
			break
		}
		if i > 0 {
			out = append(out, textPart{Text: s[:i]})
		}
		out = append(out, textPart{Text: s[i+1 : i+1+j], Code: true})
		s = s[i+1+j+1:]
	}
	if s != "" {
		out = append(out, textPart{Text: s})
	}
	return out
}

// page is the view model of the HTML report: every string in it is cleaned
// text, escaped by html/template when written.
type page struct {
	CSP       string
	Title     string
	Tool      string
	Generated string
	Inputs    string
	Range     string

	Verdict  verdictView
	Findings []findingView // drawn in full, most severe first
	More     []findingView // listed in a table after them
	Rest     []findingGroup
	// FindingCount is the number of findings in the report.
	FindingCount   int
	LaddersOmitted int
	ChartsOmitted  int
	Charts         []chartView
	Ladders        []ladderIndexEntry
	FlowTotal      int
	Captures       []captureView
	Summary        summaryView
	Settings       settingsView
	ECharts        string

	CSS       template.CSS
	ChartJSON template.JS
	AppJS     template.JS

	// flows is the connection table, which WriteHTML writes itself
	// between the template's parts.
	flows *flowTable
}

// verdictView is the report's first block.
type verdictView struct {
	Class    string // worst severity: critical, warning, info, or ok
	Headline string
	Items    []verdictItem
	More     int // further findings not spelled out
	Lines    []string
	Checked  string
	Health   []string // capture problems that weaken the verdict
}

type verdictItem struct {
	Severity string
	Title    string
	Sentence string
	Anchor   string
	Inferred string // "request timeout 20.0 s · drop window 16.0 s"
	Similar  int    // further findings of the same detector and severity
}

// findingView is one finding's card.
type findingView struct {
	ID         string
	Kind       string
	Severity   string
	Title      string
	Paragraphs []string
	Subject    string
	When       string
	Caveat     string
	Evidence   []metricView
	Inferred   []inferredSetting
	Actions    []string
	FlowCount  int
	Flows      []flowRefView
	MoreFlows  int
	Ladders    []ladderView
	// LaddersOmitted counts exemplar ladders left out to bound the size.
	LaddersOmitted int
	Charts         []chartView
	// Inferences is the inferred settings on one line, for tables.
	Inferences string
	Frames     string // display filter of every highlighted frame
}

type metricView struct {
	Name, Value, Note string
}

type flowRefView struct {
	ID             int64
	Client, Server string
}

// ladderIndexEntry lists one drawn ladder in the ladder section.
type ladderIndexEntry struct {
	LadderID string
	ConnID   int64
	Flow     string
	Finding  string
	Severity string
	Shown    int
	Packets  int64
}

type captureView struct {
	Name       string
	Rows       []kv
	Interfaces []kv
	Decode     []kv
	Errors     []string
	Warnings   []string
}

type kv struct{ K, V string }

type summaryView struct {
	Lines  []string
	States []stateCount
	Facts  []kv
}

type stateCount struct {
	State          string
	Client, Server string
}

type settingsView struct {
	Detectors string
	Values    []kv
}

// newPage builds the view model.
func newPage(r *Report) (*page, error) {
	p := &page{
		Tool:      cleanLine(strings.TrimSpace(r.Tool.Name+" "+r.Tool.Version), 80),
		Generated: cleanLine(r.GeneratedAt, 64),
		ECharts:   echartsVersion,
	}
	if p.Tool == "" {
		p.Tool = "pcapsleuth"
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
	p.Inputs = strings.Join(names, ", ")
	p.Range = fmtRange(first, last)

	ids := findingIDs(r.Findings)
	kindAnchors := map[string]string{}
	ladders := map[int64][]string{}
	all := make([]findingView, len(r.Findings))
	lb := &ladderBudget{left: maxLadderBytes}
	for i := range r.Findings {
		f := &r.Findings[i]
		var fv findingView
		if i < maxFullFindings {
			fv = newFindingView(f, ids[i], lb)
		} else {
			fv = newFindingView(f, ids[i], nil)
		}
		all[i] = fv
		for _, l := range fv.Ladders {
			ladders[l.ConnID] = append(ladders[l.ConnID], l.ID)
			p.Ladders = append(p.Ladders, ladderIndexEntry{LadderID: l.ID, ConnID: l.ConnID,
				Flow: l.Client + " → " + l.Server, Finding: fv.Title, Severity: fv.Severity,
				Shown: l.Shown, Packets: l.Packets})
		}
		if _, ok := kindAnchors[fv.Kind]; !ok && i < maxFullFindings+maxCompactFindings {
			kindAnchors[fv.Kind] = fv.ID
		}
	}
	p.Findings = all[:min(len(all), maxFullFindings)]
	if len(all) > maxFullFindings {
		p.More = all[maxFullFindings:min(len(all), maxFullFindings+maxCompactFindings)]
		p.Rest = groupFindings(all[min(len(all), maxFullFindings+maxCompactFindings):])
	}
	p.LaddersOmitted = lb.omitted
	p.FindingCount = len(all)
	p.Verdict = newVerdict(r, all)
	p.Title = "pcapsleuth: " + p.Verdict.Headline
	if p.Inputs != "" {
		p.Title += " — " + p.Inputs
	}

	// The connection table reads every connection back from the store
	// (half a second on a capture of 320,000); the charts and the rest of
	// the page need none of it, so they are built meanwhile.
	type table struct {
		ft  *flowTable
		err error
	}
	tc := make(chan table, 1)
	go func() {
		var t table
		t.ft, t.err = buildFlowTable(r, kindAnchors, ladders)
		tc <- t
	}()
	err := p.fillRest(r, ids)
	t := <-tc
	if err != nil {
		return nil, err
	}
	if t.err != nil {
		return nil, fmt.Errorf("connection table: %w", t.err)
	}
	p.FlowTotal = t.ft.Total
	p.flows = t.ft
	return p, nil
}

// fillRest builds what newPage needs besides the findings and the
// connection table: the charts, the captures, summary and settings, the
// inline assets and the content security policy.
func (p *page) fillRest(r *Report, ids []string) error {
	cs, err := buildCharts(r, ids, maxFullFindings)
	if err != nil {
		return err
	}
	p.Charts = cs.Views
	p.ChartsOmitted = cs.Omitted
	for i := range p.Findings {
		for _, c := range cs.Views {
			if c.FindingID == p.Findings[i].ID || slices.Contains(c.Also, p.Findings[i].ID) {
				p.Findings[i].Charts = append(p.Findings[i].Charts, c)
			}
		}
	}
	chartJSON, err := json.Marshal(nonNilCharts(cs.Data))
	if err != nil {
		return fmt.Errorf("chart data: %w", err)
	}
	p.Captures = captureViews(r.Captures)
	p.Summary = newSummaryView(r)
	p.Settings = newSettingsView(r)

	// json.Marshal escapes <, >, & and U+2028/2029, so the data blocks (this
	// one and the connection table's) can never close their <script>
	// element or start a comment.
	p.ChartJSON = template.JS(chartJSON)
	a := inlined()
	p.AppJS = template.JS(a.app)
	p.CSS = template.CSS(a.css)
	p.CSP = a.csp
	return nil
}

func nonNilCharts(d []chartData) []chartData {
	if d == nil {
		return []chartData{}
	}
	return d
}

// contentSecurityPolicy forbids every fetch (no network, no other file) and
// allows exactly the given inline scripts and styles, by their sha256
// hashes, computed from what is written. JSON data blocks are not scripts
// and need no hash. No image, font, frame or form is allowed either.
func contentSecurityPolicy(scripts, styles []string) string {
	var b strings.Builder
	b.WriteString("default-src 'none'; connect-src 'none'; img-src 'none'; font-src 'none'; ")
	b.WriteString("object-src 'none'; base-uri 'none'; form-action 'none'; script-src")
	for _, s := range scripts {
		b.WriteString(" " + cspHash(s))
	}
	b.WriteString("; style-src")
	for _, s := range styles {
		b.WriteString(" " + cspHash(s))
	}
	return b.String()
}

// inlineText prepares the content of an inline <script> or <style>: the
// HTML parser turns CR LF and CR into LF before the browser hashes the
// element for the CSP, so the hashed text must already have only LFs.
func inlineText(s string) string {
	if !strings.Contains(s, "\r") {
		return s
	}
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
}

// cspHash is the CSP source expression of an inline element's content.
func cspHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}

// metricName turns an evidence name such as "fin_to_write_s" into words
// ("fin to write"), dropping a unit suffix the value already shows.
func metricName(name, unit string) string {
	for _, suf := range []string{"_s", "_ms", "_bytes", "_pct"} {
		if unit != "" && strings.HasSuffix(name, suf) && len(name) > len(suf) {
			name = strings.TrimSuffix(name, suf)
			break
		}
	}
	return cleanLine(strings.ReplaceAll(name, "_", " "), 80)
}

// findingIDs gives each finding a stable element id: "f1-close-wait-leak".
func findingIDs(fs []detectors.Finding) []string {
	ids := make([]string, len(fs))
	for i := range fs {
		ids[i] = "f" + strconv.Itoa(i+1) + "-" + safeID(fs[i].Kind.String(), 0)
	}
	return ids
}

// newFindingView builds a finding's card. Ladders are drawn while lb has
// room (none when lb is nil).
func newFindingView(f *detectors.Finding, id string, lb *ladderBudget) findingView {
	v := findingView{
		ID:       id,
		Kind:     f.Kind.String(),
		Severity: severityClass(f.Severity),
		Title:    cleanLine(f.Title, 400),
		Subject:  cleanLine(f.Subject, 200),
		When:     fmtRange(f.At, f.Until),
		Caveat:   cleanText(f.Caveat),
		Frames:   framesFilter(f.Highlight),
	}
	if v.Title == "" {
		v.Title = v.Kind
	}
	expl := f.Explanation
	if n := utf8.RuneCountInString(expl); n > maxExplanation {
		expl = truncateRunes(expl, maxExplanation)
	}
	for _, para := range strings.Split(cleanText(expl), "\n\n") {
		if para = strings.TrimSpace(para); para != "" {
			v.Paragraphs = append(v.Paragraphs, para)
		}
	}
	for _, m := range f.Evidence[:min(len(f.Evidence), maxEvidence)] {
		v.Evidence = append(v.Evidence, metricView{
			Name:  metricName(m.Name, m.Unit),
			Value: fmtValue(m.Value, cleanLine(m.Unit, 16)),
			Note:  cleanLine(m.Note, 200),
		})
	}
	v.Inferred = inferredSettings(f.Inferred)
	var inf []string
	for _, s := range v.Inferred {
		inf = append(inf, s.Label+" "+s.Value)
	}
	v.Inferences = strings.Join(inf, " · ")
	for _, a := range f.Actions[:min(len(f.Actions), maxActions)] {
		v.Actions = append(v.Actions, cleanText(a))
	}
	v.FlowCount = max(f.FlowCount, len(f.Flows))
	for i, fl := range f.Flows {
		if i == flowSampleSize {
			break
		}
		v.Flows = append(v.Flows, flowRefView{ID: fl.ID, Client: addrString(fl.Client), Server: addrString(fl.Server)})
	}
	v.MoreFlows = v.FlowCount - len(v.Flows)
	if lb == nil {
		return v
	}
	seen := map[int64]bool{}
	for _, c := range f.Exemplars {
		if c == nil || len(c.Log) == 0 || seen[c.ID] || len(v.Ladders) == maxLadders {
			continue
		}
		seen[c.ID] = true
		l := newLadderView(id+"-flow-"+strconv.FormatInt(c.ID, 10), c, f.Highlight)
		if len(l.SVG) > lb.left {
			lb.omitted++
			v.LaddersOmitted++
			continue
		}
		lb.left -= len(l.SVG)
		v.Ladders = append(v.Ladders, l)
	}
	return v
}

func newVerdict(r *Report, fs []findingView) verdictView {
	v := verdictView{Class: "ok"}
	var crit, warn, info int
	for _, f := range fs {
		switch f.Severity {
		case "critical":
			crit++
		case "warning":
			warn++
		default:
			info++
		}
	}
	switch {
	case crit > 0:
		v.Class = "critical"
	case warn > 0:
		v.Class = "warning"
	}
	var parts []string
	if crit > 0 {
		parts = append(parts, plural(int64(crit), "critical problem", "critical problems"))
	}
	if warn > 0 {
		parts = append(parts, plural(int64(warn), "warning", "warnings"))
	}
	if len(parts) == 0 {
		v.Headline = "No problems found"
		if info > 0 {
			v.Headline += " (" + plural(int64(info), "note", "notes") + ")"
		}
	} else {
		if info > 0 {
			parts = append(parts, plural(int64(info), "note", "notes"))
		}
		v.Headline = joinAnd(parts)
	}
	// One item per detector and severity, the most severe first: distinct
	// causes, not eight times the same leak on eight listeners.
	byKind := map[[2]string]int{}
	shown := 0
	for _, f := range fs {
		key := [2]string{f.Kind, f.Severity}
		if i, ok := byKind[key]; ok {
			v.Items[i].Similar++
			shown++
			continue
		}
		if len(v.Items) == verdictItems || (f.Severity == "info" && crit+warn > 0) {
			continue
		}
		it := verdictItem{Severity: f.Severity, Title: f.Title, Anchor: f.ID}
		if len(f.Paragraphs) > 0 {
			it.Sentence = firstSentence(f.Paragraphs[0])
		}
		it.Inferred = f.Inferences
		byKind[key] = len(v.Items)
		v.Items = append(v.Items, it)
		shown++
	}
	v.More = len(fs) - shown
	for _, l := range r.Summary.Lines {
		v.Lines = append(v.Lines, cleanLine(l, 300))
	}
	var packets int64
	var tunneled map[string]int64
	for _, c := range r.Captures {
		packets += c.Packets
		for k, n := range c.Decode.Tunneled {
			if tunneled == nil {
				tunneled = map[string]int64{}
			}
			tunneled[k] += n
		}
		for _, e := range c.Errors {
			v.Health = append(v.Health, cleanLine(filepath.Base(c.Path), 120)+": "+cleanLine(e, 300))
		}
	}
	conns := r.Summary.Connections
	if conns == 0 && r.Conns != nil {
		conns = int64(r.Conns.Len())
	}
	dets := "every detector"
	switch n := len(r.Settings.Detectors); {
	case n == 1:
		dets = "the " + cleanLine(r.Settings.Detectors[0], 64) + " detector"
	case n > 1:
		var ds []string
		for _, d := range r.Settings.Detectors {
			ds = append(ds, cleanLine(d, 64))
		}
		dets = fmtInt(int64(n)) + " detectors"
		if crit+warn == 0 {
			// Nothing found: say exactly what was looked for.
			dets += " (" + strings.Join(ds, ", ") + ")"
		}
	}
	v.Checked = "Checked " + plural(packets, "packet", "packets") + " in " + plural(conns, "TCP connection", "TCP connections") +
		" with " + dets + "."
	if t := tunnelText(tunneled); t != "" {
		v.Checked += " TCP segments out of tunnels: " + t + "."
	}
	return v
}

// joinAnd joins "a", "b", "c" as "a, b and c".
func joinAnd(parts []string) string {
	if len(parts) < 2 {
		return strings.Join(parts, "")
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
}

// firstSentence returns the text up to the first full stop followed by a
// space (or all of it), at most 320 runes.
func firstSentence(s string) string {
	if i := strings.Index(s, ". "); i >= 0 {
		s = s[:i+1]
	}
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return cleanLine(s, 320)
}

func captureViews(cs []Capture) []captureView {
	var out []captureView
	for _, c := range cs {
		v := captureView{Name: cleanLine(c.Path, 300)}
		add := func(rows *[]kv, k, val string) {
			if val != "" {
				*rows = append(*rows, kv{k, val})
			}
		}
		format := cleanLine(c.Format, 16)
		if c.Version != "" {
			format += " " + cleanLine(c.Version, 16)
		}
		if c.Compression != "" && c.Compression != "none" {
			format += ", " + cleanLine(c.Compression, 16) + " compressed"
		}
		add(&v.Rows, "format", format)
		add(&v.Rows, "frames", fmtInt(c.Packets))
		add(&v.Rows, "TCP segments", fmtInt(c.TCPPackets))
		add(&v.Rows, "out of tunnels", tunnelText(c.Decode.Tunneled))
		add(&v.Rows, "bytes read", fmtInt(c.Bytes))
		add(&v.Rows, "first packet", orTime(c.Start, c.FirstTS))
		add(&v.Rows, "last packet", orTime(c.End, c.LastTS))
		if c.DurationS > 0 {
			add(&v.Rows, "duration", fmtSeconds(c.DurationS))
		}
		add(&v.Rows, "byte order", cleanLine(c.ByteOrder, 16))
		if c.Sections > 1 {
			add(&v.Rows, "pcapng sections", fmtInt(int64(c.Sections)))
		}
		for i, in := range c.Interfaces {
			d := cleanLine(in.LinkType, 32)
			if in.SnapLen > 0 {
				d += ", snaplen " + fmtInt(int64(in.SnapLen))
			}
			if in.Resolution != "" {
				d += ", " + cleanLine(in.Resolution, 16) + " timestamps"
			}
			if in.Dropped != nil {
				d += ", " + fmtInt(int64(*in.Dropped)) + " dropped by the capturing host"
			}
			name := "interface " + strconv.Itoa(i)
			if in.Name != "" {
				name += " (" + cleanLine(in.Name, 64) + ")"
			}
			v.Interfaces = append(v.Interfaces, kv{name, d})
		}
		d := c.Decode
		for _, x := range []struct {
			k string
			n int64
		}{
			{"not IP (ARP, LLDP, ...)", d.NonIP},
			{"IP but not TCP", d.NonTCP},
			{"IP fragments without a TCP header", d.IPFragments},
			{"malformed", d.Malformed},
			{"cut by the snaplen before the TCP header", d.SnapTruncated},
		} {
			if x.n > 0 {
				v.Decode = append(v.Decode, kv{x.k, fmtInt(x.n)})
			}
		}
		for _, lt := range sortedKeys(d.UnsupportedLink) {
			v.Decode = append(v.Decode, kv{"unsupported link type " + cleanLine(lt, 32), fmtInt(d.UnsupportedLink[lt])})
		}
		for _, e := range c.Errors {
			v.Errors = append(v.Errors, cleanLine(e, 500))
		}
		for _, w := range c.Warnings {
			v.Warnings = append(v.Warnings, cleanLine(w, 500))
		}
		out = append(out, v)
	}
	return out
}

func orTime(s string, ns int64) string {
	if ns != 0 {
		return fmtTime(ns)
	}
	return cleanLine(s, 64)
}

func newSummaryView(r *Report) summaryView {
	var v summaryView
	for _, l := range r.Summary.Lines {
		v.Lines = append(v.Lines, cleanLine(l, 300))
	}
	sc := r.Summary.StateCounts
	states := map[string]bool{}
	for _, side := range sortedKeys(sc) {
		for st := range sc[side] {
			states[st] = true
		}
	}
	names := sortedKeys(states)
	// In the kernel's order of states (ESTABLISHED, SYN_SENT, ...), not
	// alphabetically.
	slices.SortStableFunc(names, func(a, b string) int {
		sa, oka := flows.ParseState(a)
		sb, okb := flows.ParseState(b)
		switch {
		case oka && okb:
			return int(sa) - int(sb)
		case oka:
			return -1
		case okb:
			return 1
		}
		return 0
	})
	for _, st := range names {
		row := stateCount{State: cleanLine(st, 32)}
		if n, ok := sc["client"][st]; ok {
			row.Client = fmtInt(n)
		}
		if n, ok := sc["server"][st]; ok {
			row.Server = fmtInt(n)
		}
		v.States = append(v.States, row)
	}
	if r.Summary.Connections > 0 {
		v.Facts = append(v.Facts, kv{"connections", fmtInt(r.Summary.Connections)})
	}
	if r.Summary.PeakLive > 0 {
		v.Facts = append(v.Facts, kv{"most connections open at once", fmtInt(int64(r.Summary.PeakLive))})
	}
	if r.Summary.Evicted > 0 {
		v.Facts = append(v.Facts, kv{"connections handed on early to bound memory", fmtInt(r.Summary.Evicted)})
		if r.Summary.HalfOpenEvicted > 0 {
			v.Facts = append(v.Facts, kv{"of them half-open (SYN only), beyond --max-half-open", fmtInt(r.Summary.HalfOpenEvicted)})
		}
	}
	return v
}

func newSettingsView(r *Report) settingsView {
	v := settingsView{Detectors: "all"}
	if len(r.Settings.Detectors) > 0 {
		var ds []string
		for _, d := range r.Settings.Detectors {
			ds = append(ds, cleanLine(d, 64))
		}
		v.Detectors = strings.Join(ds, ", ")
	}
	for _, k := range sortedKeys(r.Settings.Values) {
		v.Values = append(v.Values, kv{cleanLine(k, 64), cleanLine(r.Settings.Values[k], 200)})
	}
	return v
}
