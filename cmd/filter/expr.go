package filter

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/pcapsleuth/pcapsleuth/decode"
)

// match is a compiled filter node.
type match func(p *decode.Packet) bool

// dirQual is a direction qualifier of a primitive.
type dirQual uint8

const (
	dirAny  dirQual = iota // src or dst (the default)
	dirSrc                 // src
	dirDst                 // dst
	dirBoth                // src and dst
)

// typeQual is the type qualifier of a primitive.
type typeQual uint8

const (
	typeHost typeQual = iota + 1
	typeNet
	typePort
	typePortRange
)

// qual is the qualifiers a value is read with; a bare value after "and"/"or"
// reuses the previous primitive's (libpcap: "port 80 or 443").
type qual struct {
	family int // 0 any, 4 ip, 6 ip6
	dir    dirQual
	typ    typeQual
}

// SyntaxError reports a filter expression pcapsleuth cannot compile.
type SyntaxError struct {
	Expr string
	Pos  int // token index
	Msg  string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("filter %q: %s (supported: host, net, port, portrange with src/dst, tcp, ip, ip6, and/or/not, parentheses; see docs/cli.md)", e.Expr, e.Msg)
}

// parser reads the BPF subset by recursive descent:
//
//	expr    = and { ("or" | "||") and }
//	and     = unary { ("and" | "&&") unary }
//	unary   = ("not" | "!") unary | "(" expr ")" | prim
//	prim    = [ "ip" | "ip6" | "tcp" ] [ dir ] [ type ] value | "tcp" | "ip" | "ip6" | "udp" | ...
//	dir     = "src" | "dst" | "src or dst" | "src and dst"
//	type    = "host" | "net" | "port" | "portrange"
type parser struct {
	expr string
	toks []string
	pos  int
	last qual
	seen bool // a primitive with a value was read (last is valid)
}

// Parse compiles a BPF-style expression (the subset of docs/cli.md).
func parseExpr(s string) (match, error) {
	p := &parser{expr: s, toks: tokenize(s)}
	if len(p.toks) == 0 {
		return nil, nil
	}
	m, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.pos < len(p.toks) {
		return nil, p.errf("unexpected %q", p.toks[p.pos])
	}
	return m, nil
}

func tokenize(s string) []string {
	var toks []string
	var cur strings.Builder
	flush := func() {
		if cur.Len() > 0 {
			toks = append(toks, cur.String())
			cur.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			flush()
		case c == '(' || c == ')':
			flush()
			toks = append(toks, string(c))
		case c == '!' && !(i+1 < len(s) && s[i+1] == '='):
			flush()
			toks = append(toks, "!")
		case (c == '&' || c == '|') && i+1 < len(s) && s[i+1] == c:
			flush()
			toks = append(toks, s[i:i+2])
			i++
		default:
			cur.WriteByte(c)
		}
	}
	flush()
	return toks
}

func (p *parser) errf(format string, args ...any) error {
	return &SyntaxError{Expr: p.expr, Pos: p.pos, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) peek() string {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return ""
}

func (p *parser) next() string {
	t := p.peek()
	if t != "" {
		p.pos++
	}
	return t
}

func (p *parser) or() (match, error) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for t := p.peek(); t == "or" || t == "||"; t = p.peek() {
		p.next()
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		a, b := l, r
		l = func(pk *decode.Packet) bool { return a(pk) || b(pk) }
	}
	return l, nil
}

func (p *parser) and() (match, error) {
	l, err := p.unary()
	if err != nil {
		return nil, err
	}
	for t := p.peek(); t == "and" || t == "&&"; t = p.peek() {
		p.next()
		r, err := p.unary()
		if err != nil {
			return nil, err
		}
		a, b := l, r
		l = func(pk *decode.Packet) bool { return a(pk) && b(pk) }
	}
	return l, nil
}

func (p *parser) unary() (match, error) {
	switch t := p.peek(); t {
	case "":
		return nil, p.errf("unexpected end of expression")
	case "not", "!":
		p.next()
		m, err := p.unary()
		if err != nil {
			return nil, err
		}
		return func(pk *decode.Packet) bool { return !m(pk) }, nil
	case "(":
		p.next()
		m, err := p.or()
		if err != nil {
			return nil, err
		}
		if p.next() != ")" {
			return nil, p.errf("missing )")
		}
		return m, nil
	case ")":
		return nil, p.errf("unexpected )")
	}
	return p.prim()
}

// protocols that pcapsleuth never sees (it analyzes TCP only): a primitive
// naming one alone matches nothing.
var otherProtos = map[string]bool{"udp": true, "icmp": true, "icmp6": true, "arp": true, "rarp": true, "sctp": true, "igmp": true}

// unsupported are libpcap primitives pcapsleuth does not implement.
var unsupported = map[string]bool{
	"ether": true, "vlan": true, "mpls": true, "pppoes": true, "geneve": true, "less": true, "greater": true,
	"len": true, "gateway": true, "broadcast": true, "multicast": true, "proto": true, "protochain": true,
	"inbound": true, "outbound": true, "ifname": true, "on": true, "wlan": true, "type": true, "subtype": true,
}

func (p *parser) prim() (match, error) {
	q := qual{}
	t := p.peek()
	if unsupported[t] {
		return nil, p.errf("%q primitives are not supported", t)
	}
	if strings.ContainsAny(t, "[]") {
		return nil, p.errf("byte-offset expressions such as %s are not supported", t)
	}
	explicit := false
	// Protocol / family qualifier.
	switch {
	case t == "ip" || t == "ip6" || t == "tcp":
		p.next()
		explicit = true
		if t == "ip" {
			q.family = 4
		} else if t == "ip6" {
			q.family = 6
		}
		if !p.startsQualifiedValue() {
			// "tcp", "ip", "ip6" alone.
			fam := q.family
			return func(pk *decode.Packet) bool { return fam == 0 || familyOf(pk.Src.Addr()) == fam }, nil
		}
		t = p.peek()
	case otherProtos[t]:
		p.next()
		if p.startsQualifiedValue() {
			// "udp port 53": still never matches a TCP segment; consume it.
			if _, err := p.prim(); err != nil {
				return nil, err
			}
		}
		return func(*decode.Packet) bool { return false }, nil
	}
	// Direction.
	switch t {
	case "src", "dst":
		p.next()
		explicit = true
		q.dir = dirSrc
		if t == "dst" {
			q.dir = dirDst
		}
		if c := p.peek(); (c == "or" || c == "and") && p.pos+1 < len(p.toks) && p.toks[p.pos+1] == otherDir(t) {
			p.pos += 2
			q.dir = dirAny
			if c == "and" {
				q.dir = dirBoth
			}
		}
		t = p.peek()
	}
	// Type.
	switch t {
	case "host":
		q.typ = typeHost
	case "net":
		q.typ = typeNet
	case "port":
		q.typ = typePort
	case "portrange":
		q.typ = typePortRange
	}
	if q.typ != 0 {
		p.next()
		explicit = true
	}
	if !explicit {
		// A bare value: reuse the previous qualifiers, or read it as a host.
		if p.seen {
			q = p.last
		} else {
			q.typ = typeHost
		}
	}
	if q.typ == 0 {
		q.typ = typeHost
	}
	v := p.next()
	if v == "" {
		return nil, p.errf("missing value after %q", p.toks[p.pos-1])
	}
	if isKeyword(v) {
		return nil, p.errf("expected a value, got %q", v)
	}
	m, err := p.value(q, v)
	if err != nil {
		return nil, err
	}
	p.last, p.seen = q, true
	return m, nil
}

func otherDir(d string) string {
	if d == "src" {
		return "dst"
	}
	return "src"
}

// startsQualifiedValue reports whether the next token continues a primitive
// after a protocol qualifier ("tcp port 80").
func (p *parser) startsQualifiedValue() bool {
	switch p.peek() {
	case "src", "dst", "host", "net", "port", "portrange":
		return true
	}
	return false
}

var keywords = map[string]bool{"and": true, "or": true, "not": true, "&&": true, "||": true, "!": true, "(": true, ")": true,
	"src": true, "dst": true, "host": true, "net": true, "port": true, "portrange": true, "ip": true, "ip6": true, "tcp": true}

func isKeyword(s string) bool { return keywords[s] || otherProtos[s] }

// value compiles one primitive.
func (p *parser) value(q qual, v string) (match, error) {
	var test func(ap netip.AddrPort) bool
	switch q.typ {
	case typeHost:
		a, err := netip.ParseAddr(v)
		if err != nil {
			return nil, p.errf("host %q is not an IP address (pcapsleuth never resolves names)", v)
		}
		a = a.Unmap()
		test = func(ap netip.AddrPort) bool { return ap.Addr().Unmap() == a }
	case typeNet:
		pfx, err := parseNet(v, p)
		if err != nil {
			return nil, err
		}
		test = func(ap netip.AddrPort) bool { return pfx.Contains(ap.Addr().Unmap()) }
	case typePort:
		n, err := parsePort(v)
		if err != nil {
			return nil, p.errf("port %q: %v", v, err)
		}
		test = func(ap netip.AddrPort) bool { return ap.Port() == n }
	case typePortRange:
		lo, hi, ok := strings.Cut(v, "-")
		a, err1 := parsePort(lo)
		b, err2 := parsePort(hi)
		if !ok || err1 != nil || err2 != nil || a > b {
			return nil, p.errf("portrange %q: want LOW-HIGH, e.g. 8000-8080", v)
		}
		test = func(ap netip.AddrPort) bool { return ap.Port() >= a && ap.Port() <= b }
	}
	if fam := q.family; fam != 0 {
		inner := test
		test = func(ap netip.AddrPort) bool { return familyOf(ap.Addr()) == fam && inner(ap) }
	}
	switch q.dir {
	case dirSrc:
		return func(pk *decode.Packet) bool { return test(pk.Src) }, nil
	case dirDst:
		return func(pk *decode.Packet) bool { return test(pk.Dst) }, nil
	case dirBoth:
		return func(pk *decode.Packet) bool { return test(pk.Src) && test(pk.Dst) }, nil
	}
	return func(pk *decode.Packet) bool { return test(pk.Src) || test(pk.Dst) }, nil
}

// parseNet reads CIDR (10.0.0.0/8, 2001:db8::/32), a partial dotted IPv4
// network as libpcap does (10, 10.1, 10.1.2: /8, /16, /24), or a single
// address (a /32 or /128). "net A mask M" is read here too.
func parseNet(v string, p *parser) (netip.Prefix, error) {
	if p.peek() == "mask" {
		p.next()
		m := p.next()
		a, err1 := netip.ParseAddr(v)
		mask, err2 := netip.ParseAddr(m)
		if err1 != nil || err2 != nil || !a.Is4() || !mask.Is4() {
			return netip.Prefix{}, p.errf("net %s mask %s: want IPv4 address and mask", v, m)
		}
		mb := mask.As4()
		bits := 0
		for _, b := range mb {
			for i := 7; i >= 0; i-- {
				if b&(1<<i) == 0 {
					goto done
				}
				bits++
			}
		}
	done:
		return netip.PrefixFrom(a, bits).Masked(), nil
	}
	if strings.Contains(v, "/") {
		pfx, err := netip.ParsePrefix(v)
		if err != nil {
			return netip.Prefix{}, p.errf("net %q is not a CIDR prefix (e.g. 10.0.0.0/8)", v)
		}
		return pfx.Masked(), nil
	}
	if a, err := netip.ParseAddr(v); err == nil {
		return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
	}
	parts := strings.Split(v, ".")
	if len(parts) <= 3 {
		var b [4]byte
		for i, s := range parts {
			n, err := strconv.ParseUint(s, 10, 8)
			if err != nil {
				return netip.Prefix{}, p.errf("net %q is not a network (e.g. 10.0.0.0/8 or 10.1)", v)
			}
			b[i] = byte(n)
		}
		return netip.PrefixFrom(netip.AddrFrom4(b), 8*len(parts)), nil
	}
	return netip.Prefix{}, p.errf("net %q is not a network (e.g. 10.0.0.0/8)", v)
}

func parsePort(s string) (uint16, error) {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil {
		return 0, fmt.Errorf("want a number 0-65535 (service names are not looked up)")
	}
	return uint16(n), nil
}

func familyOf(a netip.Addr) int {
	if a.Unmap().Is4() {
		return 4
	}
	return 6
}
