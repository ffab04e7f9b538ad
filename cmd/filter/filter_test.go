package filter

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/pcapsleuth/pcapsleuth/decode"
)

func pkt(src, dst string) *decode.Packet {
	return &decode.Packet{Src: netip.MustParseAddrPort(src), Dst: netip.MustParseAddrPort(dst)}
}

func TestExpr(t *testing.T) {
	p1 := pkt("10.0.0.1:40000", "10.0.0.2:8080") // client → server
	p2 := pkt("10.0.0.2:8080", "10.0.0.1:40000") // server → client
	p6 := pkt("[2001:db8::1]:5000", "[2001:db8::2]:443")
	p3 := pkt("192.168.1.7:1234", "172.16.0.9:80")
	tests := []struct {
		expr string
		want [4]bool // p1, p2, p6, p3
	}{
		{"host 10.0.0.1", [4]bool{true, true, false, false}},
		{"src host 10.0.0.1", [4]bool{true, false, false, false}},
		{"dst 10.0.0.1", [4]bool{false, true, false, false}},
		{"10.0.0.2", [4]bool{true, true, false, false}},
		{"port 8080", [4]bool{true, true, false, false}},
		{"dst port 8080", [4]bool{true, false, false, false}},
		{"tcp dst port 8080", [4]bool{true, false, false, false}},
		{"port 80 or 443", [4]bool{false, false, true, true}},
		{"port 80 or 443 or 8080", [4]bool{true, true, true, true}},
		{"portrange 8000-8100", [4]bool{true, true, false, false}},
		{"net 10.0.0.0/8", [4]bool{true, true, false, false}},
		{"net 192.168", [4]bool{false, false, false, true}},
		{"net 172.16.0.0 mask 255.255.0.0", [4]bool{false, false, false, true}},
		{"src net 2001:db8::/32", [4]bool{false, false, true, false}},
		{"ip6", [4]bool{false, false, true, false}},
		{"ip and not ip6", [4]bool{true, true, false, true}},
		{"ip6 host 2001:db8::2", [4]bool{false, false, true, false}},
		{"ip host 2001:db8::2", [4]bool{false, false, false, false}},
		{"tcp", [4]bool{true, true, true, true}},
		{"udp", [4]bool{false, false, false, false}},
		{"not udp port 53", [4]bool{true, true, true, true}},
		{"host 10.0.0.1 and (port 8080 or port 9090)", [4]bool{true, true, false, false}},
		{"! host 10.0.0.1 && port 80 || port 443", [4]bool{false, false, true, true}},
		{"src or dst host 10.0.0.2", [4]bool{true, true, false, false}},
		{"src and dst net 10.0.0.0/8", [4]bool{true, true, false, false}},
		{"not (src host 10.0.0.1 or src host 10.0.0.2)", [4]bool{false, false, true, true}},
		{"host ::ffff:10.0.0.1", [4]bool{true, true, false, false}},
	}
	for _, tt := range tests {
		m, err := parseExpr(tt.expr)
		if err != nil {
			t.Errorf("%q: %v", tt.expr, err)
			continue
		}
		got := [4]bool{m(p1), m(p2), m(p6), m(p3)}
		if got != tt.want {
			t.Errorf("%q: got %v, want %v", tt.expr, got, tt.want)
		}
	}
}

func TestExprErrors(t *testing.T) {
	tests := []struct{ expr, want string }{
		{"tcp[13] & 2 != 0", `byte-offset expressions such as tcp[13] are not supported`},
		{"host example.com", "never resolves names"},
		{"port http", "service names are not looked up"},
		{"port 70000", "want a number 0-65535"},
		{"host 10.0.0.1 and", "unexpected end"},
		{"(port 80", "missing )"},
		{"port 80)", `unexpected ")"`},
		{"ether host 00:11:22:33:44:55", `"ether" primitives are not supported`},
		{"vlan and port 80", `"vlan" primitives are not supported`},
		{"portrange 90-80", "want LOW-HIGH"},
		{"net 10.0.0.0/33", "not a CIDR prefix"},
		{"host", "missing value"},
		{"port and", `expected a value, got "and"`},
	}
	for _, tt := range tests {
		_, err := parseExpr(tt.expr)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: err %v, want %q", tt.expr, err, tt.want)
		}
		if err != nil && !strings.Contains(err.Error(), "supported:") {
			t.Errorf("%q: the error does not say what is supported: %v", tt.expr, err)
		}
	}
}

func TestSpec(t *testing.T) {
	base := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC).UnixNano()
	at := func(p *decode.Packet, sec float64) *decode.Packet {
		q := *p
		q.TS = base + int64(sec*1e9)
		return &q
	}
	p := pkt("10.0.0.1:40000", "10.0.0.2:8080")
	q := pkt("10.0.0.3:40000", "10.0.0.4:443")
	tests := []struct {
		name string
		spec Spec
		pkts []*decode.Packet
		want []bool
	}{
		{"flags are and-ed, values or-ed", Spec{Hosts: []string{"10.0.0.9", "10.0.0.1"}, Ports: []string{"8080"}},
			[]*decode.Packet{p, q}, []bool{true, false}},
		{"net flag", Spec{Nets: []string{"10.0.0.0/31"}}, []*decode.Packet{p, q}, []bool{true, false}},
		{"relative window counts from the first packet", Spec{Since: "+10s", Until: "+20s"},
			[]*decode.Packet{at(p, 0), at(p, 9.999), at(p, 10), at(p, 19.999), at(p, 20)}, []bool{false, false, true, true, false}},
		{"absolute window", Spec{Since: "2024-03-01T12:00:05Z", Until: "2024-03-01 12:00:06"},
			[]*decode.Packet{at(p, 4), at(p, 5), at(p, 5.5), at(p, 6)}, []bool{false, true, true, false}},
		{"window and expression", Spec{Expr: "port 443", Since: "+1s"},
			[]*decode.Packet{at(q, 0), at(q, 1), at(p, 2)}, []bool{false, true, false}},
	}
	for _, tt := range tests {
		f, err := tt.spec.Compile()
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		m := f.Func()
		for i, pk := range tt.pkts {
			if got := m(pk); got != tt.want[i] {
				t.Errorf("%s: packet %d: %v, want %v", tt.name, i, got, tt.want[i])
			}
		}
	}
	if f, _ := (&Spec{}).Compile(); f.Func() != nil || f.String() != "" {
		t.Error("an empty spec should keep everything without a predicate")
	}
}

func TestSpecErrors(t *testing.T) {
	tests := []struct {
		spec Spec
		want string
	}{
		{Spec{Hosts: []string{"db.internal"}}, "--host db.internal: not an IP address"},
		{Spec{Ports: []string{"x"}}, "--port x"},
		{Spec{Nets: []string{"10/8"}}, "--net 10/8: not a CIDR"},
		{Spec{Since: "30s"}, "an offset needs a plus sign: +30s"},
		{Spec{Since: "+x"}, "want +DURATION"},
		{Spec{Until: "tomorrow"}, "want an RFC 3339 time"},
		{Spec{Since: "+20s", Until: "+10s"}, "the window is empty"},
	}
	for _, tt := range tests {
		_, err := tt.spec.Compile()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: err %v, want %q", tt.spec, err, tt.want)
		}
	}
}
