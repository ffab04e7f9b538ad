package render

import (
	"strings"
	"testing"
)

// TestTunneledSegments checks that the HTML report's capture box, the
// Markdown capture health and the summaries' closing line say how many TCP
// segments came out of which tunnel, escaped like any other report string.
func TestTunneledSegments(t *testing.T) {
	r := cleanReport(t)
	r.Captures[0].Decode.Tunneled = map[string]int64{"VXLAN": 26000, "GRE": 3, "<b>x</b>": 1}
	h, md, txt := renderAll(t, r)
	if !strings.Contains(strings.Join(strings.Fields(txt.String()), " "), "TCP segments out of tunnels: 1 in <b>x</b>, 3 in GRE, 26,000 in VXLAN.") {
		t.Errorf("the text summary's last line lacks the tunnels:\n%s", txt.String())
	}
	want := "<tr><th>out of tunnels</th><td>1 in &lt;b&gt;x&lt;/b&gt;, 3 in GRE, 26,000 in VXLAN</td></tr>"
	if !strings.Contains(h.String(), want) {
		t.Errorf("the HTML report lacks %q", want)
	}
	if strings.Contains(h.String(), "<b>x</b>") {
		t.Error("a tunnel name reached the HTML unescaped")
	}
	if !strings.Contains(md.String(), " in GRE, 26,000 in VXLAN) |") {
		t.Errorf("the Markdown capture health lacks the tunnels:\n%s", md.String())
	}
	r.Captures[0].Decode.Tunneled = nil
	h.Reset()
	if err := WriteHTML(h, r); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(h.String(), "out of tunnels") {
		t.Error("a capture without tunnels gets the row")
	}
}
