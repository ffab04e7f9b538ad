package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// TestInterruptedPipe runs the documented live workflow, a capture piped
// into `analyze -`, and interrupts it as Ctrl-C does, with real signals
// (Linux: the test watches the pipe drain through FIONREAD). One SIGINT
// must not lose the tail the writer sends after it: the report covers the
// whole capture and the exit status is 0. Two SIGINTs stop the reading:
// the report covers what was read, says so, and the exit status is 130.
func TestInterruptedPipe(t *testing.T) {
	capture, err := os.ReadFile(filepath.Join("..", "..", "testdata", "captures", "demo.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	const head = 3000 // bytes written before the interrupts
	for _, c := range []struct {
		name       string
		interrupts int
		wantCode   int
		wantAll    bool
	}{{"one interrupt reads to the end", 1, 0, true}, {"two interrupts stop the reading", 2, 130, false}} {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "r.json")
			cmd := exec.Command(bin, "analyze", "-", "-o", out)
			rest := interruptPiped(t, cmd, capture, head, c.interrupts)
			if code := exitCodeOf(t, cmd.Wait()); code != c.wantCode {
				t.Fatalf("exit %d, want %d; stderr after the interrupts:\n%s", code, c.wantCode, strings.Join(rest, "\n"))
			}
			var rep struct {
				Captures []struct {
					Packets int64    `json:"packets"`
					Errors  []string `json:"errors"`
				} `json:"captures"`
			}
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatalf("no report after the interrupt: %v", err)
			}
			if err := json.Unmarshal(b, &rep); err != nil || len(rep.Captures) != 1 {
				t.Fatalf("report: %v", err)
			}
			got := rep.Captures[0]
			if c.wantAll {
				if got.Packets != 280 || len(got.Errors) != 0 {
					t.Errorf("%d packets (errors %q), want all 280 of demo.pcap", got.Packets, got.Errors)
				}
				return
			}
			if got.Packets >= 280 || len(got.Errors) != 1 || !strings.Contains(got.Errors[0], "interrupted (SIGINT)") {
				t.Errorf("%d packets, errors %q: want fewer than 280 and the interrupt named", got.Packets, got.Errors)
			}
			if !strings.Contains(strings.Join(rest, "\n"), "exit status 130") {
				t.Errorf("stderr does not say the run was cut short:\n%s", strings.Join(rest, "\n"))
			}
		})
	}
}

// interruptPiped starts cmd with capture piped into its standard input:
// it writes the first head bytes, waits until cmd read them, sends it n
// SIGINTs (each once cmd said it got it), writes the rest and closes the
// pipe. It returns cmd's standard error after the interrupts, to its end;
// the caller waits for cmd.
func interruptPiped(t *testing.T, cmd *exec.Cmd, capture []byte, head, n int) []string {
	t.Helper()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	cmd.Stdin = pr
	lines := startWithStderr(t, cmd)
	if _, err := pw.Write(capture[:head]); err != nil {
		t.Fatal(err)
	}
	// The signal handlers are in place before the first byte is read.
	waitDrained(t, pr)
	for i := 0; i < n; i++ {
		if err := cmd.Process.Signal(os.Interrupt); err != nil {
			t.Fatal(err)
		}
		waitLine(t, lines, "SIGINT")
	}
	if _, err := pw.Write(capture[head:]); err != nil && !errors.Is(err, syscall.EPIPE) {
		t.Fatal(err)
	}
	pw.Close()
	var rest []string
	for l := range lines {
		rest = append(rest, l)
	}
	return rest
}

// waitDrained waits until the child has read everything written to the
// pipe whose read end is r.
func waitDrained(t *testing.T, r *os.File) {
	t.Helper()
	waitPipe(t, r, "empty", func(have int32) bool { return have == 0 })
}

// waitFull waits until the pipe whose read end is r holds n bytes.
func waitFull(t *testing.T, r *os.File, n int32) {
	t.Helper()
	waitPipe(t, r, fmt.Sprintf("holding %d bytes", n), func(have int32) bool { return have >= n })
}

// waitPipe waits until ok accepts what the pipe whose read end is r holds
// (FIONREAD on the read end counts it).
func waitPipe(t *testing.T, r *os.File, what string, ok func(have int32) bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var have int32
		if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, r.Fd(), syscall.TIOCINQ, uintptr(unsafe.Pointer(&have))); errno != 0 {
			t.Fatalf("FIONREAD: %v", errno)
		}
		if ok(have) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the pipe holds %d bytes after 30 s, want it %s", have, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// startWithStderr starts cmd and returns its standard error's lines.
func startWithStderr(t *testing.T, cmd *exec.Cmd) <-chan string {
	t.Helper()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 16)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	return lines
}

// waitLine waits for a line of standard error that contains want.
func waitLine(t *testing.T, lines <-chan string, want string) {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("standard error ended before a line with %q", want)
			}
			if strings.Contains(l, want) {
				return
			}
		case <-timeout:
			t.Fatalf("no line with %q on standard error in 30 s", want)
		}
	}
}

// TestThirdInterruptQuitsWhileBlocked checks that the third Ctrl-C ends the
// process even while it is blocked writing its report to a standard output
// nobody reads (a pager that stopped, a full pipe): exit status 130 within
// seconds, not a process that ignores Ctrl-C until its reader drains it.
func TestThirdInterruptQuitsWhileBlocked(t *testing.T) {
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	// A one-page pipe: the JSON report of demo.pcap does not fit.
	const setPipeSize = 1031 // F_SETPIPE_SZ
	if _, _, errno := syscall.Syscall(syscall.SYS_FCNTL, pw.Fd(), setPipeSize, 4096); errno != 0 {
		t.Fatalf("F_SETPIPE_SZ: %v", errno)
	}
	cmd := exec.Command(bin, "analyze", filepath.Join("..", "..", "testdata", "captures", "demo.pcap"), "--format", "json", "-o", "-")
	cmd.Stdout = pw
	lines := startWithStderr(t, cmd)
	pw.Close() // the child holds the write end
	// Blocked: the pipe is full and nobody reads it.
	waitFull(t, pr, 4096)
	for i := 0; i < 3; i++ {
		if err := cmd.Process.Signal(os.Interrupt); err != nil {
			t.Fatal(err)
		}
		if i < 2 {
			waitLine(t, lines, "SIGINT")
		}
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 130 {
			t.Errorf("exit: %v, want status 130", err)
		}
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatal("still running 20 s after the third interrupt, blocked on its standard output")
	}
}

// TestInterruptedTableCommands runs flows, follow and diff on a capture
// piped in, as TestInterruptedPipe does analyze: one SIGINT reads the pipe
// to its end and prints the whole output (exit 0, or diff's 1); two stop
// the reading, and the command still prints what it found in the part it
// read, says so, and exits 130.
func TestInterruptedTableCommands(t *testing.T) {
	demo := filepath.Join("..", "..", "testdata", "captures", "demo.pcap")
	capture, err := os.ReadFile(demo)
	if err != nil {
		t.Fatal(err)
	}
	const head = 3000 // bytes written before the interrupts: two connections begin there
	for _, c := range []struct {
		name string
		args []string
		// whole and cut tell the output of the whole capture and of its
		// head apart.
		whole, cut func(out string) bool
		wholeCode  int
	}{
		{"flows", []string{"flows", "-"},
			func(out string) bool { return strings.Contains(out, "23 of 23 connections") },
			func(out string) bool { return strings.Contains(out, "\n1 ") && !strings.Contains(out, "23 of 23") }, 0},
		{"follow", []string{"follow", "-", "--flow", "2"},
			func(out string) bool { return strings.Contains(out, "-- 76 packets") },
			func(out string) bool {
				return strings.Contains(out, "connection 2:") && !strings.Contains(out, "-- 76 packets")
			}, 0},
		{"diff", []string{"diff", demo, "-"},
			func(out string) bool { return strings.Contains(out, "unchanged") && !strings.Contains(out, "appeared") },
			func(out string) bool { return strings.Contains(out, "disappeared") || strings.Contains(out, "changed") }, -1},
	} {
		for _, n := range []int{1, 2} {
			t.Run(fmt.Sprintf("%s/%d interrupts", c.name, n), func(t *testing.T) {
				cmd := exec.Command(bin, c.args...)
				var stdout strings.Builder
				cmd.Stdout = &stdout
				rest := interruptPiped(t, cmd, capture, head, n)
				code := exitCodeOf(t, cmd.Wait())
				stderr := strings.Join(rest, "\n")
				out := stdout.String() + stderr
				if n == 1 {
					if (c.wholeCode >= 0 && code != c.wholeCode) || code >= 128 || !c.whole(out) {
						t.Errorf("exit %d; want the whole capture's output:\n%s", code, out)
					}
					return
				}
				if code != 130 || !c.cut(out) || !strings.Contains(stderr, "exit status 130") {
					t.Errorf("exit %d, want 130, the head's output and the cut named:\n%s", code, out)
				}
			})
		}
	}
}
