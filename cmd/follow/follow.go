// Package follow is the `pcapsleuth follow` command: every packet of one
// connection, with the tracker's classification (retransmission, dup ACK,
// zero window, ...), then the payload each side sent, reassembled in
// sequence order as far as it was captured.
//
// It reads the capture once, tracking every connection as analyze does (so
// the IDs are those of `pcapsleuth flows` with the same packet filter), and
// prints the chosen connection's segments as they come: memory stays bounded
// whatever the connection's length, up to --max-bytes of payload.
package follow

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pcapsleuth/pcapsleuth/cmd/analysis"
	"github.com/pcapsleuth/pcapsleuth/cmd/cli"
	"github.com/pcapsleuth/pcapsleuth/cmd/config"
	"github.com/pcapsleuth/pcapsleuth/cmd/conns"
	"github.com/pcapsleuth/pcapsleuth/cmd/internal/interrupt"
	"github.com/pcapsleuth/pcapsleuth/cmd/internal/memory"
	"github.com/pcapsleuth/pcapsleuth/decode"
	"github.com/pcapsleuth/pcapsleuth/flows"
)

// Options holds what one run of `follow` needs.
type Options struct {
	IO cli.Streams

	Inputs   []string
	Flow     string // an ID, or CLIENT-SERVER (ip:port-ip:port)
	Payload  string // auto | text | hex | none
	MaxBytes int
	Packets  bool // print the packet list

	Settings *config.Settings
	// Memory is --memory-limit and --huge-pages (package memory).
	Memory memory.Flags
}

// NewCmdFollow returns the command; runF (tests) replaces the run.
func NewCmdFollow(io cli.Streams, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: io, Settings: config.New()}
	cmd := &cobra.Command{
		Use:   "follow CAPTURE... --flow ID|CLIENT-SERVER",
		Short: "Print one connection's packets and reassembled payload",
		Long: `Follow prints every packet of one connection: frame number, time since the
connection's first packet, direction (C>S: client to server), flags, relative
sequence and acknowledgment numbers, payload length, window (scaled when
window scaling was negotiated) and the tracker's notes (retransmission,
dup-ack, zero-window, after-peer-fin, ...). Then the payload each side sent,
reassembled in sequence order (retransmissions counted once, holes marked),
as far as the capture holds it: a headers-only capture (tcpdump -s 96) has
none.

--flow takes an ID of pcapsleuth flows (use the same packet filter flags, as
they change the numbering) or the two endpoints, e.g.
10.0.0.1:40312-10.0.0.2:8080 or [2001:db8::1]:40312-[2001:db8::2]:443; the
endpoints select every connection on that 4-tuple (port reuse included).

Ctrl-C stops the reading and still prints the end of what was read (standard
input reads on until its writer closes it; press Ctrl-C twice to stop it too),
exit status 130 (143 for SIGTERM).`,
		Example: `  pcapsleuth flows dump.pcap --state CLOSE_WAIT
  pcapsleuth follow dump.pcap --flow 17
  pcapsleuth follow dump.pcap --flow 10.0.0.1:40312-10.0.0.2:8080 --payload hex
  pcapsleuth follow dump.pcap --flow 3 --payload none`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return errors.New("follow needs a capture and --flow")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Inputs = args
			if opts.Flow == "" {
				return cli.UsageError(errors.New("--flow is required: a connection ID from `pcapsleuth flows`, or CLIENT-SERVER endpoints"))
			}
			if _, err := parseFlow(opts.Flow); err != nil {
				return cli.UsageError(err)
			}
			if err := opts.Settings.Prepare(cmd); err != nil {
				return cli.UsageError(err)
			}
			if runF != nil {
				return runF(opts)
			}
			return Run(opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Flow, "flow", "", "the connection: an ID of pcapsleuth flows, or CLIENT-SERVER endpoints (ip:port-ip:port)")
	cli.StringEnumFlag(cmd, &opts.Payload, "payload", "", "auto", []string{"auto", "text", "hex", "none"}, "how to print the reassembled payload (auto: text when printable)")
	f.IntVar(&opts.MaxBytes, "max-bytes", 64<<10, "payload bytes printed at most (both directions together)")
	f.BoolVar(&opts.Packets, "packets", true, "print the packet list (--packets=false: payload only)")
	opts.Memory.Bind(f)
	opts.Settings.Bind(cmd)
	return cmd
}

// selector is the parsed --flow.
type selector struct {
	id   int64
	a, b netip.AddrPort // when id == 0
}

func (s selector) match(c *flows.Conn) bool {
	if s.id != 0 {
		return c.ID == s.id
	}
	o, r := c.Orig.Addr, c.Resp.Addr
	return (o == s.a && r == s.b) || (o == s.b && r == s.a)
}

// parseFlow reads an ID or CLIENT-SERVER.
func parseFlow(s string) (selector, error) {
	s = strings.TrimSpace(s)
	if id, err := strconv.ParseInt(strings.TrimPrefix(strings.TrimPrefix(s, "C"), "#"), 10, 64); err == nil {
		if id < 1 {
			return selector{}, fmt.Errorf("--flow %s: IDs start at 1", s)
		}
		return selector{id: id}, nil
	}
	// Split at a '-' that follows a port: "a:1-b:2", "[v6]:1-[v6]:2".
	for i := 0; i < len(s); i++ {
		if s[i] != '-' {
			continue
		}
		a, err1 := netip.ParseAddrPort(s[:i])
		b, err2 := netip.ParseAddrPort(s[i+1:])
		if err1 == nil && err2 == nil {
			return selector{a: unmap(a), b: unmap(b)}, nil
		}
	}
	return selector{}, fmt.Errorf("--flow %q: want a connection ID (pcapsleuth flows) or CLIENT-SERVER such as 10.0.0.1:40312-10.0.0.2:8080", s)
}

func unmap(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// Run reads the capture and prints the connection.
func Run(opts *Options) error {
	sel, err := parseFlow(opts.Flow)
	if err != nil {
		return cli.UsageError(err)
	}
	paths, err := conns.Timeline(opts.Inputs, opts.Settings)
	if err != nil {
		return err
	}
	stop, err := opts.Memory.Start(1)
	if err != nil {
		return cli.UsageError(err)
	}
	defer stop()
	w := bufio.NewWriter(opts.IO.Out)
	defer w.Flush()
	p := &printer{w: w, sel: sel, opts: opts, asm: newAssembler(opts.MaxBytes)}
	// Standard error only: the buffered output is the reading goroutine's.
	stops := interrupt.New("listing", func(format string, args ...any) {
		fmt.Fprintf(opts.IO.Err, format, args...)
	}, os.Exit)
	defer stops.Watch()()
	ao := opts.Settings.Options(paths)
	tracker := flows.NewTracker(ao.Flows, p)
	dec := decode.NewDecoder()
	var frame decode.Frame
	var pkt decode.Packet
	var base int64
	stopped := ""
	for _, path := range paths {
		if stopped != "" {
			break
		}
		var r *decode.Reader
		if path == "-" {
			r, err = decode.NewReader(opts.IO.In, ao.Reader)
		} else {
			r, err = decode.Open(path, ao.Reader)
		}
		if err != nil {
			return &cli.ExitError{Code: cli.ExitUsage, Err: cli.Explain(&analysis.InputError{Path: path, Err: err})}
		}
		var n int64
		stream := analysis.IsStream(path)
		for {
			if stream || n&1023 == 0 {
				if stopped = stops.Stop(stream); stopped != "" {
					fmt.Fprintf(opts.IO.Err, "pcapsleuth: warning: %s: reading stopped early: %s after %d frames\n", path, stopped, n)
					break
				}
			}
			err := r.Next(&frame)
			if err == io.EOF {
				break
			}
			if err != nil {
				fmt.Fprintf(opts.IO.Err, "pcapsleuth: warning: %s: reading stopped early: %v\n", path, err)
				break
			}
			n++
			if !dec.Decode(&frame, &pkt) {
				continue
			}
			pkt.Frame += base
			if ao.Filter != nil && !ao.Filter(&pkt) {
				continue
			}
			tracker.Add(&pkt)
		}
		r.Close()
		base += n
	}
	tracker.Flush()
	if p.conns == 0 {
		hint := "list the connections with `pcapsleuth flows`"
		if f := opts.Settings.FilterString(); f != "" {
			hint += " and the same packet filter (" + f + ")"
		}
		return stops.Cut(&cli.ExitError{Code: cli.ExitUsage, Err: fmt.Errorf("no connection %s in %s; %s", opts.Flow, strings.Join(paths, ", "), hint)})
	}
	p.finish()
	return stops.Cut(nil)
}

// printer is the tracker observer that prints the selected connection.
type printer struct {
	w     *bufio.Writer
	sel   selector
	opts  *Options
	asm   *assembler
	cur   int64 // ID of the connection being printed
	conns int
	// packets counts printed packets per connection.
	packets int64
}

// Segment implements flows.Observer.
func (p *printer) Segment(c *flows.Conn, s *flows.Segment) {
	if !p.sel.match(c) {
		return
	}
	if c.ID != p.cur {
		p.cur = c.ID
		p.conns++
		dirNote := "client from its SYN"
		if !c.DirKnown {
			dirNote = "client guessed from the ports: the capture starts mid-connection"
		}
		fmt.Fprintf(p.w, "connection %d: %s → %s (%s)\n", c.ID, c.Orig.Addr, c.Resp.Addr, dirNote)
		if p.opts.Packets {
			fmt.Fprintf(p.w, "%8s  %-11s  %-3s  %-11s  %10s  %10s  %6s  %8s  %s\n", "FRAME", "TIME", "DIR", "FLAGS", "SEQ", "ACK", "LEN", "WIN", "NOTES")
		}
	}
	pk := s.P
	if p.opts.Packets {
		dir := "C>S"
		if s.Dir == flows.Resp {
			dir = "S>C"
		}
		notes := s.Kind.String()
		if pk.Truncated {
			notes = join(notes, "truncated by snaplen")
		}
		fmt.Fprintf(p.w, "%8d  %-11s  %-3s  %-11s  %10d  %10d  %6d  %8d  %s\n", pk.Frame,
			fmt.Sprintf("+%.6f", float64(pk.TS-c.FirstTS)/1e9), dir, pk.Flags, s.RelSeq, s.RelAck, pk.PayloadLen, window(c, s), notes)
	}
	p.packets++
	if pk.PayloadLen > 0 && p.opts.Payload != "none" {
		p.asm.add(c.ID, s.Dir, s.RelSeq, pk.Payload, pk.PayloadLen)
	}
}

// Done implements flows.Observer: the connection's summary follows its packets.
func (p *printer) Done(c *flows.Conn) {
	if !p.sel.match(c) {
		return
	}
	sum := analysis.Summarize(c)
	fmt.Fprintf(p.w, "-- %d packets, %s, client %s / server %s at the end, history %s, ended by %s",
		sum.Packets, fmt.Sprintf("%.3fs", sum.DurationS), sum.ClientState, sum.ServerState, sum.History, sum.End)
	if sum.Retransmissions > 0 {
		fmt.Fprintf(p.w, ", %d retransmissions", sum.Retransmissions)
	}
	fmt.Fprintln(p.w)
	if app := conns.Clip(appLine(sum.TLSSNI, sum.TLSVersion, sum.HTTPRequest, sum.HTTPStatus), 200); app != "" {
		fmt.Fprintf(p.w, "-- %s\n", app)
	}
	if p.opts.Payload != "none" {
		p.asm.write(p.w, c.ID, c.Orig.Addr.String(), c.Resp.Addr.String(), p.opts.Payload)
	}
	fmt.Fprintln(p.w)
}

func (p *printer) finish() {}

func appLine(sni, tlsv, req string, status int) string {
	switch {
	case sni != "" || tlsv != "":
		return strings.TrimSpace("TLS " + tlsv + " SNI " + sni)
	case req != "":
		if status != 0 {
			return fmt.Sprintf("HTTP %s → %d", req, status)
		}
		return "HTTP " + req
	}
	return ""
}

// window is the segment's receive window in bytes: scaled when both SYNs
// offered window scaling (never on a SYN itself), raw otherwise.
func window(c *flows.Conn, s *flows.Segment) uint32 {
	w := uint32(s.P.Window)
	if s.P.Flags&decode.FlagSYN != 0 {
		return w
	}
	e := c.Endpoint(s.Dir)
	peer := c.Endpoint(s.Dir.Reverse())
	if e.WScale >= 0 && peer.WScale >= 0 {
		return w << uint(e.WScale)
	}
	return w
}

func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + "," + b
}
