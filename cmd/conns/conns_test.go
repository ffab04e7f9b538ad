package conns

import (
	"bytes"
	"encoding/json"
	"errors"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/pcapsleuth/pcapsleuth/cmd/analysis"
	"github.com/pcapsleuth/pcapsleuth/cmd/cli"
	"github.com/pcapsleuth/pcapsleuth/cmd/config"
	"github.com/pcapsleuth/pcapsleuth/decode/capturetest"
	"github.com/pcapsleuth/pcapsleuth/render"
)

const script = `
conn a client 10.0.0.1:40000 server 10.0.0.2:8080
0.000 C>S SYN
0.001 S>C SYN,ACK
0.002 C>S ACK
0.010 C>S PSH,ACK data="GET /x HTTP/1.1\r\nHost: h\r\n\r\n"
0.100 C>S FIN,ACK
0.101 S>C ACK
conn b client 10.0.0.3:40001 server 10.0.0.4:443
1.000 C>S SYN
1.001 S>C SYN,ACK
1.002 C>S ACK
1.003 C>S ACK len=100
1.300 C>S ACK len=100 retrans
1.400 C>S FIN,ACK
1.401 S>C FIN,ACK
1.402 C>S ACK
`

func TestFlows(t *testing.T) {
	path := capturetest.WriteFile(t, t.TempDir(), "c.pcap", script)
	run := func(args ...string) (string, string, error) {
		var out, errb bytes.Buffer
		cmd := NewCmdFlows(cli.Streams{Out: &out, Err: &errb}, nil)
		cmd.SetArgs(append([]string{path}, args...))
		cmd.SilenceErrors, cmd.SilenceUsage = true, true
		err := cmd.Execute()
		return out.String(), errb.String(), err
	}
	out, errb, err := run()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "1   10.0.0.1:40000  10.0.0.2:8080") || !strings.Contains(out, "GET /x (Host: h)") || !strings.Contains(errb, "2 of 2 connections") {
		t.Errorf("table:\n%s%s", out, errb)
	}
	out, _, err = run("--state", "close-wait", "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	var cs []render.ConnSummary
	if err := json.Unmarshal([]byte(out), &cs); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(cs) != 1 || cs[0].ID != 1 || cs[0].ServerState != "CLOSE_WAIT" {
		t.Errorf("--state CLOSE_WAIT: %+v", cs)
	}
	out, _, _ = run("--min-retrans", "1", "--format", "json")
	if err := json.Unmarshal([]byte(out), &cs); err != nil || len(cs) != 1 || cs[0].ID != 2 {
		t.Errorf("--min-retrans: %v %+v", err, cs)
	}
	out, _, _ = run("--port", "443", "--format", "json")
	if err := json.Unmarshal([]byte(out), &cs); err != nil || len(cs) != 1 || cs[0].Server != "10.0.0.4:443" || cs[0].ID != 1 {
		t.Errorf("--port 443 (IDs follow the filter): %v %+v", err, cs)
	}
	if _, _, err := run("--state", "SLEEPY"); err == nil || !strings.Contains(err.Error(), "not a TCP state") {
		t.Errorf("bad state: %v", err)
	}
	if _, _, err := run("--finding", "nope"); err == nil {
		t.Error("bad finding name should fail")
	}
	// The memory flags are flows' too (package memory): a size is put in
	// force for the analysis, a bad one is a usage error.
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	if _, _, err := run("--memory-limit", "300MiB", "--huge-pages=false"); err != nil || debug.SetMemoryLimit(-1) != 300<<20 {
		t.Errorf("--memory-limit 300MiB: %v, limit %d", err, debug.SetMemoryLimit(-1))
	}
	var ee *cli.ExitError
	if _, _, err := run("--memory-limit", "lots"); !errors.As(err, &ee) || ee.Code != cli.ExitUsage {
		t.Errorf("--memory-limit lots: %v", err)
	}
	var o *Options
	cmd := NewCmdFlows(cli.Streams{Out: &bytes.Buffer{}, Err: &bytes.Buffer{}}, func(x *Options) error { o = x; return nil })
	cmd.SetArgs([]string{"a.pcap", "--limit", "5", "--finding", "close-wait-leak", "--state", "syn-recv"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if o.Limit != 5 || o.Findings[0] != "close-wait-leak" || o.States[0] != "SYN_RECEIVED" || o.Memory.Limit != "auto" || !o.Memory.HugePages {
		t.Errorf("options %+v", o)
	}
}

func TestFlowsUnreadable(t *testing.T) {
	o := &Options{IO: cli.Streams{Out: &bytes.Buffer{}, Err: &bytes.Buffer{}}, Now: time.Now, Analyze: analysis.Run,
		Inputs: []string{"/nonexistent/x.pcap"}}
	o.Settings = newSettings()
	err := Run(o)
	var ee *cli.ExitError
	if !errors.As(err, &ee) || ee.Code != cli.ExitUsage {
		t.Errorf("missing file: %v", err)
	}
}

func newSettings() *config.Settings { return config.New() }
