package cli

import (
	"fmt"
	"github.com/pcapsleuth/pcapsleuth/detectors"
	"io"
	"strings"
	"sync"
	"time"
)

// Progress draws a one-line progress bar on a terminal while captures are
// read: bytes read of the total, packets, rate and the time left. Bytes are
// those of the input files as stored (for a gzip or zstd capture, the
// compressed offset), so the estimate follows the file sizes.
//
// It is safe for concurrent use: parallel analyses report to one bar. A nil
// *Progress draws nothing; commands create one only when standard error is a
// terminal and --quiet is not given.
type Progress struct {
	w   io.Writer
	now func() time.Time

	mu        sync.Mutex
	total     int64 // bytes of all inputs; 0 = unknown (standard input)
	files     int
	filesDone int
	bytes     map[string]int64
	frames    map[string]int64
	start     time.Time
	last      time.Time
	drawn     bool
}

// progressEvery is the shortest time between two redraws.
const progressEvery = 150 * time.Millisecond

// NewProgress returns a bar drawing on w for files inputs of totalBytes
// bytes together (0 when unknown); now is the wall clock.
func NewProgress(w io.Writer, now func() time.Time, totalBytes int64, files int) *Progress {
	t := now()
	return &Progress{w: w, now: now, total: totalBytes, files: files,
		bytes: map[string]int64{}, frames: map[string]int64{}, start: t}
}

// Func returns the callback for analysis.Options.Progress, or nil when p is
// nil (no bar).
func (p *Progress) Func() func(path string, bytesRead, frames int64) {
	if p == nil {
		return nil
	}
	return p.Update
}

// Update records that path has consumed bytesRead bytes and frames frames so
// far, and redraws at most every 150 ms.
func (p *Progress) Update(path string, bytesRead, frames int64) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.bytes[path] = bytesRead
	p.frames[path] = frames
	now := p.now()
	if p.drawn && now.Sub(p.last) < progressEvery {
		return
	}
	p.last = now
	p.draw(now)
}

// FileDone counts one more finished input.
func (p *Progress) FileDone() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.filesDone++
}

// Clear erases the bar, so that messages and the final output start on a
// clean line. The bar comes back with the next Update.
func (p *Progress) Clear() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.drawn = false
	}
}

// Line returns the text of the bar as it would be drawn now (for tests).
func (p *Progress) Line() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.line(p.now())
}

func (p *Progress) draw(now time.Time) {
	fmt.Fprint(p.w, "\r"+p.line(now)+"\x1b[K")
	p.drawn = true
}

func (p *Progress) line(now time.Time) string {
	var done, frames int64
	for _, b := range p.bytes {
		done += b
	}
	for _, f := range p.frames {
		frames += f
	}
	elapsed := now.Sub(p.start).Seconds()
	var b strings.Builder
	if p.total > 0 {
		frac := float64(done) / float64(p.total)
		if frac > 1 {
			frac = 1
		}
		const width = 24
		n := int(frac * width)
		fmt.Fprintf(&b, "%3.0f%% [%s%s] %s / %s", frac*100, strings.Repeat("=", n), strings.Repeat(" ", width-n),
			Bytes(done), Bytes(p.total))
	} else {
		b.WriteString(Bytes(done))
	}
	fmt.Fprintf(&b, "  %s packets", Count(frames))
	if elapsed > 0.2 {
		rate := float64(done) / elapsed
		fmt.Fprintf(&b, "  %s/s", Bytes(int64(rate)))
		if p.total > 0 && rate > 0 && done < p.total {
			left := time.Duration(float64(p.total-done) / rate * float64(time.Second))
			fmt.Fprintf(&b, "  ETA %s", clock(left))
		}
	}
	if p.files > 1 {
		fmt.Fprintf(&b, "  (%d/%d files)", p.filesDone, p.files)
	}
	return b.String()
}

// Bytes formats a byte count for people: 812 B, 12.3 kB, 4.1 MB, 2.0 GB.
func Bytes(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v := float64(n)
	for _, u := range []string{"kB", "MB", "GB", "TB"} {
		v /= unit
		if v < unit || u == "TB" {
			return fmt.Sprintf("%.1f %s", v, u)
		}
	}
	return fmt.Sprintf("%d B", n)
}

// Count formats a count with thousands separators: 1,234,567
// (detectors.FormatCount, as the reports write them).
func Count(n int64) string { return detectors.FormatCount(n) }

// clock formats a duration as m:ss or h:mm:ss.
func clock(d time.Duration) string {
	s := int64(d.Round(time.Second) / time.Second)
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}
