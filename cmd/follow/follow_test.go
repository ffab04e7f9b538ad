package follow

import (
	"bufio"
	"bytes"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/pcapsleuth/pcapsleuth/cmd/cli"
	"github.com/pcapsleuth/pcapsleuth/cmd/config"
	"github.com/pcapsleuth/pcapsleuth/decode/capturetest"
	"github.com/pcapsleuth/pcapsleuth/flows"
)

func TestParseFlow(t *testing.T) {
	tests := []struct {
		in   string
		want string // "id N" or "a-b", "" for an error
	}{
		{"17", "id 17"},
		{"C0017", "id 17"},
		{"0", ""},
		{"10.0.0.1:40312-10.0.0.2:8080", "10.0.0.1:40312-10.0.0.2:8080"},
		{"[2001:db8::1]:40312-[2001:db8::2]:443", "[2001:db8::1]:40312-[2001:db8::2]:443"},
		{"10.0.0.1-10.0.0.2", ""},
		{"flow", ""},
	}
	for _, tt := range tests {
		s, err := parseFlow(tt.in)
		got := ""
		if err == nil {
			if s.id != 0 {
				got = "id " + strconv.FormatInt(s.id, 10)
			} else {
				got = s.a.String() + "-" + s.b.String()
			}
		}
		if got != tt.want {
			t.Errorf("parseFlow(%q) = %q (%v), want %q", tt.in, got, err, tt.want)
		}
	}
}

func itoa(n int64) string {
	return strings.TrimSpace(strings.Repeat(" ", 0)) + string(rune('0'+n/10)) + string(rune('0'+n%10))
}

func TestAssembler(t *testing.T) {
	a := newAssembler(1000)
	a.add(1, flows.Orig, 1, []byte("GET / "), 6)
	a.add(1, flows.Orig, 13, []byte("world"), 5) // out of order: waits for 7..12
	a.add(1, flows.Orig, 7, []byte("hello "), 6) // fills the hole
	a.add(1, flows.Orig, 7, []byte("hello "), 6) // a retransmission: once
	a.add(1, flows.Resp, 1, []byte("200 "), 4)
	a.add(1, flows.Resp, 5, []byte("ab"), 10)    // cut by the snaplen: 8 bytes not captured
	a.add(1, flows.Resp, 25, []byte("late"), 4)  // a hole of 10 bytes never filled
	a.add(1, flows.Orig, 16, []byte("ldXYZ"), 5) // overlaps 2 bytes already delivered
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	a.write(w, 1, "c", "s", "auto")
	w.Flush()
	want := `-- payload: client 20 bytes, server 10 bytes (in sequence order; retransmissions once)
>>> client c (17 bytes)
GET / hello world
<<< server s (6 bytes)
200 ab
<<< server s [8 bytes not captured (snaplen)]
>>> client c (3 bytes)
XYZ
<<< server s [10 bytes missing: never captured]
<<< server s (4 bytes)
late
`
	if buf.String() != want {
		t.Errorf("got\n%s\nwant\n%s", buf.String(), want)
	}
	// The byte budget.
	a = newAssembler(4)
	a.add(2, flows.Orig, 1, []byte("abcdefgh"), 8)
	buf.Reset()
	a.write(w, 2, "c", "s", "hex")
	w.Flush()
	if !strings.Contains(buf.String(), "00000000  61 62 63 64") || !strings.Contains(buf.String(), "-- 4 more payload bytes not shown (--max-bytes 4)") {
		t.Errorf("hex/budget:\n%s", buf.String())
	}
}

const script = `
client 10.0.0.1:40000
server 10.0.0.2:8080
0.000 C>S SYN mss=1460 ws=7
0.001 S>C SYN,ACK mss=1460 ws=7
0.002 C>S ACK
0.010 C>S PSH,ACK data="GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
0.020 S>C PSH,ACK data="HTTP/1.1 200 OK\r\n\r\n"
0.030 S>C PSH,ACK data="body" lost
0.230 S>C PSH,ACK retrans
0.300 C>S FIN,ACK
0.301 S>C FIN,ACK
0.302 C>S ACK
conn other client 10.0.0.3:50000 server 10.0.0.2:8080
1.000 C>S SYN
1.001 S>C RST,ACK
`

func TestRun(t *testing.T) {
	path := capturetest.WriteFile(t, t.TempDir(), "f.pcap", script)
	run := func(flow string, mod func(o *Options)) (string, error) {
		var out, errb bytes.Buffer
		o := &Options{IO: cli.Streams{Out: &out, Err: &errb}, Inputs: []string{path}, Flow: flow, Payload: "auto",
			MaxBytes: 1 << 16, Packets: true, Settings: config.New()}
		if mod != nil {
			mod(o)
		}
		err := Run(o)
		return out.String(), err
	}
	out, err := run("1", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"connection 1: 10.0.0.1:40000 → 10.0.0.2:8080 (client from its SYN)",
		"retransmission",
		"-- 10 packets",
		">>> client 10.0.0.1:40000 (28 bytes)\nGET /a HTTP/1.1\nHost: x\n",
		"<<< server 10.0.0.2:8080 (23 bytes)\nHTTP/1.1 200 OK\n\nbody\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("follow 1 lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "10.0.0.3") {
		t.Error("another connection's packets were printed")
	}
	out, err = run("10.0.0.2:8080-10.0.0.3:50000", func(o *Options) { o.Payload = "none" })
	if err != nil || !strings.Contains(out, "connection 2: 10.0.0.3:50000 → 10.0.0.2:8080") || strings.Contains(out, "payload") {
		t.Errorf("by endpoints: %v\n%s", err, out)
	}
	_, err = run("9", func(o *Options) { o.Settings.Filter.Ports = []string{"8080"} })
	var ee *cli.ExitError
	if !errors.As(err, &ee) || ee.Code != cli.ExitUsage || !strings.Contains(err.Error(), "no connection 9") || !strings.Contains(err.Error(), "port 8080") {
		t.Errorf("unknown flow: %v", err)
	}
	// The memory flags are follow's too (package memory).
	if _, err = run("1", func(o *Options) { o.Memory.Limit = "lots" }); !errors.As(err, &ee) || ee.Code != cli.ExitUsage || !strings.Contains(err.Error(), "--memory-limit") {
		t.Errorf("--memory-limit lots: %v", err)
	}
}
