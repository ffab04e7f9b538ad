package render

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// A minimal Chrome DevTools Protocol client over --remote-debugging-pipe
// (commands on fd 3, replies and events on fd 4, NUL-separated JSON): enough
// to load a page with the network off, collect console errors and take
// screenshots, with no WebSocket and no new dependency.

// findChromium returns the path of a Chromium-like browser, or "".
func findChromium() string {
	if p := os.Getenv("PCAPSLEUTH_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

type cdpMessage struct {
	ID        int64           `json:"id,omitempty"`
	Method    string          `json:"method,omitempty"`
	Params    json.RawMessage `json:"params,omitempty"`
	Result    json.RawMessage `json:"result,omitempty"`
	Error     *cdpError       `json:"error,omitempty"`
	SessionID string          `json:"sessionId,omitempty"`
}

type cdpError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// browser is one headless Chromium driven over a pipe.
type browser struct {
	t       testing.TB
	cmd     *exec.Cmd
	in      *os.File // our end of fd 3
	out     *os.File // our end of fd 4
	mu      sync.Mutex
	nextID  int64
	pending map[int64]chan cdpMessage
	events  chan cdpMessage
	session string
	done    chan struct{}
	stderr  strings.Builder
}

// startBrowser launches Chromium with the network disabled.
func startBrowser(t testing.TB, path string) *browser {
	t.Helper()
	cmdR, cmdW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	resR, resW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	b := &browser{t: t, in: cmdW, out: resR, pending: map[int64]chan cdpMessage{},
		events: make(chan cdpMessage, 1024), done: make(chan struct{})}
	b.cmd = exec.Command(path,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--no-default-browser-check",
		"--disable-extensions", "--disable-default-apps", "--mute-audio", "--hide-scrollbars",
		"--host-resolver-rules=MAP * ~NOTFOUND", // no name resolves: nothing can be fetched
		"--user-data-dir="+t.TempDir(),
		"--remote-debugging-pipe", "about:blank")
	b.cmd.ExtraFiles = []*os.File{cmdR, resW}
	b.cmd.Stderr = &lockedWriter{b: &b.stderr, mu: &b.mu}
	if err := b.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", path, err)
	}
	cmdR.Close()
	resW.Close()
	go b.readLoop()
	t.Cleanup(b.close)
	return b
}

type lockedWriter struct {
	b  *strings.Builder
	mu *sync.Mutex
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.b.Len() < 1<<20 {
		w.b.Write(p)
	}
	return len(p), nil
}

func (b *browser) close() {
	b.in.Close()
	select {
	case <-b.done:
	case <-time.After(3 * time.Second):
	}
	if b.cmd.Process != nil {
		b.cmd.Process.Kill()
	}
	b.cmd.Wait()
	b.out.Close()
}

func (b *browser) readLoop() {
	defer close(b.done)
	r := bufio.NewReaderSize(b.out, 1<<20)
	for {
		raw, err := r.ReadBytes(0)
		if err != nil {
			return
		}
		var m cdpMessage
		if err := json.Unmarshal(raw[:len(raw)-1], &m); err != nil {
			continue
		}
		if m.ID != 0 {
			b.mu.Lock()
			ch := b.pending[m.ID]
			delete(b.pending, m.ID)
			b.mu.Unlock()
			if ch != nil {
				ch <- m
			}
			continue
		}
		select {
		case b.events <- m:
		default: // drop events nobody reads
		}
	}
}

// call sends a command (to the attached page unless browserLevel) and waits
// for its result.
func (b *browser) call(method string, params any, result any) error {
	return b.callSession(b.session, method, params, result)
}

func (b *browser) callSession(session, method string, params any, result any) error {
	b.mu.Lock()
	b.nextID++
	id := b.nextID
	ch := make(chan cdpMessage, 1)
	b.pending[id] = ch
	b.mu.Unlock()
	p, err := json.Marshal(params)
	if err != nil {
		return err
	}
	if params == nil {
		p = []byte("{}")
	}
	msg, _ := json.Marshal(cdpMessage{ID: id, Method: method, Params: p, SessionID: session})
	if _, err := b.in.Write(append(msg, 0)); err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	select {
	case m := <-ch:
		if m.Error != nil {
			return fmt.Errorf("%s: %s", method, m.Error.Message)
		}
		if result != nil && len(m.Result) > 0 {
			return json.Unmarshal(m.Result, result)
		}
		return nil
	case <-time.After(60 * time.Second):
		return fmt.Errorf("%s: no answer in 60 s", method)
	case <-b.done:
		return fmt.Errorf("%s: browser exited: %s", method, b.stderrTail())
	}
}

func (b *browser) stderrTail() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.stderr.String()
	if len(s) > 2000 {
		s = s[len(s)-2000:]
	}
	return s
}

// openPage creates a tab, attaches to it, turns the network off and enables
// the domains that report console messages and errors.
func (b *browser) openPage(width, height int) error {
	var tgt struct{ TargetID string }
	if err := b.callSession("", "Target.createTarget", map[string]any{"url": "about:blank"}, &tgt); err != nil {
		return err
	}
	var att struct{ SessionID string }
	if err := b.callSession("", "Target.attachToTarget", map[string]any{"targetId": tgt.TargetID, "flatten": true}, &att); err != nil {
		return err
	}
	b.session = att.SessionID
	for _, m := range []string{"Page.enable", "Runtime.enable", "Log.enable", "Network.enable"} {
		if err := b.call(m, nil, nil); err != nil {
			return err
		}
	}
	if err := b.call("Network.emulateNetworkConditions", map[string]any{
		"offline": true, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1}, nil); err != nil {
		return err
	}
	return b.call("Emulation.setDeviceMetricsOverride", map[string]any{
		"width": width, "height": height, "deviceScaleFactor": 1, "mobile": false}, nil)
}

// pageProblem is a console error, an uncaught exception, a blocked request
// or a CSP violation seen while the page ran.
type pageProblem struct{ Kind, Text string }

// navigate loads url and waits for the load event; it returns the problems
// reported until then (and until settle after it).
func (b *browser) navigate(url string, settle time.Duration) ([]pageProblem, error) {
	b.drain()
	if err := b.call("Page.navigate", map[string]any{"url": url}, nil); err != nil {
		return nil, err
	}
	var problems []pageProblem
	deadline := time.After(60 * time.Second)
	loaded := false
	var settleC <-chan time.Time
	for {
		select {
		case m := <-b.events:
			if p, ok := problemOf(m); ok {
				problems = append(problems, p)
			}
			if m.Method == "Page.loadEventFired" && !loaded {
				loaded = true
				settleC = time.After(settle)
			}
		case <-settleC:
			return problems, nil
		case <-deadline:
			return problems, errors.New("page did not load in 60 s")
		case <-b.done:
			return problems, fmt.Errorf("browser exited: %s", b.stderrTail())
		}
	}
}

// problems returns the problems reported since the last call.
func (b *browser) problems() []pageProblem {
	var out []pageProblem
	for {
		select {
		case m := <-b.events:
			if p, ok := problemOf(m); ok {
				out = append(out, p)
			}
		default:
			return out
		}
	}
}

func (b *browser) drain() {
	for {
		select {
		case <-b.events:
		default:
			return
		}
	}
}

func problemOf(m cdpMessage) (pageProblem, bool) {
	switch m.Method {
	case "Runtime.exceptionThrown":
		var p struct {
			ExceptionDetails struct {
				Text      string
				Exception struct{ Description string }
			}
		}
		json.Unmarshal(m.Params, &p)
		return pageProblem{"exception", p.ExceptionDetails.Text + " " + p.ExceptionDetails.Exception.Description}, true
	case "Runtime.consoleAPICalled":
		var p struct {
			Type string
			Args []struct {
				Value       any
				Description string
			}
		}
		json.Unmarshal(m.Params, &p)
		if p.Type != "error" && p.Type != "warning" && p.Type != "assert" {
			return pageProblem{}, false
		}
		var parts []string
		for _, a := range p.Args {
			if a.Value != nil {
				parts = append(parts, fmt.Sprint(a.Value))
			} else {
				parts = append(parts, a.Description)
			}
		}
		return pageProblem{"console." + p.Type, strings.Join(parts, " ")}, true
	case "Log.entryAdded":
		var p struct {
			Entry struct{ Source, Level, Text, URL string }
		}
		json.Unmarshal(m.Params, &p)
		if p.Entry.Level != "error" && p.Entry.Level != "warning" {
			return pageProblem{}, false
		}
		return pageProblem{"log." + p.Entry.Source + "." + p.Entry.Level, p.Entry.Text + " " + p.Entry.URL}, true
	case "Network.requestWillBeSent":
		var p struct {
			Request struct{ URL string }
		}
		json.Unmarshal(m.Params, &p)
		if u := p.Request.URL; !strings.HasPrefix(u, "file:") && !strings.HasPrefix(u, "data:") && u != "about:blank" {
			return pageProblem{"network", u}, true
		}
	}
	return pageProblem{}, false
}

// eval evaluates a JavaScript expression in the page and decodes its value.
func (b *browser) eval(expr string, out any) error {
	var res struct {
		Result struct {
			Value json.RawMessage
		}
		ExceptionDetails *struct{ Text string }
	}
	if err := b.call("Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true, "awaitPromise": true}, &res); err != nil {
		return err
	}
	if res.ExceptionDetails != nil {
		return fmt.Errorf("evaluate %q: %s", expr, res.ExceptionDetails.Text)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(res.Result.Value, out)
}

// rect is a page region in CSS pixels.
type rect struct{ X, Y, Width, Height float64 }

// screenshot captures a region of the page (nil: the whole page) as PNG.
func (b *browser) screenshot(clip *rect) ([]byte, error) {
	if clip == nil {
		var size struct{ W, H float64 }
		if err := b.eval(`({W: document.documentElement.scrollWidth, H: document.documentElement.scrollHeight})`, &size); err != nil {
			return nil, err
		}
		clip = &rect{0, 0, size.W, size.H}
	}
	var res struct{ Data string }
	err := b.call("Page.captureScreenshot", map[string]any{
		"format": "png", "captureBeyondViewport": true,
		"clip": map[string]any{"x": clip.X, "y": clip.Y, "width": clip.Width, "height": clip.Height, "scale": 1},
	}, &res)
	if err != nil {
		return nil, err
	}
	return base64.StdEncoding.DecodeString(res.Data)
}

// elementRect returns the page-relative box of the first element matching
// selector.
func (b *browser) elementRect(selector string) (*rect, error) {
	var r *rect
	expr := `(function(){var e=document.querySelector(` + jsString(selector) + `); if(!e) return null;
		var b=e.getBoundingClientRect(); return {X:b.left+scrollX, Y:b.top+scrollY, Width:b.width, Height:b.height};})()`
	if err := b.eval(expr, &r); err != nil {
		return nil, err
	}
	if r == nil {
		return nil, fmt.Errorf("no element %s", selector)
	}
	return r, nil
}

// printPDF prints the page with its print stylesheet.
func (b *browser) printPDF() ([]byte, error) {
	var res struct{ Data string }
	if err := b.call("Page.printToPDF", map[string]any{"printBackground": true, "preferCSSPageSize": true}, &res); err != nil {
		return nil, err
	}
	return base64.StdEncoding.DecodeString(res.Data)
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
