package analyze

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"time"

	"github.com/pcapsleuth/pcapsleuth/cmd/batch"
	"github.com/pcapsleuth/pcapsleuth/cmd/cli"
	"github.com/pcapsleuth/pcapsleuth/cmd/internal/interrupt"
	"github.com/pcapsleuth/pcapsleuth/detectors"
	"github.com/pcapsleuth/pcapsleuth/render"
)

// runner runs the analyses of one `analyze` invocation.
type runner struct {
	opts     *Options
	failOn   detectors.Severity
	progress *cli.Progress
	stops    *interrupt.Handler // Ctrl-C and SIGTERM: stop reading, still report
	mu       sync.Mutex         // serializes standard error between workers
}

// writeFunc writes one analysis' report; it returns the file written ("" for
// standard output).
type writeFunc func(rep *render.Report, e *batch.Entry) (string, error)

// single analyzes one capture (or one --merge timeline) and writes its
// report to -o or standard output. problems are arguments that yielded
// nothing (reported, exit status 2).
func (r *runner) single(j *job, problems []job) error {
	format, err := outputFormat(r.opts.Output, r.opts.Format, "text")
	if err != nil {
		return cli.UsageError(err)
	}
	r.startProgress([]job{*j})
	e, aerr := r.analyze(j, func(rep *render.Report, e *batch.Entry) (string, error) {
		return r.opts.Output, r.writeTo(r.opts.Output, func(w io.Writer) error { return writeReport(w, format, rep, r.index([]batch.Entry{*e})) })
	})
	r.progress.Clear()
	entries := []batch.Entry{e}
	if aerr != nil && len(problems) > 0 {
		r.errorf("%v", aerr)
	}
	for i := range problems {
		pe, err := r.analyze(&problems[i], nil)
		r.errorf("%v", err)
		entries = append(entries, pe)
	}
	ix := r.index(entries)
	if err := r.extras(ix); err != nil {
		return err
	}
	if aerr != nil && len(problems) == 0 {
		return &cli.ExitError{Code: cli.ExitUsage, Err: aerr}
	}
	return cli.Exit(cli.ExitCode(ix.ExitStatus))
}

// toFolder analyzes every job in parallel, writes one report per job into
// the -o folder and the index files beside them.
func (r *runner) toFolder(jobs []job) error {
	dir := r.opts.Output
	format := r.opts.Format
	if format == "" {
		format = "html"
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return cli.UsageError(fmt.Errorf("-o %s: %w", dir, err))
	}
	entries := r.runAll(jobs, func(j *job) writeFunc {
		return func(rep *render.Report, e *batch.Entry) (string, error) {
			name := e.Name + extension(format)
			return name, r.writeTo(filepath.Join(dir, name), func(w io.Writer) error {
				return writeReport(w, format, rep, r.index([]batch.Entry{*e}))
			})
		}
	})
	ix := r.index(entries)
	code := cli.ExitCode(ix.ExitStatus)
	for _, f := range []struct {
		name  string
		write func(io.Writer, *batch.Index) error
	}{{"index.json", batch.WriteJSON}, {"index.html", batch.WriteHTML}, {"index.md", batch.WriteMarkdown}} {
		if err := r.writeTo(filepath.Join(dir, f.name), func(w io.Writer) error { return f.write(w, ix) }); err != nil {
			r.errorf("%v", err)
			code = cli.ExitUsage
		}
	}
	if err := r.extras(ix); err != nil {
		return err
	}
	if !r.opts.Quiet {
		r.printf("pcapsleuth: %s\npcapsleuth: reports and index.html in %s\n", batch.Headline(ix), dir)
	}
	return cli.Exit(code)
}

// summary analyzes every job in parallel and writes only the batch summary,
// to -o or standard output, in --format (text by default).
func (r *runner) summary(jobs []job) error {
	format, err := outputFormat(r.opts.Output, r.opts.Format, "text")
	if err != nil {
		return cli.UsageError(err)
	}
	entries := r.runAll(jobs, nil)
	ix := r.index(entries)
	code := cli.ExitCode(ix.ExitStatus)
	if err := r.writeTo(r.opts.Output, func(w io.Writer) error { return writeIndex(w, format, ix) }); err != nil {
		r.errorf("%v", err)
		code = cli.ExitUsage
	}
	if err := r.extras(ix); err != nil {
		return err
	}
	return cli.Exit(code)
}

// runAll runs the jobs on -j workers and returns their entries in job order.
// Each worker holds one analysis at a time and releases it (connection
// store, findings) as soon as its report is written, so memory is bounded by
// -j analyses.
func (r *runner) runAll(jobs []job, write func(*job) writeFunc) []batch.Entry {
	r.startProgress(jobs)
	entries := make([]batch.Entry, len(jobs))
	next := make(chan int)
	var wg sync.WaitGroup
	n := min(r.opts.Jobs, len(jobs))
	if n < 1 {
		n = 1
	}
	for w := 0; w < n; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if why, skip := r.stops.Skip(); skip {
					entries[i] = batch.NewSkippedEntry(jobs[i].name, jobs[i].paths(), why)
					r.progress.FileDone()
					continue
				}
				var wf writeFunc
				if write != nil {
					wf = write(&jobs[i])
				}
				var err error
				entries[i], err = r.analyze(&jobs[i], wf)
				if err != nil {
					r.errorf("%v", err)
				}
				r.progress.FileDone()
			}
		}()
	}
	for i := range jobs {
		next <- i
	}
	close(next)
	wg.Wait()
	r.progress.Clear()
	return entries
}

// analyze runs one job and, when write is set, writes its report. An error
// (an unreadable capture, a report that cannot be written) is recorded in
// the entry and returned, for the caller to print.
func (r *runner) analyze(j *job, write writeFunc) (batch.Entry, error) {
	if j.err != nil {
		return batch.NewErrorEntry(j.name, j.paths(), reason(j.err)), j.err
	}
	ao := r.opts.Settings.Options(j.paths())
	ao.Stdin = r.opts.IO.In
	ao.Version = r.opts.Version
	ao.Progress = r.progress.Func()
	ao.Stop = r.stops.Stop
	res, err := r.opts.Analyze(ao)
	if err != nil {
		err = cli.Explain(err)
		return batch.NewErrorEntry(j.name, j.paths(), reason(err)), err
	}
	defer res.Close()
	// The pass's connections are garbage now. Returning their memory to
	// the system before the report is built keeps the report's allocations
	// from landing in fresh pages on top of it: peak RSS is the pass's,
	// not the pass's plus the report's (about 20 ms on a large capture).
	if heapHeld() >= freeOSMemoryAbove {
		debug.FreeOSMemory()
	}
	rep := res.Report
	if stamp, ok := r.stamp(); ok {
		rep.GeneratedAt = stamp
	}
	r.opts.Settings.Annotate(rep)
	r.notes(rep)
	e := batch.NewEntry(j.name, j.paths(), rep, r.failOn)
	if write != nil {
		file, err := write(rep, &e)
		if err != nil {
			e.Status, e.Error = batch.StatusError, reason(err)
			return e, err
		}
		if file != "-" {
			e.Report = file
		}
	}
	return e, nil
}

// notes prints what a person should know about the inputs on standard
// error: why reading stopped early, and hints for captures that gave
// nothing to analyze.
func (r *runner) notes(rep *render.Report) {
	if r.opts.Quiet {
		return
	}
	filtered := r.opts.Settings.Compiled().String() != ""
	for _, c := range rep.Captures {
		for _, e := range c.Errors {
			r.printf("pcapsleuth: warning: %s: %s\n", c.Path, e)
		}
		switch {
		case c.Packets == 0 && len(c.Errors) == 0:
			r.printf("pcapsleuth: note: %s: the capture holds no packets; was tcpdump stopped before the first packet arrived, or did its capture filter match nothing?\n", c.Path)
		case c.TCPPackets == 0 && filtered:
			r.printf("pcapsleuth: note: %s: the filter (%s) kept none of its %s frames; list the connections with `pcapsleuth flows %s` to choose one\n",
				c.Path, r.opts.Settings.Compiled(), cli.Count(c.Packets), c.Path)
		case c.TCPPackets == 0 && c.Packets > 0:
			r.printf("pcapsleuth: note: %s: none of its %s frames is a TCP segment it could decode (pcapsleuth analyzes TCP only; the report's decode counts say what the frames were)\n",
				c.Path, cli.Count(c.Packets))
		}
	}
}

// index builds the batch index of entries.
func (r *runner) index(entries []batch.Entry) *batch.Index {
	ix := batch.NewIndex(render.Tool{Name: "pcapsleuth", Version: r.opts.Version}, entries)
	if stamp, ok := r.stamp(); ok {
		ix.GeneratedAt = stamp
	}
	ix.Merged = r.opts.Merge
	ix.FailOn = r.opts.FailOn
	ix.Filter = r.opts.Settings.Compiled().String()
	if code, cut := r.stops.ExitCode(); cut {
		ix.ExitStatus = int(code) // the process's, as documented
	}
	return ix
}

// extras writes --junit and --summary.
func (r *runner) extras(ix *batch.Index) error {
	for _, x := range []struct {
		path  string
		write func(io.Writer, *batch.Index) error
	}{{r.opts.JUnit, batch.WriteJUnit}, {r.opts.Summary, batch.WriteMarkdown}} {
		if x.path == "" {
			continue
		}
		if err := r.writeTo(x.path, func(w io.Writer) error { return x.write(w, ix) }); err != nil {
			return &cli.ExitError{Code: cli.ExitUsage, Err: err}
		}
	}
	return nil
}

func (r *runner) startProgress(jobs []job) {
	if !r.opts.Progress || r.opts.Quiet {
		return
	}
	var total int64
	files := 0
	for _, j := range jobs {
		for _, in := range j.inputs {
			if j.err == nil {
				if in.Size == 0 && in.Path != "-" {
					if fi, err := os.Stat(in.Path); err == nil {
						in.Size = fi.Size()
					}
				}
				total += in.Size
				files++
			}
		}
	}
	now := r.opts.Now
	if now == nil {
		now = time.Now
	}
	r.progress = cli.NewProgress(r.opts.IO.Err, now, total, files)
}

// printf writes to standard error, clearing the progress bar first.
func (r *runner) printf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.progress.Clear()
	fmt.Fprintf(r.opts.IO.Err, format, args...)
}

// say writes a message on standard error, even with --quiet (the
// interrupts' answers: the person pressed Ctrl-C and waits for one). It
// never waits for the lock: a report written to a standard output nobody
// reads holds it, and a third Ctrl-C must still quit.
func (r *runner) say(format string, args ...any) {
	if r.mu.TryLock() {
		defer r.mu.Unlock()
		r.progress.Clear()
	}
	fmt.Fprintf(r.opts.IO.Err, format, args...)
}

// errorf reports an error on standard error (always, even with --quiet).
func (r *runner) errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.progress.Clear()
	fmt.Fprintf(r.opts.IO.Err, "pcapsleuth: error: "+format+"\n", args...)
}

// writeTo writes to standard output ("" or "-") or atomically to a file.
func (r *runner) writeTo(path string, write func(io.Writer) error) error {
	if path == "" || path == "-" {
		r.mu.Lock()
		defer r.mu.Unlock()
		return write(r.opts.IO.Out)
	}
	return cli.WriteFile(path, write)
}

// writeReport writes one analysis' report in format; junit is written from
// the analysis' index entry.
func writeReport(w io.Writer, format string, rep *render.Report, ix *batch.Index) error {
	switch format {
	case "json":
		return render.WriteJSON(w, rep)
	case "html":
		return render.WriteHTML(w, rep)
	case "md":
		return render.WriteMarkdown(w, rep)
	case "junit":
		return batch.WriteJUnit(w, ix)
	}
	return render.WriteText(w, rep)
}

// writeIndex writes the batch summary in format.
func writeIndex(w io.Writer, format string, ix *batch.Index) error {
	switch format {
	case "json":
		return batch.WriteJSON(w, ix)
	case "html":
		return batch.WriteHTML(w, ix)
	case "md":
		return batch.WriteMarkdown(w, ix)
	case "junit":
		return batch.WriteJUnit(w, ix)
	}
	return batch.WriteText(w, ix)
}

// reason is an error's text without the file path the index shows beside it.
func reason(err error) string {
	var p batch.Problem
	if errors.As(err, &p) {
		return p.Err.Error()
	}
	return cli.Reason(err)
}

// stamp is the time written into reports: SOURCE_DATE_EPOCH when set (two
// runs on the same input then write the same bytes), else the clock.
func (r *runner) stamp() (string, bool) {
	if t, ok := cli.SourceDate(); ok {
		return t.Format(time.RFC3339), true
	}
	if r.opts.Now == nil {
		return "", false
	}
	return r.opts.Now().UTC().Format(time.RFC3339), true
}

// freeOSMemoryAbove is the heap held (see heapHeld) from which the memory
// of a finished pass is handed back before its report is built. Below it
// the report cannot add much to the peak, and the forced collection is the
// cost: a batch of small captures spent a tenth of its time in it.
const freeOSMemoryAbove = 32 << 20

// heapHeld is what the Go heap holds now: its objects, live or not yet
// collected, and the free pages the runtime keeps.
func heapHeld() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/heap/free:bytes"}}
	metrics.Read(s)
	var n uint64
	for _, v := range s {
		if v.Value.Kind() == metrics.KindUint64 {
			n += v.Value.Uint64()
		}
	}
	return n
}
