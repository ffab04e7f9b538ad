package render

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/go-echarts/go-echarts/v2/charts"
	"github.com/go-echarts/go-echarts/v2/opts"

	"github.com/pcapsleuth/pcapsleuth/detectors"
	"github.com/pcapsleuth/pcapsleuth/flows"
)

// Charts are built with go-echarts, whose options JSON is embedded as data
// (<script type="application/json">, HTML-escaped by encoding/json) and
// handed to the inlined ECharts build by the report's own script. The
// go-echarts page templates, which load ECharts from a CDN, are never used.

// Chart bounds.
const (
	maxStateCharts   = 8    // endpoints drawn in the "ss view"
	maxChartPoints   = 4000 // points per series; more are thinned evenly
	maxChartSeries   = 12
	maxBarCategories = 30 // more distinct X values: bars on a value axis
	maxCharts        = 48
	maxChartBytes    = 1500000 // option JSON of all charts together
)

// chartPalette is the series colour cycle: sober, distinct, print-safe.
func chartPalette() []string {
	return []string{"#2f6fbd", "#d1453b", "#e0a020", "#3a9a5b", "#7b5ea7", "#6b7785", "#c2587a", "#2aa1a8"}
}

// stateColor gives each socket state the same colour in every chart.
func stateColor(s flows.State) string {
	switch s {
	case flows.StateEstablished:
		return "#3a9a5b"
	case flows.StateCloseWait:
		return "#d1453b"
	case flows.StateLastAck:
		return "#e07b39"
	case flows.StateFinWait1:
		return "#e0a020"
	case flows.StateFinWait2:
		return "#a67c00"
	case flows.StateTimeWait:
		return "#8a94a3"
	case flows.StateSynSent:
		return "#7b5ea7"
	case flows.StateSynReceived:
		return "#a07cc5"
	case flows.StateClosing:
		return "#c2587a"
	}
	return "#c0c4cc"
}

// chartView is one chart as the HTML template shows it.
type chartView struct {
	ID        string // element id of the chart's box
	Title     string
	Caption   string   // what to read in it
	FindingID string   // anchor of the finding it belongs to ("" for the ss view)
	Also      []string // anchors of other findings that offered the same chart
	Finding   string   // that finding's title
	Severity  string
}

// chartData is one chart's options as embedded for the report's script.
type chartData struct {
	ID     string          `json:"id"`
	Option json.RawMessage `json:"option"`
}

// chartSet is every chart of a report, in display order.
type chartSet struct {
	Views   []chartView
	Data    []chartData
	bytes   int
	Omitted int // charts left out to bound the report's size
}

func (cs *chartSet) add(v chartView, option map[string]any) error {
	b, err := json.Marshal(option)
	if err != nil {
		return fmt.Errorf("chart %s: %w", v.ID, err)
	}
	cs.Views = append(cs.Views, v)
	cs.Data = append(cs.Data, chartData{ID: v.ID, Option: b})
	cs.bytes += len(b)
	return nil
}

// buildCharts makes the ss-view charts and the charts of the first full
// findings that have something to show, within maxCharts and
// maxChartBytes.
func buildCharts(r *Report, findingIDs []string, full int) (*chartSet, error) {
	cs := &chartSet{}
	n := 0
	for i := range r.States {
		if n == maxStateCharts {
			break
		}
		s := &r.States[i]
		v, opt, ok := stateChart(s, n+1)
		if !ok {
			continue
		}
		n++
		if err := cs.add(v, opt); err != nil {
			return nil, err
		}
	}
	// A chart two findings share (the same data, e.g. the FIN-to-write
	// delays of write-after-fin-reset and -blackholed) is drawn once, under
	// the first finding, and listed by both.
	seen := map[string]int{}
	for i := range r.Findings {
		f := &r.Findings[i]
		if i >= full {
			break
		}
		for j := range f.Charts {
			c := &f.Charts[j]
			// Element ids come from positions, not from Chart.ID: detector
			// ids may be long, alike or contain anything.
			id := "chart-" + findingIDs[i] + "-" + strconv.Itoa(j+1)
			v, opt, ok := findingChart(id, c)
			if !ok {
				continue
			}
			v.FindingID = findingIDs[i]
			v.Finding = cleanLine(f.Title, 200)
			v.Severity = severityClass(f.Severity)
			b, err := json.Marshal(opt)
			if err != nil {
				return nil, fmt.Errorf("chart %s: %w", id, err)
			}
			key := v.Title + "\x00" + string(b)
			if k, dup := seen[key]; dup {
				cs.Views[k].Also = append(cs.Views[k].Also, findingIDs[i])
				continue
			}
			if len(cs.Views) >= maxCharts || cs.bytes+len(b) > maxChartBytes {
				cs.Omitted++
				continue
			}
			seen[key] = len(cs.Views)
			cs.Views = append(cs.Views, v)
			cs.Data = append(cs.Data, chartData{ID: id, Option: b})
			cs.bytes += len(b)
		}
	}
	return cs, nil
}

// stateChart draws one endpoint's sockets per state over time, one line per
// state that is ever non-zero (CLOSED and UNKNOWN are not sockets).
func stateChart(s *flows.StateSeries, n int) (chartView, map[string]any, bool) {
	if len(s.Counts) == 0 || s.BucketWidth <= 0 {
		return chartView{}, nil, false
	}
	var used []flows.State
	for st := flows.State(0); int(st) < flows.NumStates; st++ {
		if st == flows.StateClosed || st == flows.StateUnknown {
			continue
		}
		for _, c := range s.Counts {
			if c[st] > 0 {
				used = append(used, st)
				break
			}
		}
	}
	if len(used) == 0 {
		return chartView{}, nil, false
	}
	id := "chart-ss-" + strconv.Itoa(n)
	side := "server sockets of "
	if s.Side == flows.Orig {
		side = "client sockets "
	}
	endpoint := cleanLine(s.Endpoint, 120)
	v := chartView{
		ID:    id,
		Title: strings.ToUpper(side[:1]) + side[1:] + endpoint + " by state",
		Caption: plural(s.Conns, "connection", "connections") + ", sampled every " + fmtNS(s.BucketWidth) +
			" (UTC). A state that only climbs (CLOSE_WAIT) is a socket the application never closes.",
	}
	step := thinStep(len(s.Counts))
	line := charts.NewLine()
	line.SetGlobalOptions(commonOpts(id, "time (UTC)", "sockets", "time", true)...)
	var colors []string
	// The series' points (up to 1,024 per state) are written after the
	// option's round trip through maps (optionMap), as go-echarts would
	// have written them: the trip cost three JSON passes over each.
	for _, st := range used {
		line.AddSeries(st.String(), nil)
		colors = append(colors, stateColor(st))
	}
	line.Validate()
	opt, err := optionMap(line.JSON())
	if err != nil {
		return chartView{}, nil, false
	}
	finishOption(opt, colors, "axis")
	opt["useUTC"] = true
	for k, se := range seriesList(opt) {
		se["showSymbol"] = false
		se["step"] = "end"
		se["data"] = stateData(s, used[k], step)
	}
	return v, opt, true
}

// stateData is the points of state st in s, every step-th bucket, as
// go-echarts writes line data: [{"value":[ms,count]},...].
func stateData(s *flows.StateSeries, st flows.State, step int) json.RawMessage {
	b := make([]byte, 0, 2+(len(s.Counts)/step+1)*32)
	b = append(b, '[')
	for i := 0; i < len(s.Counts); i += step {
		if i > 0 {
			b = append(b, ',')
		}
		t := (s.BucketStart + int64(i+1)*s.BucketWidth) / 1e6
		b = append(b, `{"value":[`...)
		b = strconv.AppendInt(b, t, 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, int64(s.Counts[i][st]), 10)
		b = append(b, "]}"...)
	}
	return append(b, ']')
}

// findingChart converts a detector's chart into ECharts options.
func findingChart(id string, c *detectors.Chart) (chartView, map[string]any, bool) {
	var series []detectors.Series
	for _, s := range c.Series {
		if len(s.Points) > 0 {
			series = append(series, s)
		}
	}
	if len(series) == 0 {
		return chartView{}, nil, false
	}
	if len(series) > maxChartSeries {
		series = series[:maxChartSeries]
	}
	v := chartView{ID: id, Title: cleanLine(c.Title, 200)}
	if v.Title == "" {
		v.Title = "Chart"
	}
	total, shown := 0, 0
	for _, s := range series {
		total += len(s.Points)
		shown += (len(s.Points) + thinStep(len(s.Points)) - 1) / thinStep(len(s.Points))
	}
	if shown < total {
		v.Caption = fmtInt(int64(shown)) + " of " + fmtInt(int64(total)) + " points shown (evenly thinned)."
	}
	xl, yl := cleanLine(c.XLabel, 80), cleanLine(c.YLabel, 80)
	var raw map[string]any
	var cats []float64
	var labels []string
	switch c.Type {
	case detectors.ChartBar:
		raw, cats, labels = barChart(id, xl, yl, series)
	case detectors.ChartLine:
		ch := charts.NewLine()
		ch.SetGlobalOptions(commonOpts(id, xl, yl, "value", len(series) > 1)...)
		for _, s := range series {
			var data []opts.LineData
			step := thinStep(len(s.Points))
			for i := 0; i < len(s.Points); i += step {
				p := s.Points[i]
				data = append(data, opts.LineData{Name: cleanLine(p.Label, 120), Value: []float64{p.X, p.Y}})
			}
			ch.AddSeries(cleanLine(s.Name, 80), data)
		}
		ch.Validate()
		raw = ch.JSON()
	default: // scatter
		ch := charts.NewScatter()
		ch.SetGlobalOptions(commonOpts(id, xl, yl, "value", len(series) > 1)...)
		for _, s := range series {
			var data []opts.ScatterData
			step := thinStep(len(s.Points))
			for i := 0; i < len(s.Points); i += step {
				p := s.Points[i]
				data = append(data, opts.ScatterData{Name: cleanLine(p.Label, 120), Value: []float64{p.X, p.Y}})
			}
			ch.AddSeries(cleanLine(s.Name, 80), data)
		}
		ch.Validate()
		raw = ch.JSON()
	}
	opt, err := optionMap(raw)
	if err != nil {
		return chartView{}, nil, false
	}
	trigger := "item"
	if c.Type == detectors.ChartLine || c.Type == detectors.ChartBar {
		trigger = "axis"
	}
	finishOption(opt, chartPalette(), trigger)
	if c.Type == detectors.ChartLine {
		for _, se := range seriesList(opt) {
			se["showSymbol"] = len(series[0].Points) <= 200
		}
	}
	addMarks(opt, c.Marks, series, cats, labels)
	if c.Type == detectors.ChartBar {
		for _, se := range seriesList(opt) {
			if se["type"] == "bar" {
				se["barMaxWidth"] = 48
			}
		}
	}
	return v, opt, true
}

// barChart draws series over the sorted distinct X values as categories
// when they are few whole numbers (segment sizes in multiples of the MSS,
// resend numbers). Otherwise (times, durations) the bars stand on a value
// axis, so the distances between them stay true.
func barChart(id, xl, yl string, series []detectors.Series) (map[string]any, []float64, []string) {
	cats := barCategories(series)
	ch := charts.NewBar()
	if len(cats) > maxBarCategories || !allIntegers(cats) {
		ch.SetGlobalOptions(commonOpts(id, xl, yl, "value", len(series) > 1)...)
		for _, s := range series {
			var data []opts.BarData
			step := thinStep(len(s.Points))
			for i := 0; i < len(s.Points); i += step {
				p := s.Points[i]
				data = append(data, opts.BarData{Name: cleanLine(p.Label, 120), Value: []float64{p.X, p.Y}})
			}
			ch.AddSeries(cleanLine(s.Name, 80), data)
		}
		ch.Validate()
		return ch.JSON(), nil, nil
	}
	ch.SetGlobalOptions(commonOpts(id, xl, yl, "category", len(series) > 1)...)
	labels := categoryLabels(cats)
	ch.SetXAxis(labels)
	for _, s := range series {
		byX := map[float64]float64{}
		for _, p := range s.Points {
			byX[p.X] += p.Y
		}
		data := make([]opts.BarData, len(cats))
		for i, x := range cats {
			data[i] = opts.BarData{Value: byX[x]}
		}
		ch.AddSeries(cleanLine(s.Name, 80), data)
	}
	ch.Validate()
	return ch.JSON(), cats, labels
}

func allIntegers(xs []float64) bool {
	for _, x := range xs {
		if x != math.Trunc(x) {
			return false
		}
	}
	return true
}

// categoryLabels writes the category values with the fewest decimals that
// keep them apart (2.000, 2.001 and 2.003 must not all read "2").
func categoryLabels(xs []float64) []string {
	labels := make([]string, len(xs))
	for dec := 0; dec <= 6; dec++ {
		seen := make(map[string]bool, len(xs))
		distinct := true
		for i, x := range xs {
			labels[i] = strconv.FormatFloat(x, 'f', dec, 64)
			if seen[labels[i]] {
				distinct = false
			}
			seen[labels[i]] = true
		}
		if distinct {
			break
		}
	}
	return labels
}

// barCategories returns the distinct X values of the series, sorted, at
// most maxChartPoints of them.
func barCategories(series []detectors.Series) []float64 {
	var xs []float64
	for _, s := range series {
		for _, p := range s.Points {
			xs = append(xs, p.X)
		}
	}
	slices.Sort(xs)
	xs = slices.Compact(xs)
	if len(xs) > maxChartPoints {
		xs = xs[:maxChartPoints]
	}
	return xs
}

// commonOpts are the global options every chart shares: a deterministic
// ChartID, no animation (print and screenshots show the final picture),
// named axes.
func commonOpts(id, xLabel, yLabel, xType string, legend bool) []charts.GlobalOpts {
	return []charts.GlobalOpts{
		charts.WithInitializationOpts(opts.Initialization{ChartID: id}),
		charts.WithAnimation(false),
		charts.WithXAxisOpts(opts.XAxis{Type: xType, Name: xLabel, NameLocation: "middle", NameGap: 30}),
		charts.WithYAxisOpts(opts.YAxis{Type: "value", Name: yLabel, NameLocation: "middle", NameGap: 44}),
		charts.WithLegendOpts(opts.Legend{Show: opts.Bool(legend)}),
	}
}

// optionMap round-trips go-echarts' option object through JSON into plain
// maps, so it can be adjusted and marshaled deterministically (sorted keys).
func optionMap(obj map[string]any) (map[string]any, error) {
	b, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	return m, nil
}

// finishOption sets what go-echarts has no field for: the palette, the grid,
// a tooltip drawn on the canvas (richText: an HTML tooltip would need inline
// style attributes, which the report's Content-Security-Policy forbids), and
// drops empty components.
func finishOption(opt map[string]any, colors []string, trigger string) {
	opt["color"] = colors
	opt["animation"] = false
	opt["grid"] = map[string]any{"left": 64, "right": 24, "top": 36, "bottom": 44, "containLabel": false}
	opt["tooltip"] = map[string]any{"show": true, "trigger": trigger, "renderMode": "richText", "confine": true}
	if trigger == "axis" {
		opt["tooltip"].(map[string]any)["axisPointer"] = map[string]any{"type": "line"}
	}
	delete(opt, "toolbox")
	if t, ok := opt["title"].(map[string]any); ok && len(t) == 0 {
		delete(opt, "title")
	}
	if l, ok := opt["legend"].(map[string]any); ok {
		if l["show"] == true {
			opt["legend"] = map[string]any{"show": true, "top": 0, "right": 8, "type": "scroll"}
		} else {
			opt["legend"] = map[string]any{"show": false}
		}
	}
	for _, ax := range []string{"xAxis", "yAxis"} {
		if list, ok := opt[ax].([]any); ok {
			for _, a := range list {
				if am, ok := a.(map[string]any); ok {
					if am["type"] == "value" {
						am["scale"] = ax == "xAxis"
						if ax == "xAxis" {
							am["boundaryGap"] = []string{"4%", "4%"}
						}
					}
					am["nameTextStyle"] = map[string]any{"color": "#555"}
				}
			}
		}
	}
}

// seriesList returns the option's series as maps.
func seriesList(opt map[string]any) []map[string]any {
	list, _ := opt["series"].([]any)
	var out []map[string]any
	for _, s := range list {
		if m, ok := s.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

// addMarks draws the chart's marks as labelled dashed vertical lines. With
// categories (bar charts) a mark sits on the nearest category. Each line is
// given by its two end points, from the lowest to the highest Y of the data:
// ECharts 5.4 draws no "xAxis: X" markLine on a scaled value axis.
func addMarks(opt map[string]any, marks []detectors.Mark, series []detectors.Series, cats []float64, labels []string) {
	ss := seriesList(opt)
	if len(marks) == 0 || len(ss) == 0 {
		return
	}
	lo, hi := 0.0, 0.0
	for _, s := range series {
		for _, p := range s.Points {
			lo, hi = min(lo, p.Y), max(hi, p.Y)
		}
	}
	if hi == lo {
		hi = lo + 1
	}
	var data []any
	for _, m := range marks {
		var x any = m.X
		if cats != nil {
			best := 0
			for i, c := range cats {
				if abs(c-m.X) < abs(cats[best]-m.X) {
					best = i
				}
			}
			x = labels[best]
		}
		data = append(data, []any{
			map[string]any{"coord": []any{x, lo}, "name": cleanLine(m.Label, 80)},
			map[string]any{"coord": []any{x, hi}},
		})
	}
	if cats == nil {
		// The axis extent follows the data only: a hidden point at each
		// mark keeps the marks (a timeout just outside the data) in view.
		var pts []any
		for _, m := range marks {
			pts = append(pts, []any{m.X, lo})
		}
		var names []string
		for _, s := range ss {
			if n, ok := s["name"].(string); ok {
				names = append(names, n)
			}
		}
		if l, ok := opt["legend"].(map[string]any); ok {
			l["data"] = names
		}
		opt["series"] = append(opt["series"].([]any), map[string]any{
			"type": "scatter", "name": "", "data": pts, "symbolSize": 0, "silent": true,
			"tooltip": map[string]any{"show": false},
		})
	}
	ss[0]["markLine"] = map[string]any{
		"silent":    true,
		"symbol":    []string{"none", "none"},
		"label":     map[string]any{"formatter": "{b}", "position": "end", "color": "#333"},
		"lineStyle": map[string]any{"type": "dashed", "color": "#333", "width": 1.5},
		"data":      data,
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// thinStep is the stride that keeps at most maxChartPoints of n points.
func thinStep(n int) int {
	if n <= maxChartPoints {
		return 1
	}
	return (n + maxChartPoints - 1) / maxChartPoints
}

// safeID keeps the letters, digits and dashes of s (lower case) for an
// element id; an empty result becomes the fallback number.
func safeID(s string, fallback int) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-':
			b.WriteRune(r)
		case r == '_' || r == ' ' || r == '.':
			b.WriteByte('-')
		}
		if b.Len() >= 40 {
			break
		}
	}
	if b.Len() == 0 {
		return strconv.Itoa(fallback)
	}
	return b.String()
}
