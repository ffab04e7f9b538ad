package capturetest

import (
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"
)

// TCP flag bits of Frame.Flags, in header bit order (the same layout as
// decode.TCPFlags).
const (
	FIN uint16 = 1 << iota
	SYN
	RST
	PSH
	ACK
	URG
	ECE
	CWR
	NS
)

var flagByName = map[string]uint16{
	"FIN": FIN, "SYN": SYN, "RST": RST, "PSH": PSH, "ACK": ACK,
	"URG": URG, "ECE": ECE, "CWR": CWR, "NS": NS,
}

// DefaultStart is the capture time of t=0 when a script has no start line.
var DefaultStart = time.Unix(1700000000, 0).UTC()

// Default endpoints of a connection without client/server lines.
var (
	DefaultClient = netip.MustParseAddrPort("10.0.0.1:40000")
	DefaultServer = netip.MustParseAddrPort("10.0.0.2:80")
)

// ParseError is a script error with its 1-based line number.
type ParseError struct {
	Line int
	Err  error
}

func (e *ParseError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }
func (e *ParseError) Unwrap() error { return e.Err }

// Frame is one packet of a script, after sequence tracking. Frames are in the
// order they are written to the capture, so Frames()[i] is frame number i+1.
type Frame struct {
	Line       int           // script line
	Conn       string        // connection name
	FromClient bool          // C>S
	Offset     time.Duration // time after the capture start
	Time       time.Time     // capture time
	Src, Dst   netip.AddrPort
	Seq, Ack   uint32
	Flags      uint16 // FIN, SYN, ... bits
	Window     uint16
	Payload    []byte
	Iface      int // pcapng interface
	Section    int // pcapng section, from 0

	opts    tcpOpts
	badSum  bool
	capLen  int // 0: whole frame (or snaplen)
	ipID    uint16
	scriptN int
}

type tcpOpts struct {
	mss    int // -1 absent
	ws     int // -1 absent
	sackOK bool
	ts     bool
	tsVal  uint32
	tsEcr  uint32
	sack   [][2]uint32
}

// Script is a parsed capture script, ready to be written.
type Script struct {
	Link     string // link type name, "ether" by default
	Link2    string // second interface of pcapng-multi
	Format   string // "pcap" by default
	Snaplen  int    // 0: none
	Start    time.Time
	VLANs    []uint16 // vlan/qinq tags, outer first
	EthPad   bool
	Unsorted bool

	formatSet bool
	frames    []Frame
	conns     []*conn
}

// Frames returns the frames in capture order. The slice and payloads must not
// be modified.
func (s *Script) Frames() []Frame { return s.frames }

type conn struct {
	name        string
	index       int
	client      *side
	server      *side
	iface       int
	hasPackets  bool
	definedLine int
}

type side struct {
	addr    netip.AddrPort
	isn     uint32
	isnUsed bool // someone computed a number from isn
	started bool
	nxt     int64 // relative (to isn) offset of the next new sequence number
	una     int64 // highest relative ack received from the peer
	rcvNxt  int64 // relative (to the peer's isn) next in-order byte expected
	ooo     [][2]int64
	last    struct {
		valid bool
		seq   int64
		n     int
	}
	segLen  map[int64]int // original segment payload lengths by start
	buf     []byte        // bytes sent, index = relative offset - 1
	sentTS  bool          // this side's SYN carried ts
	sentWS  bool
	synSent bool
	tsBase  uint32
	lastTS  uint32 // last TSval received from the peer
	peerMSS int
	ipID    uint16
}

const maxStoredStream = 4 << 20

func newSide(addr netip.AddrPort, seed string) *side {
	return &side{
		addr:   addr,
		isn:    hash32(seed + "/isn"),
		tsBase: hash32(seed+"/ts") & 0x7fffffff,
		ipID:   uint16(hash32(seed + "/id")),
		nxt:    1,
		una:    1,
		rcvNxt: 1,
		segLen: map[int64]int{},
	}
}

func hash32(s string) uint32 {
	h := fnv.New32a()
	h.Write([]byte("pcapsleuth/capturetest/" + s))
	return h.Sum32()
}

// Parse parses and evaluates a script. Errors are *ParseError.
func Parse(src string) (*Script, error) {
	p := &parser{s: &Script{Link: "ether", Format: "pcap", Start: DefaultStart}, conns: map[string]*conn{}}
	lines := strings.Split(src, "\n")
	for i, line := range lines {
		toks, err := tokenize(line)
		if err != nil {
			return nil, &ParseError{Line: i + 1, Err: err}
		}
		if len(toks) == 0 {
			continue
		}
		if err := p.statement(i+1, toks); err != nil {
			return nil, &ParseError{Line: i + 1, Err: err}
		}
	}
	if err := p.finish(); err != nil {
		return nil, err
	}
	return p.s, nil
}

type parser struct {
	s        *Script
	conns    map[string]*conn
	cur      *conn
	lastTime time.Duration
	nPackets int
	section  int
	seen     map[string]int
}

func (p *parser) once(line int, key string) error {
	if p.seen == nil {
		p.seen = map[string]int{}
	}
	if l, ok := p.seen[key]; ok {
		return fmt.Errorf("%s given twice (first on line %d)", key, l)
	}
	p.seen[key] = line
	return nil
}

func (p *parser) current() *conn {
	if p.cur == nil {
		p.cur = p.newConn("default", DefaultClient, DefaultServer, 0)
	}
	return p.cur
}

func (p *parser) newConn(name string, client, server netip.AddrPort, line int) *conn {
	c := &conn{name: name, index: len(p.s.conns), definedLine: line}
	seed := fmt.Sprintf("%s/%d", name, c.index)
	c.client = newSide(client, seed+"/C")
	c.server = newSide(server, seed+"/S")
	p.conns[name] = c
	p.s.conns = append(p.s.conns, c)
	return c
}

func (p *parser) statement(line int, toks []string) error {
	head := toks[0]
	if head != "" && (head[0] == '+' || head[0] == '.' || (head[0] >= '0' && head[0] <= '9')) {
		return p.packet(line, toks)
	}
	args := toks[1:]
	switch strings.ToLower(head) {
	case "link":
		if err := p.once(line, "link"); err != nil {
			return err
		}
		if len(args) == 0 {
			return errors.New("link: missing link type")
		}
		name := strings.ToLower(args[0])
		if _, ok := linkTypes[name]; !ok {
			return fmt.Errorf("link: unknown link type %q", args[0])
		}
		p.s.Link = name
		var tags []uint16
		for _, a := range args[1:] {
			v, err := strconv.ParseUint(a, 10, 12)
			if err != nil || v == 0 {
				return fmt.Errorf("link: bad VLAN ID %q", a)
			}
			tags = append(tags, uint16(v))
		}
		switch name {
		case "vlan":
			if len(tags) > 1 {
				return errors.New("link vlan: at most one VLAN ID")
			}
			if len(tags) == 0 {
				tags = []uint16{100}
			}
		case "qinq":
			if len(tags) != 0 && len(tags) != 2 {
				return errors.New("link qinq: want OUTER INNER VLAN IDs")
			}
			if len(tags) == 0 {
				tags = []uint16{200, 100}
			}
		default:
			if len(tags) > 0 {
				return fmt.Errorf("link %s: unexpected argument %q", name, args[1])
			}
		}
		p.s.VLANs = tags
	case "link2":
		if err := p.once(line, "link2"); err != nil {
			return err
		}
		if len(args) != 1 {
			return errors.New("link2: want one link type")
		}
		name := strings.ToLower(args[0])
		if _, ok := linkTypes[name]; !ok || name == "vlan" || name == "qinq" {
			return fmt.Errorf("link2: unsupported link type %q", args[0])
		}
		p.s.Link2 = name
	case "format":
		if err := p.once(line, "format"); err != nil {
			return err
		}
		if len(args) != 1 {
			return errors.New("format: want one format name")
		}
		switch f := strings.ToLower(args[0]); f {
		case "pcap", "pcap-nano", "pcap-be", "pcap-nano-be", "pcapng", "pcapng-multi":
			p.s.Format = f
			p.s.formatSet = true
		default:
			return fmt.Errorf("format: unknown format %q", args[0])
		}
	case "snaplen":
		if err := p.once(line, "snaplen"); err != nil {
			return err
		}
		if len(args) != 1 {
			return errors.New("snaplen: want a number")
		}
		n, err := strconv.Atoi(args[0])
		if err != nil || n < 1 || n > 262144 {
			return fmt.Errorf("snaplen: bad value %q", args[0])
		}
		p.s.Snaplen = n
	case "start":
		if err := p.once(line, "start"); err != nil {
			return err
		}
		if len(args) != 1 {
			return errors.New("start: want epoch seconds")
		}
		ns, err := parseSeconds(args[0])
		if err != nil {
			return fmt.Errorf("start: %v", err)
		}
		p.s.Start = time.Unix(0, 0).Add(ns).UTC()
	case "ethpad":
		if err := p.once(line, "ethpad"); err != nil {
			return err
		}
		p.s.EthPad = true
	case "unsorted":
		if err := p.once(line, "unsorted"); err != nil {
			return err
		}
		p.s.Unsorted = true
	case "section":
		if len(args) != 0 {
			return errors.New("section: takes no arguments")
		}
		if p.nPackets == 0 {
			return errors.New("section: before any packet")
		}
		p.section++
	case "client", "server":
		if len(args) != 1 {
			return fmt.Errorf("%s: want ADDR:PORT", head)
		}
		ap, err := parseAddrPort(args[0])
		if err != nil {
			return fmt.Errorf("%s: %v", head, err)
		}
		c := p.current()
		if c.hasPackets {
			return fmt.Errorf("%s: connection %q already has packets", head, c.name)
		}
		if strings.ToLower(head) == "client" {
			c.client.addr = ap
		} else {
			c.server.addr = ap
		}
	case "conn":
		return p.connStmt(line, args)
	default:
		return fmt.Errorf("unknown statement %q", head)
	}
	return nil
}

func (p *parser) connStmt(line int, args []string) error {
	if len(args) == 0 {
		return errors.New("conn: missing name")
	}
	name := args[0]
	if !validName(name) {
		return fmt.Errorf("conn: bad name %q (letters, digits, - and _)", name)
	}
	client, server := DefaultClient, DefaultServer
	var haveC, haveS, haveIf bool
	iface := 0
	for i := 1; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "client" || a == "server":
			if i+1 >= len(args) {
				return fmt.Errorf("conn: %s needs ADDR:PORT", a)
			}
			ap, err := parseAddrPort(args[i+1])
			if err != nil {
				return fmt.Errorf("conn: %s: %v", a, err)
			}
			i++
			if a == "client" {
				client, haveC = ap, true
			} else {
				server, haveS = ap, true
			}
		case strings.HasPrefix(a, "iface="):
			n, err := strconv.Atoi(a[len("iface="):])
			if err != nil || n < 0 || n > 1 {
				return fmt.Errorf("conn: bad %s (0 or 1)", a)
			}
			iface, haveIf = n, true
		default:
			return fmt.Errorf("conn: unexpected %q", a)
		}
	}
	if c, ok := p.conns[name]; ok {
		if haveC || haveS || haveIf {
			return fmt.Errorf("conn: %q already defined on line %d; switch to it with \"conn %s\" alone", name, c.definedLine, name)
		}
		p.cur = c
		return nil
	}
	c := p.newConn(name, client, server, line)
	c.iface = iface
	p.cur = c
	return nil
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r == '-' || r == '_' || r == '.' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')) {
			return false
		}
	}
	return true
}

func parseAddrPort(s string) (netip.AddrPort, error) {
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("bad address %q (want 10.0.0.1:40000 or [fd00::1]:40000)", s)
	}
	if ap.Addr().Zone() != "" {
		return netip.AddrPort{}, fmt.Errorf("bad address %q: zones are not supported", s)
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
}

// parseSeconds parses a non-negative decimal number of seconds exactly.
func parseSeconds(s string) (time.Duration, error) {
	intPart, frac, _ := strings.Cut(s, ".")
	if intPart == "" && frac == "" {
		return 0, fmt.Errorf("bad time %q", s)
	}
	if len(frac) > 9 {
		return 0, fmt.Errorf("bad time %q: more than 9 decimals", s)
	}
	var sec uint64
	if intPart != "" {
		v, err := strconv.ParseUint(intPart, 10, 64)
		if err != nil || v > math.MaxInt64/1_000_000_000-1 {
			return 0, fmt.Errorf("bad time %q", s)
		}
		sec = v
	}
	var ns uint64
	if frac != "" {
		v, err := strconv.ParseUint(frac, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("bad time %q", s)
		}
		for i := len(frac); i < 9; i++ {
			v *= 10
		}
		ns = v
	}
	return time.Duration(sec*1e9 + ns), nil
}

// tokenize splits a line into fields; a field may contain a double-quoted
// part (key="a b"), kept with its quotes. '#' outside quotes ends the line.
func tokenize(line string) ([]string, error) {
	var toks []string
	i := 0
	for i < len(line) {
		c := line[i]
		if c == ' ' || c == '\t' || c == '\r' {
			i++
			continue
		}
		if c == '#' {
			break
		}
		start := i
		for i < len(line) && line[i] != ' ' && line[i] != '\t' && line[i] != '\r' {
			if line[i] == '"' {
				i++
				for i < len(line) && line[i] != '"' {
					if line[i] == '\\' {
						i++
					}
					i++
				}
				if i >= len(line) {
					return nil, errors.New("unterminated quoted string")
				}
			}
			i++
		}
		toks = append(toks, line[start:i])
	}
	return toks, nil
}

// packetLine is the syntax of one packet line.
type packetLine struct {
	at         time.Duration
	fromClient bool
	connName   string
	flags      uint16

	mss, ws      int
	sackOK       bool
	ts, noTS     bool
	tsVal, tsEcr uint32
	tsExplicit   bool
	sack         [][2]int64
	payload      []byte
	hasPayload   bool
	length       int
	hasLen       bool
	retrans      string // "", "last", "una"
	lost         bool
	seqMode      byte // 0 auto, '+', '-', '=' relative, 'r' raw
	seqVal       int64
	ackMode      byte // 0 auto, '=' relative, 'r' raw
	ackVal       int64
	win          int
	isn          int64
	iface        int
	capLen       int
	badSum       bool
	tlsKind, sni string
}

func (p *parser) packet(line int, toks []string) error {
	if len(toks) < 3 {
		return errors.New("packet line needs TIME DIR FLAGS")
	}
	pl := packetLine{mss: -1, ws: -1, win: -1, isn: -1, iface: -1}
	// time
	tt := toks[0]
	if strings.HasPrefix(tt, "+") {
		d, err := parseSeconds(tt[1:])
		if err != nil {
			return err
		}
		pl.at = p.lastTime + d
	} else {
		d, err := parseSeconds(tt)
		if err != nil {
			return err
		}
		pl.at = d
	}
	// direction
	dir, name, hasName := strings.Cut(toks[1], "@")
	switch strings.ToUpper(dir) {
	case "C>S":
		pl.fromClient = true
	case "S>C":
	default:
		return fmt.Errorf("bad direction %q (want C>S or S>C)", toks[1])
	}
	if hasName {
		if name == "" {
			return fmt.Errorf("bad direction %q: empty connection name", toks[1])
		}
		pl.connName = name
	}
	// flags
	if strings.ToLower(toks[2]) != "none" {
		for _, f := range strings.Split(toks[2], ",") {
			b, ok := flagByName[strings.ToUpper(f)]
			if !ok {
				return fmt.Errorf("unknown flag %q in %q", f, toks[2])
			}
			pl.flags |= b
		}
	}
	for _, o := range toks[3:] {
		if err := pl.option(o); err != nil {
			return err
		}
	}
	if pl.hasPayload && pl.hasLen && pl.tlsKind != "appdata" {
		return errors.New("len= together with a payload")
	}
	if pl.sni != "" && pl.tlsKind != "clienthello" {
		return errors.New("sni= needs tls=clienthello")
	}
	c := p.current()
	if pl.connName != "" {
		cc, ok := p.conns[pl.connName]
		if !ok {
			return fmt.Errorf("unknown connection %q", pl.connName)
		}
		c = cc
	}
	f, err := p.eval(c, &pl)
	if err != nil {
		return err
	}
	f.Line = line
	f.scriptN = p.nPackets
	f.Section = p.section
	p.s.frames = append(p.s.frames, f)
	p.nPackets++
	p.lastTime = pl.at
	return nil
}

func (pl *packetLine) option(o string) error {
	key, val, hasVal := strings.Cut(o, "=")
	num := func() (int64, error) {
		v, err := strconv.ParseInt(val, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("bad number in %s", o)
		}
		return v, nil
	}
	uintIn := func(max int64) (int64, error) {
		v, err := num()
		if err != nil {
			return 0, err
		}
		if v < 0 || v > max {
			return 0, fmt.Errorf("%s out of range 0..%d", o, max)
		}
		return v, nil
	}
	if !hasVal {
		switch key {
		case "sackok":
			pl.sackOK = true
		case "ts":
			pl.ts = true
		case "nots":
			pl.noTS = true
		case "retrans":
			pl.retrans = "last"
		case "lost":
			pl.lost = true
		case "badsum":
			pl.badSum = true
		default:
			return fmt.Errorf("unknown option %q", o)
		}
		return nil
	}
	var err error
	var v int64
	switch key {
	case "mss":
		v, err = uintIn(65535)
		pl.mss = int(v)
	case "ws":
		v, err = uintIn(14)
		pl.ws = int(v)
	case "win":
		v, err = uintIn(65535)
		pl.win = int(v)
	case "isn":
		v, err = uintIn(math.MaxUint32)
		pl.isn = v
	case "iface":
		v, err = uintIn(1)
		pl.iface = int(v)
	case "caplen":
		v, err = uintIn(262144)
		pl.capLen = int(v)
		if err == nil && v == 0 {
			err = errors.New("caplen=0: want at least 1 byte")
		}
	case "len":
		v, err = uintIn(65000)
		pl.length, pl.hasLen = int(v), true
	case "ts":
		a, b, two := strings.Cut(val, "/")
		x, e1 := strconv.ParseUint(a, 10, 32)
		var y uint64
		var e2 error
		if two {
			y, e2 = strconv.ParseUint(b, 10, 32)
		}
		if e1 != nil || e2 != nil {
			return fmt.Errorf("bad %s (want ts=VAL or ts=VAL/ECR)", o)
		}
		pl.ts, pl.tsExplicit, pl.tsVal, pl.tsEcr = true, true, uint32(x), uint32(y)
	case "sack":
		for _, blk := range strings.Split(val, ",") {
			l, r, ok := strings.Cut(blk, "-")
			lv, e1 := strconv.ParseInt(l, 10, 64)
			rv, e2 := strconv.ParseInt(r, 10, 64)
			if !ok || e1 != nil || e2 != nil || rv <= lv {
				return fmt.Errorf("bad SACK block %q (want L-R, L < R)", blk)
			}
			pl.sack = append(pl.sack, [2]int64{lv, rv})
		}
		if len(pl.sack) > 4 {
			return errors.New("at most 4 SACK blocks")
		}
	case "data":
		s, e := strconv.Unquote(val)
		if e != nil {
			return fmt.Errorf("bad data string %s (want a Go-quoted string)", val)
		}
		if pl.hasPayload {
			return errors.New("two payloads")
		}
		pl.payload, pl.hasPayload = []byte(s), true
	case "hex":
		b, e := hex.DecodeString(val)
		if e != nil {
			return fmt.Errorf("bad hex payload: %v", e)
		}
		if pl.hasPayload {
			return errors.New("two payloads")
		}
		pl.payload, pl.hasPayload = b, true
	case "tls":
		switch val {
		case "clienthello", "serverhello", "appdata":
		default:
			return fmt.Errorf("unknown tls=%s (want clienthello, serverhello or appdata)", val)
		}
		if pl.hasPayload {
			return errors.New("two payloads")
		}
		pl.tlsKind, pl.hasPayload = val, true
	case "sni":
		if val == "" {
			return errors.New("empty sni=")
		}
		pl.sni = val
	case "retrans":
		if val != "una" {
			return fmt.Errorf("bad %s (want retrans or retrans=una)", o)
		}
		pl.retrans = "una"
	case "seq":
		switch {
		case strings.HasPrefix(val, "+"):
			pl.seqMode = '+'
			val = val[1:]
		case strings.HasPrefix(val, "-"):
			pl.seqMode = '-'
			val = val[1:]
		default:
			pl.seqMode = '='
		}
		v, err = uintIn(math.MaxUint32)
		pl.seqVal = v
	case "ack":
		pl.ackMode = '='
		v, err = uintIn(math.MaxUint32)
		pl.ackVal = v
	case "rawseq":
		pl.seqMode = 'r'
		v, err = uintIn(math.MaxUint32)
		pl.seqVal = v
	case "rawack":
		pl.ackMode = 'r'
		v, err = uintIn(math.MaxUint32)
		pl.ackVal = v
	default:
		return fmt.Errorf("unknown option %q", key)
	}
	return err
}

// eval runs the sequence tracking for one packet line and returns its frame.
func (p *parser) eval(c *conn, pl *packetLine) (Frame, error) {
	me, peer := c.server, c.client
	if pl.fromClient {
		me, peer = c.client, c.server
	}
	if me.addr.Addr().Is4() != peer.addr.Addr().Is4() {
		return Frame{}, fmt.Errorf("connection %q mixes IPv4 and IPv6 addresses", c.name)
	}
	if pl.isn >= 0 {
		if me.started || me.isnUsed {
			return Frame{}, errors.New("isn= must be on the side's first segment, before the peer acknowledges it")
		}
		me.isn = uint32(pl.isn)
	}
	me.isnUsed, me.started = true, true
	c.hasPackets = true
	syn := pl.flags&SYN != 0
	fin := pl.flags&FIN != 0

	// payload length and sequence number (relative offsets)
	var seq int64
	n := -1 // payload length; -1 until known
	switch {
	case pl.retrans == "last":
		if !me.last.valid {
			return Frame{}, errors.New("retrans: this side has sent nothing to resend")
		}
		seq = me.last.seq
		if !pl.hasPayload && !pl.hasLen {
			n = me.last.n
		}
	case pl.retrans == "una":
		seq = me.una
		if !pl.hasPayload && !pl.hasLen {
			if l, ok := me.segLen[seq]; ok {
				n = l
			} else {
				mss := int64(me.peerMSS)
				if mss == 0 {
					mss = 1460
				}
				n = int(min(me.nxt-seq, mss))
				if n < 0 {
					n = 0
				}
			}
		}
	case syn:
		seq = 0
	default:
		seq = me.nxt
	}
	switch pl.seqMode {
	case '+':
		seq = me.nxt + pl.seqVal
	case '-':
		seq = me.nxt - pl.seqVal
	case '=':
		seq = pl.seqVal
	case 'r':
		seq = int64(uint32(pl.seqVal) - me.isn)
	}
	if syn && seq != 0 && pl.seqMode == 0 {
		seq = 0
	}
	dataStart := seq
	if syn {
		dataStart = seq + 1
	}
	var payload []byte
	switch {
	case pl.tlsKind != "":
		payload = tlsRecord(pl.tlsKind, pl.sni, pl.length, hash32(fmt.Sprintf("%s/%d/tls/%d", c.name, c.index, len(p.s.frames))))
	case pl.hasPayload:
		payload = pl.payload
	case pl.hasLen:
		payload = me.streamBytes(dataStart, pl.length)
	case n > 0:
		payload = me.streamBytes(dataStart, n)
	}
	me.store(dataStart, payload) // so that resends carry the same bytes
	segLen := int64(len(payload))
	if syn {
		segLen++
	}
	if fin {
		segLen++
	}
	end := seq + segLen
	isNew := end > me.nxt || (syn && !me.synSent)
	if pl.retrans == "" && segLen > 0 && isNew {
		me.last.valid, me.last.seq, me.last.n = true, seq, len(payload)
		if len(payload) > 0 {
			me.segLen[dataStart] = len(payload)
		}
	}
	if end > me.nxt {
		me.nxt = end
	}

	// SYN options
	if syn {
		me.synSent = true
		if pl.ts {
			me.sentTS = true
		}
		if pl.ws >= 0 {
			me.sentWS = true
		}
		if pl.mss >= 0 {
			peer.peerMSS = pl.mss
		}
	}
	tsOn := (pl.ts || (me.sentTS && peer.sentTS)) && !pl.noTS
	f := Frame{
		Conn:       c.name,
		FromClient: pl.fromClient,
		Offset:     pl.at,
		Time:       p.s.Start.Add(pl.at),
		Src:        me.addr,
		Dst:        peer.addr,
		Seq:        me.isn + uint32(seq),
		Flags:      pl.flags,
		Payload:    payload,
		Iface:      c.iface,
		badSum:     pl.badSum,
		capLen:     pl.capLen,
		ipID:       me.ipID,
	}
	me.ipID++
	if pl.iface >= 0 {
		f.Iface = pl.iface
	}
	switch {
	case pl.ackMode == 'r':
		f.Ack = uint32(pl.ackVal)
	case pl.ackMode == '=':
		f.Ack = peer.isn + uint32(pl.ackVal)
		peer.isnUsed = true
	case pl.flags&ACK != 0:
		f.Ack = peer.isn + uint32(me.rcvNxt)
		peer.isnUsed = true
	}
	switch {
	case pl.win >= 0:
		f.Window = uint16(pl.win)
	case syn:
		f.Window = 64240
	case me.sentWS && peer.sentWS:
		f.Window = 502
	default:
		f.Window = 64240
	}
	f.opts = tcpOpts{mss: -1, ws: -1}
	if syn {
		f.opts.mss, f.opts.ws, f.opts.sackOK = pl.mss, pl.ws, pl.sackOK
	} else if pl.mss >= 0 || pl.ws >= 0 || pl.sackOK {
		f.opts.mss, f.opts.ws, f.opts.sackOK = pl.mss, pl.ws, pl.sackOK
	}
	if tsOn {
		f.opts.ts = true
		if pl.tsExplicit {
			f.opts.tsVal, f.opts.tsEcr = pl.tsVal, pl.tsEcr
		} else {
			f.opts.tsVal = me.tsBase + uint32(pl.at/time.Millisecond)
			if pl.flags&ACK != 0 {
				f.opts.tsEcr = me.lastTS
			}
		}
	}
	for _, b := range pl.sack {
		f.opts.sack = append(f.opts.sack, [2]uint32{peer.isn + uint32(b[0]), peer.isn + uint32(b[1])})
	}
	if len(pl.sack) > 0 {
		peer.isnUsed = true
	}
	if n := f.opts.size(); n > 40 {
		return Frame{}, fmt.Errorf("TCP options take %d bytes, more than 40", n)
	}

	// delivery to the peer
	if !pl.lost {
		if f.opts.ts {
			peer.lastTS = f.opts.tsVal
		}
		if pl.flags&ACK != 0 {
			ackRel := int64(int32(f.Ack - peer.isn))
			if ackRel > peer.una {
				peer.una = ackRel
			}
		}
		if segLen > 0 && pl.flags&RST == 0 {
			peer.receive(seq, end)
		}
	}
	return f, nil
}

// receive records that sequence range [from, to) of the peer's stream
// arrived (relative to the peer's isn) and advances rcvNxt over contiguous data.
func (s *side) receive(from, to int64) {
	s.ooo = append(s.ooo, [2]int64{from, to})
	sort.Slice(s.ooo, func(i, j int) bool { return s.ooo[i][0] < s.ooo[j][0] })
	kept := s.ooo[:0]
	for _, iv := range s.ooo {
		if iv[0] <= s.rcvNxt {
			if iv[1] > s.rcvNxt {
				s.rcvNxt = iv[1]
			}
			continue
		}
		kept = append(kept, iv)
	}
	s.ooo = kept
	// a second pass in case an interval became contiguous
	changed := true
	for changed {
		changed = false
		kept = s.ooo[:0]
		for _, iv := range s.ooo {
			if iv[0] <= s.rcvNxt {
				if iv[1] > s.rcvNxt {
					s.rcvNxt = iv[1]
				}
				changed = true
				continue
			}
			kept = append(kept, iv)
		}
		s.ooo = kept
	}
}

// streamBytes returns n bytes of this side's stream from relative offset off:
// bytes sent before where known, filler elsewhere.
func (s *side) streamBytes(off int64, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		o := off + int64(i)
		if o >= 1 && o-1 < int64(len(s.buf)) {
			b[i] = s.buf[o-1]
		} else {
			b[i] = filler(o)
		}
	}
	return b
}

func filler(off int64) byte {
	m := off % 26
	if m < 0 {
		m += 26
	}
	return byte('a' + m)
}

// store remembers payload bytes at relative offset off.
func (s *side) store(off int64, b []byte) {
	if off < 1 || off-1+int64(len(b)) > maxStoredStream {
		return
	}
	need := int(off-1) + len(b)
	if need > len(s.buf) {
		old := len(s.buf)
		if need > cap(s.buf) {
			nb := make([]byte, need, need*2)
			copy(nb, s.buf)
			s.buf = nb
		} else {
			s.buf = s.buf[:need]
		}
		for i := old; i < need; i++ {
			s.buf[i] = filler(int64(i) + 1)
		}
	}
	copy(s.buf[off-1:], b)
}

func (p *parser) finish() error {
	s := p.s
	if s.Format == "pcapng-multi" {
		if s.Link2 == "" {
			s.Link2 = "raw"
			if s.Link == "raw" {
				s.Link2 = "ether"
			}
		}
		if s.Link2 == s.Link {
			return &ParseError{Line: p.seen["link2"], Err: fmt.Errorf("link2 %s: pcapng-multi needs two different link types", s.Link2)}
		}
	} else if s.Link2 != "" {
		return &ParseError{Line: p.seen["link2"], Err: errors.New("link2 needs format pcapng-multi")}
	}
	if p.section > 0 && !strings.HasPrefix(s.Format, "pcapng") {
		return &ParseError{Line: p.seen["format"], Err: errors.New("section lines need a pcapng format")}
	}
	for _, f := range s.frames {
		link := s.Link
		if f.Iface == 1 {
			if s.Format != "pcapng-multi" {
				return &ParseError{Line: f.Line, Err: errors.New("iface=1 needs format pcapng-multi")}
			}
			link = s.Link2
		}
		if link == "raw4" && !f.Src.Addr().Is4() {
			return &ParseError{Line: f.Line, Err: errors.New("link raw4 carries IPv4 only")}
		}
	}
	if !s.Unsorted {
		sort.SliceStable(s.frames, func(i, j int) bool { return s.frames[i].Offset < s.frames[j].Offset })
	}
	return nil
}
