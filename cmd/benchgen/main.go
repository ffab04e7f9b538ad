// Command benchgen writes large deterministic captures for benchmarks,
// compares pcapsleuth with tshark on them, and compares two builds of
// pcapsleuth with each other (ab).
//
//	go run ./cmd/benchgen gen -out big.pcap -size 1G [-snaplen 96] [-conns 2000] [-seed 1] [-leak-life 60s -clients 64]
//	go run ./cmd/benchgen compare -runs 3 -pcapsleuth ./pcapsleuth big.pcap [more.pcap ...]
//	go run ./cmd/benchgen ab -a ./old -b ./new -rounds 30 big.pcap
//	go run ./cmd/benchgen gen -kind synflood|ooo|overlap|longconn|timejump|seqwrap -packets N -out f.pcap
//
// The -kind values other than mixed write the adversarial captures of the
// robustness tests (adversarial.go, docs/robustness.md).
//
// The traffic: many concurrent connections, each with a handshake, a request,
// an MSS-sized response, ACKs every other segment, about 1 % retransmitted
// and 0.3 % reordered segments, and endings drawn from graceful closes from
// either side, resets, CLOSE_WAIT leaks, data after FIN and idle keep-alive.
// The same flags always give the same bytes.
package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: benchgen gen|compare|ab [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "gen":
		err = gen(os.Args[2:])
	case "compare":
		err = compare(os.Args[2:])
	case "ab":
		err = ab(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchgen:", err)
		os.Exit(1)
	}
}

func parseSize(s string) (int64, error) {
	mult := int64(1)
	switch {
	case strings.HasSuffix(s, "G"):
		mult, s = 1<<30, strings.TrimSuffix(s, "G")
	case strings.HasSuffix(s, "M"):
		mult, s = 1<<20, strings.TrimSuffix(s, "M")
	case strings.HasSuffix(s, "K"):
		mult, s = 1<<10, strings.TrimSuffix(s, "K")
	}
	n, err := strconv.ParseFloat(s, 64)
	return int64(n * float64(mult)), err
}

const mss = 1448

type ending uint8

const (
	endClientClose   ending = iota // client FIN, server FIN
	endServerClose                 // server FIN first
	endReset                       // client RST
	endCloseWait                   // client FIN ACKed, server never closes
	endWriteAfterFIN               // client FIN, server keeps writing, client RST
	endIdle                        // keep-alive: stays open, idle
)

type conn struct {
	cip, sip     [4]byte
	cport, sport uint16
	cseq, sseq   uint32
	step         int
	segsLeft     int
	ending       ending
	pending      []pkt // scheduled packets (retransmission, reordered)
	done         bool
	unacked      int
	rounds       int  // request/response rounds left (keep-alive)
	small        bool // this response is one small segment
}

type pkt struct {
	fromClient bool
	flags      uint8
	seq, ack   uint32
	n          int
}

const (
	fFIN = 0x01
	fSYN = 0x02
	fRST = 0x04
	fPSH = 0x08
	fACK = 0x10
)

type writer struct {
	w       *bufio.Writer
	snaplen int
	ts      int64 // ns
	written int64
	packets int64
	buf     []byte
	payload []byte
}

func (w *writer) header() error {
	var h [24]byte
	binary.LittleEndian.PutUint32(h[0:], 0xa1b2c3d4)
	binary.LittleEndian.PutUint16(h[4:], 2)
	binary.LittleEndian.PutUint16(h[6:], 4)
	snap := uint32(262144)
	if w.snaplen > 0 {
		snap = uint32(w.snaplen)
	}
	binary.LittleEndian.PutUint32(h[16:], snap)
	binary.LittleEndian.PutUint32(h[20:], 1)
	_, err := w.w.Write(h[:])
	w.written += 24
	return err
}

// emit writes one Ethernet/IPv4/TCP frame of c.
func (w *writer) emit(c *conn, p pkt) error {
	w.ts += 15000 + int64(w.packets%7)*1000
	wire := 14 + 20 + 20 + p.n
	b := w.buf[:wire]
	src, dst, sport, dport := c.sip, c.cip, c.sport, c.cport
	if p.fromClient {
		src, dst, sport, dport = c.cip, c.sip, c.cport, c.sport
	}
	putHeaders(b, src, dst, sport, dport, p.seq, p.ack, p.flags, p.n, uint16(w.packets))
	copy(b[54:], w.payload[:p.n])
	capLen := wire
	if w.snaplen > 0 && capLen > w.snaplen {
		capLen = w.snaplen
	}
	var rh [16]byte
	binary.LittleEndian.PutUint32(rh[0:], uint32(w.ts/1e9))
	binary.LittleEndian.PutUint32(rh[4:], uint32(w.ts%1e9/1000))
	binary.LittleEndian.PutUint32(rh[8:], uint32(capLen))
	binary.LittleEndian.PutUint32(rh[12:], uint32(wire))
	w.w.Write(rh[:])
	_, err := w.w.Write(b[:capLen])
	w.written += int64(16 + capLen)
	w.packets++
	return err
}

func gen(args []string) error {
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	out := fs.String("out", "", "output pcap")
	sizeS := fs.String("size", "100M", "approximate output size (K, M, G suffixes)")
	snaplen := fs.Int("snaplen", 0, "truncate frames to this many bytes (0 = full payload)")
	conc := fs.Int("conns", 2000, "concurrent connections")
	seed := fs.Int64("seed", 1, "random seed")
	wirePackets := fs.Int64("packets", 0, "stop after this many packets instead of -size")
	leakLife := fs.Duration("leak-life", 0, "close CLOSE_WAIT leaks (the server's late FIN, answered by the client's RST) and idle keep-alive connections (a normal close) this long after they go quiet; 0 = never, so they accumulate over the capture")
	clients := fs.Int("clients", 0, "client addresses used in turn (256 connections each before the next); 0 = a new one every 256 connections, so host pairs grow with the capture")
	kind := fs.String("kind", "mixed", "traffic: mixed (see above), synflood (one SYN from each of -packets distinct sources), or an adversarial kind: ooo, overlap, longconn, timejump, seqwrap (adversarial.go)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" {
		return errors.New("-out is required")
	}
	size, err := parseSize(*sizeS)
	if err != nil {
		return fmt.Errorf("-size: %w", err)
	}
	f, err := os.Create(*out)
	if err != nil {
		return err
	}
	defer f.Close()
	w := &writer{w: bufio.NewWriterSize(f, 4<<20), snaplen: *snaplen, ts: 1_700_000_000e9,
		buf: make([]byte, 14+40+mss+100), payload: make([]byte, mss+100)}
	for i := range w.payload {
		w.payload[i] = byte('a' + i%26)
	}
	if err := w.header(); err != nil {
		return err
	}
	rng := rand.New(rand.NewSource(*seed))
	if *kind == "synflood" {
		return synflood(w, rng, *wirePackets, size)
	}
	if _, ok := adversarialKinds[*kind]; ok {
		return genAdversarial(w, rng, *kind, *wirePackets, size, *out)
	}
	if *kind != "mixed" {
		return fmt.Errorf("-kind %q: want mixed, synflood, ooo, overlap, longconn, timejump or seqwrap", *kind)
	}
	active := make([]*conn, 0, *conc)
	var next uint32
	newConn := func() *conn {
		next++
		cip := [4]byte{10, 1, byte(next >> 16), byte(next >> 8)}
		if *clients > 0 {
			ci := (next >> 8) % uint32(*clients)
			cip = [4]byte{10, 1, byte(ci >> 8), byte(ci)}
		}
		c := &conn{
			cip: cip, sip: [4]byte{10, 2, 0, byte(1 + next%8)},
			cport: uint16(32768 + next%28000), sport: 8080,
			cseq: rng.Uint32(), sseq: rng.Uint32(), rounds: 1 + rng.Intn(4),
		}
		c.newResponse(rng)
		switch r := rng.Intn(100); {
		case r < 55:
			c.ending = endClientClose
		case r < 80:
			c.ending = endServerClose
		case r < 88:
			c.ending = endReset
		case r < 93:
			c.ending = endCloseWait
		case r < 97:
			c.ending = endWriteAfterFIN
		default:
			c.ending = endIdle
		}
		return c
	}
	for len(active) < *conc {
		active = append(active, newConn())
	}
	// late holds the quiet leaks and idle connections to close, in the
	// order they went quiet (so by due time).
	var late []lateClose
	for (*wirePackets == 0 && w.written < size) || (*wirePackets > 0 && w.packets < *wirePackets) {
		if len(late) > 0 && late[0].due <= w.ts {
			if err := late[0].c.closeLate(w); err != nil {
				return err
			}
			late[0] = lateClose{}
			late = late[1:]
			continue
		}
		i := rng.Intn(len(active))
		c := active[i]
		if err := step(w, c, rng); err != nil {
			return err
		}
		if c.done && len(c.pending) == 0 {
			if *leakLife > 0 && (c.ending == endCloseWait || c.ending == endIdle) {
				late = append(late, lateClose{due: w.ts + leakLife.Nanoseconds(), c: c})
			}
			active[i] = newConn()
		}
	}
	if err := w.w.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "benchgen: wrote %s: %d packets, %d bytes, %d connections\n", *out, w.packets, w.written, next)
	return nil
}

// lateClose is a connection to close at due (capture time, ns).
type lateClose struct {
	due int64
	c   *conn
}

// closeLate ends a quiet connection: a CLOSE_WAIT leak's server finally
// closes, and the client, whose socket timed out of FIN_WAIT_2 long ago,
// answers with a RST; an idle keep-alive connection closes normally.
func (c *conn) closeLate(w *writer) error {
	var ps []pkt
	if c.ending == endCloseWait {
		ps = []pkt{{false, fFIN | fACK, c.sseq, c.cseq + 1, 0}, {true, fRST, c.cseq + 1, 0, 0}}
	} else {
		ps = []pkt{{true, fFIN | fACK, c.cseq, c.sseq, 0}, {false, fFIN | fACK, c.sseq, c.cseq + 1, 0}, {true, fACK, c.cseq + 1, c.sseq + 1, 0}}
	}
	for _, p := range ps {
		if err := w.emit(c, p); err != nil {
			return err
		}
	}
	return nil
}

// synflood writes one SYN from each of n distinct sources (or until size
// bytes) to one listener: the adversarial capture of the robustness issue.
func synflood(w *writer, rng *rand.Rand, n, size int64) error {
	c := &conn{sip: [4]byte{10, 2, 0, 1}, sport: 443}
	for i := int64(0); (n > 0 && i < n) || (n == 0 && w.written < size); i++ {
		c.cip = [4]byte{byte(11 + i>>24), byte(i >> 16), byte(i >> 8), byte(i)}
		c.cport = uint16(1024 + rng.Intn(64000))
		if err := w.emit(c, pkt{true, fSYN, rng.Uint32(), 0, 0}); err != nil {
			return err
		}
	}
	if err := w.w.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "benchgen: wrote a SYN flood: %d packets, %d bytes\n", w.packets, w.written)
	return nil
}

// newResponse draws the next response: most are one small segment, some are
// bulk transfers of up to 40 MSS-sized segments.
func (c *conn) newResponse(rng *rand.Rand) {
	c.small = rng.Intn(10) < 7
	c.segsLeft = 1
	if !c.small {
		c.segsLeft = 2 + rng.Intn(39)
	}
}

// step emits the next packet(s) of a connection's life.
func step(w *writer, c *conn, rng *rand.Rand) error {
	if len(c.pending) > 0 {
		p := c.pending[0]
		c.pending = c.pending[1:]
		return w.emit(c, p)
	}
	emit := func(p pkt) error { return w.emit(c, p) }
	switch c.step {
	case 0:
		c.step++
		return emit(pkt{true, fSYN, c.cseq, 0, 0})
	case 1:
		c.step++
		return emit(pkt{false, fSYN | fACK, c.sseq, c.cseq + 1, 0})
	case 2:
		c.cseq++
		c.sseq++
		c.step++
		return emit(pkt{true, fACK, c.cseq, c.sseq, 0})
	case 3: // request
		c.step++
		n := 200 + rng.Intn(300)
		p := pkt{true, fPSH | fACK, c.cseq, c.sseq, n}
		c.cseq += uint32(n)
		return emit(p)
	case 4: // response segments
		n := mss
		if c.small {
			n = 100 + rng.Intn(900)
		} else if c.segsLeft == 1 {
			n = 1 + rng.Intn(mss)
		}
		p := pkt{false, fACK, c.sseq, c.cseq, n}
		c.sseq += uint32(n)
		c.segsLeft--
		c.unacked++
		switch r := rng.Intn(1000); {
		case r < 10: // lost after the capture point: resent later
			c.pending = append(c.pending, pkt{true, fACK, c.cseq, p.seq, 0}, pkt{true, fACK, c.cseq, p.seq, 0}, p)
		case r < 13 && c.segsLeft > 1: // reordered with the next one
			nx := pkt{false, fACK, c.sseq, c.cseq, mss}
			c.sseq += mss
			c.segsLeft--
			if err := emit(nx); err != nil {
				return err
			}
		}
		if c.unacked >= 2 || c.segsLeft == 0 {
			c.unacked = 0
			c.pending = append(c.pending, pkt{true, fACK, c.cseq, c.sseq, 0})
		}
		if c.segsLeft == 0 {
			c.step++
			if c.rounds--; c.rounds > 0 {
				c.step = 3 // next request on the same connection
				c.newResponse(rng)
			}
		}
		return emit(p)
	case 5: // ending
		c.step++
		switch c.ending {
		case endClientClose:
			c.pending = append(c.pending, pkt{false, fFIN | fACK, c.sseq, c.cseq + 1, 0}, pkt{true, fACK, c.cseq + 1, c.sseq + 1, 0})
			c.done = true
			return emit(pkt{true, fFIN | fACK, c.cseq, c.sseq, 0})
		case endServerClose:
			c.pending = append(c.pending, pkt{true, fFIN | fACK, c.cseq, c.sseq + 1, 0}, pkt{false, fACK, c.sseq + 1, c.cseq + 1, 0})
			c.done = true
			return emit(pkt{false, fFIN | fACK, c.sseq, c.cseq, 0})
		case endReset:
			c.done = true
			return emit(pkt{true, fRST | fACK, c.cseq, c.sseq, 0})
		case endCloseWait:
			c.pending = append(c.pending, pkt{false, fACK, c.sseq, c.cseq + 1, 0})
			c.done = true
			return emit(pkt{true, fFIN | fACK, c.cseq, c.sseq, 0})
		case endWriteAfterFIN:
			c.cseq++
			c.pending = append(c.pending, pkt{false, fACK, c.sseq, c.cseq, 0},
				pkt{false, fPSH | fACK, c.sseq, c.cseq, 512}, pkt{true, fRST, c.cseq, 0, 0})
			c.done = true
			return emit(pkt{true, fFIN | fACK, c.cseq - 1, c.sseq, 0})
		default: // idle keep-alive: one last ACK, then nothing
			c.done = true
			return emit(pkt{true, fACK, c.cseq, c.sseq, 0})
		}
	}
	c.done = true
	return nil
}

// compare runs pcapsleuth and tshark alternately on each capture and prints
// medians, the ratio, packets/s, MB/s and peak RSS. Each timed run starts
// with the capture read once untimed (warmCache).
func compare(args []string) error {
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	runs := fs.Int("runs", 3, "runs of each tool per capture")
	bin := fs.String("pcapsleuth", "./pcapsleuth", "pcapsleuth binary")
	out := fs.String("report", "html", "report pcapsleuth writes: html, json or none")
	tsharkArgs := fs.String("tshark", "-q -z conv,tcp", "tshark arguments besides -r FILE")
	skipTshark := fs.Bool("no-tshark", false, "measure pcapsleuth only")
	skipLoop := fs.Bool("no-decode-loop", false, "do not time the bare decode loop (pcapgo + DecodingLayerParser)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	for _, capture := range fs.Args() {
		fi, err := os.Stat(capture)
		if err != nil {
			return err
		}
		packets, err := countPackets(capture)
		if err != nil {
			return err
		}
		var ps, ts []result
		var loops []float64
		for i := 0; i < *runs; i++ {
			if !*skipLoop {
				if err := warmCache(capture); err != nil {
					return err
				}
				secs, _, err := decodeLoop(capture)
				if err != nil {
					return fmt.Errorf("decode loop: %w", err)
				}
				loops = append(loops, secs)
			}
			if err := warmCache(capture); err != nil {
				return err
			}
			r, err := measure(*bin, analyzeArgs(capture, *out, ".bench")...)
			if err != nil {
				return fmt.Errorf("pcapsleuth: %w", err)
			}
			ps = append(ps, r)
			if !*skipTshark {
				if err := warmCache(capture); err != nil {
					return err
				}
				a := append([]string{"-r", capture}, strings.Fields(*tsharkArgs)...)
				r, err := measure("tshark", a...)
				if err != nil {
					return fmt.Errorf("tshark: %w", err)
				}
				ts = append(ts, r)
			}
		}
		mb := float64(fi.Size()) / 1e6
		p := median(ps)
		fmt.Printf("capture %s: %.0f MB, %d packets\n", capture, mb, packets)
		fmt.Printf("  pcapsleuth analyze (%s report): median %.2f s over %d runs, %.1f M packets/s, %.0f MB/s, peak RSS %.0f MB\n",
			*out, p.secs, len(ps), float64(packets)/p.secs/1e6, mb/p.secs, float64(p.rssKB)/1024)
		if len(loops) > 0 {
			sort.Float64s(loops)
			l := loops[len(loops)/2]
			fmt.Printf("  bare decode loop (pcapgo + DecodingLayerParser): median %.2f s; pcapsleuth takes %.1f times as long (the issue's bound: 2)\n",
				l, p.secs/l)
		}
		if len(ts) > 0 {
			t := median(ts)
			fmt.Printf("  tshark %s: median %.2f s, %.2f M packets/s, peak RSS %.0f MB\n",
				*tsharkArgs, t.secs, float64(packets)/t.secs/1e6, float64(t.rssKB)/1024)
			fmt.Printf("  ratio: pcapsleuth is %.1fx faster than tshark, with %.1fx less memory\n",
				t.secs/p.secs, float64(t.rssKB)/float64(p.rssKB))
		}
	}
	return nil
}

// warmCache reads path once, so that the timed run after it finds the
// capture in the page cache. On the project's virtual machines the page
// cache loses a file's pages while most of the memory is free (the
// twenty-second session's: 1.7 GB of the two 1 GB captures cached, 22 GB
// free, and tens of MB less every minute while idle), so a run found part
// of its capture on the disk or not, at random: the bare decode loop took
// 1.4 s or 3.4 s on h1g within an hour, and whichever tool read the
// evicted part paid for it.
func warmCache(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := io.Copy(io.Discard, f); err != nil {
		return fmt.Errorf("reading %s ahead of a run: %w", path, err)
	}
	return nil
}

type result struct {
	secs  float64
	cpu   float64 // user and system CPU seconds
	rssKB int64
}

// analyzeArgs are the arguments of a pcapsleuth run on capture writing
// report (html, json or none) next to it, its name ending in suffix.
func analyzeArgs(capture, report, suffix string) []string {
	outFile, format := os.DevNull, "json"
	switch report {
	case "html":
		outFile, format = capture+suffix+".html", "html"
	case "json":
		outFile = capture + suffix + ".json"
	}
	return []string{"analyze", capture, "--format", format, "-o", outFile, "--quiet"}
}

func median(rs []result) result {
	s := append([]result(nil), rs...)
	sort.Slice(s, func(i, j int) bool { return s[i].secs < s[j].secs })
	m := s[len(s)/2]
	var maxRSS int64
	for _, r := range rs {
		maxRSS = max(maxRSS, r.rssKB)
	}
	m.rssKB = maxRSS
	return m
}

func measure(name string, args ...string) (result, error) {
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = nil, os.Stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() > 1 {
			return result{}, err
		}
	}
	r := result{secs: time.Since(start).Seconds()}
	r.rssKB, r.cpu = usage(cmd.ProcessState)
	return r, nil
}

// countPackets counts the records of a little-endian pcap written by gen.
func countPackets(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	var hdr [24]byte
	if _, err := r.Read(hdr[:]); err != nil {
		return 0, err
	}
	if binary.LittleEndian.Uint32(hdr[:]) != 0xa1b2c3d4 {
		return 0, nil // not ours: packet rate not printed
	}
	var n int64
	var rh [16]byte
	for {
		if _, err := ioReadFull(r, rh[:]); err != nil {
			return n, nil
		}
		cl := int(binary.LittleEndian.Uint32(rh[8:]))
		if _, err := r.Discard(cl); err != nil {
			return n, nil
		}
		n++
	}
}

func ioReadFull(r *bufio.Reader, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := r.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// putHeaders writes the 54 bytes of Ethernet, IPv4 (with its checksum) and
// TCP headers of a segment carrying n payload bytes into b.
func putHeaders(b []byte, src, dst [4]byte, sport, dport uint16, seq, ack uint32, flags uint8, n int, ipID uint16) {
	copy(b[0:6], []byte{2, 0, 0, 0, 0, 2})
	copy(b[6:12], []byte{2, 0, 0, 0, 0, 1})
	b[12], b[13] = 0x08, 0x00
	ip := b[14:34]
	ip[0], ip[1] = 0x45, 0
	binary.BigEndian.PutUint16(ip[2:], uint16(20+20+n))
	binary.BigEndian.PutUint16(ip[4:], ipID)
	ip[6], ip[7], ip[8], ip[9] = 0x40, 0, 64, 6
	ip[10], ip[11] = 0, 0
	copy(ip[12:16], src[:])
	copy(ip[16:20], dst[:])
	var sum uint32
	for i := 0; i < 20; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(ip[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(ip[10:], ^uint16(sum))
	tcp := b[34:54]
	binary.BigEndian.PutUint16(tcp[0:], sport)
	binary.BigEndian.PutUint16(tcp[2:], dport)
	binary.BigEndian.PutUint32(tcp[4:], seq)
	binary.BigEndian.PutUint32(tcp[8:], ack)
	tcp[12] = 5 << 4
	tcp[13] = flags
	binary.BigEndian.PutUint16(tcp[14:], 65535)
	tcp[16], tcp[17], tcp[18], tcp[19] = 0, 0, 0, 0
}
