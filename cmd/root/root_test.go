package root

import (
	"bytes"
	"strings"
	"testing"

	"github.com/pcapsleuth/pcapsleuth/cmd/cli"
)

func TestMain_ExitCodes(t *testing.T) {
	tests := []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"version"}, 0, ""},
		{[]string{"analyze"}, 2, "pcapsleuth: analyze needs a capture"},
		{[]string{"analyze", "x.pcap", "--bogus"}, 2, "pcapsleuth: unknown flag: --bogus (see pcapsleuth analyze --help)"},
		{[]string{"analyze", "/nonexistent/x.pcap"}, 2, "pcapsleuth: error: /nonexistent/x.pcap: no such file or folder"},
		{[]string{"frobnicate"}, 2, `pcapsleuth: unknown command "frobnicate" for "pcapsleuth"`},
		{[]string{"detectors", "--format", "json"}, 0, ""},
	}
	for _, tt := range tests {
		var out, errb bytes.Buffer
		code := Main(tt.args, cli.Streams{In: strings.NewReader(""), Out: &out, Err: &errb})
		if code != tt.code || !strings.Contains(errb.String(), tt.err) {
			t.Errorf("%v: exit %d, want %d; stderr %q, want %q", tt.args, code, tt.code, errb.String(), tt.err)
		}
	}
}
