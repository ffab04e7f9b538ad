package render

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// screenshotDir is where the browser test leaves its screenshots and PDFs
// for a person to look at: $PCAPSLEUTH_SCREENSHOTS, or a fixed directory
// under the system's temporary directory.
func screenshotDir(t *testing.T) string {
	dir := os.Getenv("PCAPSLEUTH_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "pcapsleuth-screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// pageFacts is what the browser test reads off a loaded report.
type pageFacts struct {
	Verdict     string
	Findings    int
	LadderPkts  int
	Charts      int
	ChartsInked []int // per chart: pixels that are not background
	MarkLines   int   // vertical marks ECharts drew
	Rows        int
	Count       string
	Pwned       bool
}

const factsJS = `(function(){
	// Charts are drawn lazily, near the viewport; printing draws them all.
	window.dispatchEvent(new Event('beforeprint'));
	window.dispatchEvent(new Event('afterprint'));
	var inked = [].map.call(document.querySelectorAll('.chart-box'), function(b){
		var c = b.querySelector('canvas'); if (!c || !c.width) return 0;
		var d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data, n = 0;
		for (var i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
		return n; });
	return {Verdict: document.querySelector('#verdict h1').textContent,
		Findings: document.querySelectorAll('article.finding').length,
		LadderPkts: document.querySelectorAll('svg.ladder g.pkt').length,
		Charts: document.querySelectorAll('.chart-box').length,
		ChartsInked: inked,
		MarkLines: [].reduce.call(document.querySelectorAll('.chart-box'), function(n, b){
			var c = echarts.getInstanceByDom(b); if (!c) return n;
			c._componentsViews.forEach(function(v){ if (v.type === 'markLine') v.group.traverse(function(e){ if (e.type === 'ec-line') n++; }); });
			return n; }, 0),
		Rows: document.querySelectorAll('#ft-body tr.row').length,
		Count: document.getElementById('ft-count').textContent,
		Pwned: typeof window.__pwned !== 'undefined'};
})()`

// TestBrowser loads reports in headless Chromium with the network off and
// checks that they run without a console error, CSP violation or request,
// show their findings, ladders, charts and connection table, and that the
// table's links and filters work. It saves screenshots (whole page and
// details) and a print-to-PDF of each report in screenshotDir.
func TestBrowser(t *testing.T) {
	path := findChromium()
	if path == "" {
		fmt.Fprintln(os.Stderr, "render: TestBrowser SKIPPED: no Chromium found; the HTML report was not checked in a browser")
		t.Skip("SKIPPED: no Chromium found (apt-get install -y chromium, or set PCAPSLEUTH_CHROMIUM); the HTML report was not checked in a browser")
	}
	if testing.Short() {
		t.Skip("SKIPPED in -short mode: the browser test takes ~20 s")
	}
	shots := screenshotDir(t)
	t.Logf("screenshots and PDFs in %s", shots)
	b := startBrowser(t, path)
	if err := b.openPage(1280, 900); err != nil {
		t.Fatal(err)
	}
	type want struct {
		findings, charts int
		ladders          bool
		rows             int
		marks            int
	}
	cases := []struct {
		name string
		r    *Report
		want want
	}{
		{"write-after-fin", writeAfterFINReport(t), want{3, 2, true, 6, 2}},
		{"healthcheck-close-wait", closeWaitReport(t), want{2, 1, true, 25, 0}},
		{"clean", cleanReport(t), want{0, 0, false, 1, 0}},
		{"hostile", hostileReport(t), want{1, 2, true, 3, 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(shots, tc.name+".html")
			writeReportFile(t, file, tc.r)
			problems, err := b.navigate("file://"+file, 300*time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range problems {
				t.Errorf("%s: %s", p.Kind, p.Text)
			}
			var f pageFacts
			if err := b.eval(factsJS, &f); err != nil {
				t.Fatal(err)
			}
			if f.Findings != tc.want.findings {
				t.Errorf("%d findings shown, want %d", f.Findings, tc.want.findings)
			}
			if tc.want.ladders != (f.LadderPkts > 0) {
				t.Errorf("%d ladder packets drawn", f.LadderPkts)
			}
			if f.Charts != tc.want.charts || len(f.ChartsInked) != f.Charts {
				t.Errorf("%d charts (%d drawn), want %d", f.Charts, len(f.ChartsInked), tc.want.charts)
			}
			if f.MarkLines != tc.want.marks {
				t.Errorf("%d chart marks drawn, want %d", f.MarkLines, tc.want.marks)
			}
			for i, n := range f.ChartsInked {
				if n < 2000 {
					t.Errorf("chart %d looks empty: %d pixels drawn", i+1, n)
				}
			}
			if f.Rows != tc.want.rows {
				t.Errorf("connection table shows %d rows (%q), want %d", f.Rows, f.Count, tc.want.rows)
			}
			if f.Pwned {
				t.Error("a hostile string ran as script")
			}
			if tc.name == "clean" && !strings.HasPrefix(f.Verdict, "No problems found") {
				t.Errorf("verdict %q", f.Verdict)
			}
			if f.Charts > 0 {
				// Hovering a chart shows its tooltip without breaking the CSP
				// (an HTML tooltip would need inline style attributes).
				var pt struct{ X, Y float64 }
				err := b.eval(`(function(){var c=document.querySelector('.chart-box'); c.scrollIntoView({block:'center'});
					var r=c.getBoundingClientRect(); return {X:r.left+r.width*0.5, Y:r.top+r.height*0.5};})()`, &pt)
				if err != nil {
					t.Fatal(err)
				}
				for _, dx := range []float64{-120, -60, 0, 60, 120} {
					b.call("Input.dispatchMouseEvent", map[string]any{"type": "mouseMoved", "x": pt.X + dx, "y": pt.Y}, nil)
					time.Sleep(60 * time.Millisecond)
				}
				// and showing every chart's first tooltip programmatically
				if err := b.eval(`[].forEach.call(document.querySelectorAll('.chart-box'), function(box){
					var c = echarts.getInstanceByDom(box); if (c) c.dispatchAction({type: 'showTip', seriesIndex: 0, dataIndex: 0}); })`, nil); err != nil {
					t.Error(err)
				}
				time.Sleep(200 * time.Millisecond)
				b.eval(`window.scrollTo(0,0)`, nil)
			}
			save(t, b, nil, filepath.Join(shots, tc.name+".png"))
			if f.LadderPkts > 0 {
				save(t, b, mustRect(t, b, "figure.ladder-fig"), filepath.Join(shots, tc.name+"-ladder.png"))
			}
			if f.Charts > 0 {
				save(t, b, mustRect(t, b, "#charts"), filepath.Join(shots, tc.name+"-charts.png"))
			}
			if pdf, err := b.printPDF(); err != nil {
				t.Errorf("print: %v", err)
			} else if err := os.WriteFile(filepath.Join(shots, tc.name+".pdf"), pdf, 0o644); err != nil {
				t.Error(err)
			}
			for _, p := range b.problems() {
				t.Errorf("after load: %s: %s", p.Kind, p.Text)
			}
		})
	}

	t.Run("table links and filters", func(t *testing.T) {
		file := filepath.Join(shots, "healthcheck-close-wait.html")
		if _, err := b.navigate("file://"+file+"#flow-17", 300*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		var got struct {
			Target, Detail bool
			Filter         string
		}
		err := b.eval(`(function(){var tr=document.getElementById('flow-17');
			var d=tr&&tr.nextElementSibling; return {Target: !!tr && tr.classList.contains('target'),
			Detail: !!d && d.classList.contains('detail'),
			Filter: d ? d.querySelector('code.dfilter').textContent : ''};})()`, &got)
		if err != nil {
			t.Fatal(err)
		}
		if !got.Target || !got.Detail || got.Filter != "ip.addr==10.0.5.9 && tcp.port==52016 && ip.addr==10.0.7.2 && tcp.port==9090" {
			t.Errorf("#flow-17 opened %+v", got)
		}
		save(t, b, mustRect(t, b, "#flows"), filepath.Join(shots, "healthcheck-close-wait-table.png"))
		var rows int
		err = b.eval(`(function(){var s=document.getElementById('ft-state');
			s.value=String([].map.call(s.options,function(o){return o.text}).indexOf('CLOSE_WAIT')-1);
			s.dispatchEvent(new Event('change'));
			return document.querySelectorAll('#ft-body tr.row').length;})()`, &rows)
		if err != nil {
			t.Fatal(err)
		}
		if rows != 20 {
			t.Errorf("state filter CLOSE_WAIT shows %d rows, want 20", rows)
		}
		for _, p := range b.problems() {
			t.Errorf("%s: %s", p.Kind, p.Text)
		}
	})

	t.Run("100k connections", func(t *testing.T) {
		file := filepath.Join(shots, "flood-100k.html")
		writeReportFile(t, file, floodReport(t, 100_000))
		start := time.Now()
		problems, err := b.navigate("file://"+file, 100*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		load := time.Since(start)
		for _, p := range problems {
			t.Errorf("%s: %s", p.Kind, p.Text)
		}
		var f pageFacts
		if err := b.eval(factsJS, &f); err != nil {
			t.Fatal(err)
		}
		// Sorting and filtering all rows work on the whole table (how long
		// they take is logged, not asserted: speed is for benchmarks).
		var ms float64
		if err := b.eval(`(function(){var t=performance.now();
			document.querySelector('th[data-sort="6"]').click();
			var i=document.getElementById('ft-filter'); i.value='10.0.1'; i.dispatchEvent(new Event('input'));
			return performance.now()-t;})()`, &ms); err != nil {
			t.Fatal(err)
		}
		// The filter waits for typing to pause (150 ms), then runs over
		// every row: wait for the count to change, however busy the machine.
		var filtered pageFacts
		for deadline := time.Now().Add(60 * time.Second); ; {
			if err := b.eval(factsJS, &filtered); err != nil {
				t.Fatal(err)
			}
			if filtered.Count != f.Count || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Logf("100k connections: loaded in %v, sorted in %.0f ms; %s; filtered: %s", load.Round(time.Millisecond), ms, f.Count, filtered.Count)
		if f.Rows != 100 || !strings.HasPrefix(f.Count, "100,000 of 100,000") {
			t.Errorf("table shows %d rows: %q", f.Rows, f.Count)
		}
		if strings.HasPrefix(filtered.Count, "100,000 of") || !strings.HasSuffix(filtered.Count, "of 100,000 connections") || filtered.Rows != 100 {
			t.Errorf("filter 10.0.1 leaves %d rows: %q", filtered.Rows, filtered.Count)
		}
		save(t, b, nil, filepath.Join(shots, "flood-100k.png"))
	})
}

func writeReportFile(t *testing.T, path string, r *Report) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteHTML(f, r); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func mustRect(t *testing.T, b *browser, sel string) *rect {
	t.Helper()
	r, err := b.elementRect(sel)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func save(t *testing.T, b *browser, clip *rect, path string) {
	t.Helper()
	png, err := b.screenshot(clip)
	if err != nil {
		t.Errorf("screenshot: %v", err)
		return
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Error(err)
	}
}
