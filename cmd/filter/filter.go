// Package filter turns pcapsleuth's filter flags into the per-packet
// predicate of analysis.Options.Filter.
//
// # What is supported
//
// --host, --port and --net are shorthands (each may repeat; several values of
// one flag mean any of them, different flags must all match). --filter takes
// a BPF-style expression, compiled by a hand-written parser (no libpcap, no
// cgo) for the subset people type: host, net (CIDR, partial dotted IPv4,
// "mask"), port, portrange, each with src, dst, "src or dst", "src and dst";
// ip, ip6, tcp; and/&&, or/||, not/!, parentheses; a bare value repeats the
// previous qualifiers ("port 80 or 443"). udp, icmp, arp and sctp match
// nothing, since pcapsleuth sees TCP only. Byte-offset expressions
// (tcp[13] & 2), ether, vlan and service or host names are rejected with a
// message saying so.
//
// --since and --until bound the time window: RFC 3339 times (without a zone,
// UTC), or offsets such as +30s or +2m30s from the first packet of the
// analyzed timeline. --since is inclusive, --until exclusive.
//
// Filtering happens before connection tracking: a filter that keeps one
// direction only (src host X) makes the capture one-sided, and a window that
// starts mid-connection makes its connections start mid-stream; the report
// then says so, as for any such capture.
package filter

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/pcapsleuth/pcapsleuth/decode"
)

// Spec is the filter as given on the command line.
type Spec struct {
	Hosts []string // --host: any of these addresses, either direction
	Ports []string // --port: any of these ports, either direction
	Nets  []string // --net: any of these networks, either direction
	Expr  string   // --filter: a BPF-style expression
	Since string   // --since: RFC 3339 or +offset
	Until string   // --until: RFC 3339 or +offset
}

// Bind registers the filter flags.
func (s *Spec) Bind(f *pflag.FlagSet) {
	f.StringSliceVar(&s.Hosts, "host", nil, "keep only packets from or to this IP address (repeatable, comma-separated)")
	f.StringSliceVar(&s.Ports, "port", nil, "keep only packets from or to this TCP port (repeatable)")
	f.StringSliceVar(&s.Nets, "net", nil, "keep only packets from or to this network, CIDR (repeatable)")
	f.StringVarP(&s.Expr, "filter", "f", "", "keep only packets matching this BPF-style expression (subset: host, net, port, portrange, src/dst, tcp, ip, ip6, and/or/not, parentheses)")
	f.StringVar(&s.Since, "since", "", "keep only packets at or after this time: RFC 3339, or +DURATION from the first packet (e.g. +30s)")
	f.StringVar(&s.Until, "until", "", "keep only packets before this time: RFC 3339, or +DURATION from the first packet (e.g. +2m)")
}

// Empty reports whether no filter was given.
func (s *Spec) Empty() bool {
	return len(s.Hosts) == 0 && len(s.Ports) == 0 && len(s.Nets) == 0 && s.Expr == "" && s.Since == "" && s.Until == ""
}

// Filter is a compiled Spec. It is immutable; Func makes the per-analysis
// predicate.
type Filter struct {
	m            match
	since, until bound
	desc         string
}

// bound is one end of the time window.
type bound struct {
	set bool
	rel bool
	abs int64         // Unix ns, when !rel
	off time.Duration // from the first packet, when rel
}

// Compile checks and compiles the spec. Its errors are the user's: the
// caller reports them as usage errors.
func (s *Spec) Compile() (*Filter, error) {
	f := &Filter{}
	var parts []string
	var ms []match
	add := func(flag string, vals []string, mk func(string) (match, error)) error {
		if len(vals) == 0 {
			return nil
		}
		var any []match
		for _, v := range vals {
			v = strings.TrimSpace(v)
			m, err := mk(v)
			if err != nil {
				return fmt.Errorf("--%s %s: %w", flag, v, err)
			}
			any = append(any, m)
		}
		ms = append(ms, func(p *decode.Packet) bool {
			for _, m := range any {
				if m(p) {
					return true
				}
			}
			return false
		})
		parts = append(parts, flag+" "+strings.Join(vals, "|"))
		return nil
	}
	if err := add("host", s.Hosts, func(v string) (match, error) {
		a, err := netip.ParseAddr(v)
		if err != nil {
			return nil, errors.New("not an IP address (pcapsleuth never resolves names)")
		}
		a = a.Unmap()
		return func(p *decode.Packet) bool { return p.Src.Addr().Unmap() == a || p.Dst.Addr().Unmap() == a }, nil
	}); err != nil {
		return nil, err
	}
	if err := add("port", s.Ports, func(v string) (match, error) {
		n, err := parsePort(v)
		if err != nil {
			return nil, err
		}
		return func(p *decode.Packet) bool { return p.Src.Port() == n || p.Dst.Port() == n }, nil
	}); err != nil {
		return nil, err
	}
	if err := add("net", s.Nets, func(v string) (match, error) {
		pfx, err := netip.ParsePrefix(v)
		if err != nil {
			a, err2 := netip.ParseAddr(v)
			if err2 != nil {
				return nil, errors.New("not a CIDR network (e.g. 10.0.0.0/8)")
			}
			pfx = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		}
		pfx = pfx.Masked()
		return func(p *decode.Packet) bool {
			return pfx.Contains(p.Src.Addr().Unmap()) || pfx.Contains(p.Dst.Addr().Unmap())
		}, nil
	}); err != nil {
		return nil, err
	}
	if strings.TrimSpace(s.Expr) != "" {
		m, err := parseExpr(s.Expr)
		if err != nil {
			return nil, err
		}
		ms = append(ms, m)
		parts = append(parts, "filter "+strings.TrimSpace(s.Expr))
	}
	var err error
	if f.since, err = parseBound(s.Since); err != nil {
		return nil, fmt.Errorf("--since %s: %w", s.Since, err)
	}
	if f.until, err = parseBound(s.Until); err != nil {
		return nil, fmt.Errorf("--until %s: %w", s.Until, err)
	}
	if f.since.set && f.until.set && f.since.rel == f.until.rel {
		if (f.since.rel && f.since.off >= f.until.off) || (!f.since.rel && f.since.abs >= f.until.abs) {
			return nil, fmt.Errorf("--since %s is not before --until %s: the window is empty", s.Since, s.Until)
		}
	}
	if f.since.set {
		parts = append(parts, "since "+s.Since)
	}
	if f.until.set {
		parts = append(parts, "until "+s.Until)
	}
	switch len(ms) {
	case 0:
	case 1:
		f.m = ms[0]
	default:
		f.m = func(p *decode.Packet) bool {
			for _, m := range ms {
				if !m(p) {
					return false
				}
			}
			return true
		}
	}
	f.desc = strings.Join(parts, ", ")
	return f, nil
}

// parseBound reads "", an RFC 3339 time or "+DURATION".
func parseBound(s string) (bound, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return bound{}, nil
	}
	if strings.HasPrefix(s, "+") {
		d, err := time.ParseDuration(s[1:])
		if err != nil || d < 0 {
			return bound{}, errors.New("want +DURATION such as +30s, +1m30s or +250ms")
		}
		return bound{set: true, rel: true, off: d}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return bound{set: true, abs: t.UnixNano()}, nil
		}
	}
	if _, err := time.ParseDuration(s); err == nil {
		return bound{}, fmt.Errorf("an offset needs a plus sign: +%s", s)
	}
	return bound{}, errors.New("want an RFC 3339 time (2024-03-01T12:00:00Z; UTC when no zone is given) or an offset from the first packet (+30s)")
}

// String describes the filter, e.g. "host 10.0.0.1, since +30s" ("" when
// it keeps everything).
func (f *Filter) String() string {
	if f == nil {
		return ""
	}
	return f.desc
}

// Func returns a fresh predicate for one analysis (one timeline), or nil
// when the filter keeps everything. Relative --since/--until count from the
// first packet the predicate sees, so each analysis needs its own.
func (f *Filter) Func() func(p *decode.Packet) bool {
	if f == nil || (f.m == nil && !f.since.set && !f.until.set) {
		return nil
	}
	m := f.m
	since, until := f.since, f.until
	var start int64
	started := false
	return func(p *decode.Packet) bool {
		if !started {
			start, started = p.TS, true
		}
		if since.set {
			t := since.abs
			if since.rel {
				t = start + int64(since.off)
			}
			if p.TS < t {
				return false
			}
		}
		if until.set {
			t := until.abs
			if until.rel {
				t = start + int64(until.off)
			}
			if p.TS >= t {
				return false
			}
		}
		return m == nil || m(p)
	}
}
