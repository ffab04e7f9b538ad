package analysis

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/pcapsleuth/pcapsleuth/detectors"
	"github.com/pcapsleuth/pcapsleuth/flows"
	"github.com/pcapsleuth/pcapsleuth/render"
)

// summarizer turns every finished connection into its report line (spilled to
// the store) and keeps the per-side state counts of the text summary.
type summarizer struct {
	store *render.ConnStore
	conns int64
	sides [2]sideStats
	// closeWait counts sockets still in CLOSE_WAIT per holder endpoint.
	closeWait map[string]*holderStats
	// latest is the last packet time of the connections handed on so far:
	// the capture ends no earlier.
	latest int64
	// scratch and rtt hold the summary being stored: one allocation less
	// per connection (a tenth of what h1g's analysis allocated).
	scratch render.ConnSummary
	rtt     float64
}

type sideStats struct {
	conns  int64
	states [flows.NumStates]int64
	// timeWait holds when each socket ending in TIME_WAIT entered it: at the
	// end of the capture those older than 60 s are CLOSED. Those already
	// older than that at the latest packet are counted CLOSED as they go
	// (see prune), so it holds about a minute of closes, not the capture's.
	timeWait []int64
	pruneAt  int // length at which prune runs next
	// oldestCloseWait is when the oldest socket still in CLOSE_WAIT entered it.
	oldestCloseWait int64
}

// prune counts as CLOSED the TIME_WAIT sockets that have left it by
// latest (so by the end of the capture) and forgets them. Amortized O(1):
// it runs again when the list has doubled.
func (st *sideStats) prune(latest int64) {
	kept := st.timeWait[:0]
	for _, tw := range st.timeWait {
		if latest-tw >= flows.TimeWaitDuration {
			st.states[flows.StateClosed]++
		} else {
			kept = append(kept, tw)
		}
	}
	st.timeWait = kept
	st.pruneAt = max(2*len(kept), 1024)
}

type holderStats struct {
	side   flows.Dir
	count  int64
	oldest int64
}

func newSummarizer(store *render.ConnStore) *summarizer {
	return &summarizer{store: store, closeWait: map[string]*holderStats{}}
}

// Segment implements flows.Observer.
func (s *summarizer) Segment(*flows.Conn, *flows.Segment) {}

// Done implements flows.Observer.
func (s *summarizer) Done(c *flows.Conn) {
	s.conns++
	s.latest = max(s.latest, c.LastTS)
	sum := &s.scratch // the store encodes it at once
	summarizeInto(sum, c, &s.rtt)
	var tw [2]int64
	for d := flows.Orig; d <= flows.Resp; d++ {
		e := c.Endpoint(d)
		st := &s.sides[d]
		st.conns++
		final, since := finalState(e)
		switch final {
		case flows.StateTimeWait:
			st.timeWait = append(st.timeWait, since)
			if len(st.timeWait) >= st.pruneAt {
				st.prune(s.latest)
			}
			tw[d] = since
		case flows.StateCloseWait:
			st.states[final]++
			if st.oldestCloseWait == 0 || since < st.oldestCloseWait {
				st.oldestCloseWait = since
			}
			key := c.Resp.Addr.String()
			if d == flows.Orig {
				key = c.Orig.Addr.Addr().String() + " → " + c.Resp.Addr.String()
			}
			h := s.closeWait[key]
			if h == nil {
				h = &holderStats{side: d}
				s.closeWait[key] = h
			}
			h.count++
			if h.oldest == 0 || since < h.oldest {
				h.oldest = since
			}
		default:
			st.states[final]++
		}
	}
	s.store.Add(sum, tw)
}

// finalState is the endpoint's last inferred state and when it entered it.
func finalState(e *flows.Endpoint) (flows.State, int64) {
	if n := len(e.Transitions); n > 0 {
		t := e.Transitions[n-1]
		return t.State, t.TS
	}
	return flows.StateUnknown, 0
}

// Summarize returns the report line of one connection, with states as they
// stood when the connection was handed on (the store applies the TIME_WAIT
// timer against the capture's end).
func Summarize(c *flows.Conn) *render.ConnSummary {
	s := new(render.ConnSummary)
	summarizeInto(s, c, new(float64))
	return s
}

// summarizeInto is Summarize into s, every field set; rtt holds the
// handshake RTT s points to when it has one.
func summarizeInto(s *render.ConnSummary, c *flows.Conn, rtt *float64) {
	*s = render.ConnSummary{
		ID: c.ID, Client: c.Orig.Addr.String(), Server: c.Resp.Addr.String(),
		DirectionFrom: "syn", Packets: c.Packets, Retransmissions: c.Retransmissions(),
		ClientState: c.Orig.State.String(), ServerState: c.Resp.State.String(),
		Start:         time.Unix(0, c.FirstTS).UTC().Format(time.RFC3339Nano),
		DurationS:     float64(c.Duration()) / 1e9,
		ClientPackets: c.Orig.Packets, ServerPackets: c.Resp.Packets,
		ClientBytes: c.Orig.Bytes, ServerBytes: c.Resp.Bytes,
		ClientMSS: c.Orig.MSS, ServerMSS: c.Resp.MSS,
		History: History(c), End: c.EndState.String(),
		TLSSNI: c.App().TLS.SNI, HTTPStatus: c.App().HTTP.Status,
	}
	if !c.DirKnown {
		s.DirectionFrom = "port-heuristic"
	}
	if c.HandshakeRTT > 0 {
		*rtt = float64(c.HandshakeRTT) / 1e6
		s.HandshakeRTTMS = rtt
	}
	if v := c.App().TLS.ServerVersion; v != 0 {
		s.TLSVersion = tlsVersionName(v)
	} else if v := c.App().TLS.ClientVersion; v != 0 {
		s.TLSVersion = tlsVersionName(v) + " (offered)"
	}
	if h := c.App().HTTP; h.Method != "" {
		s.HTTPRequest = h.Method + " " + h.Target
		if h.Host != "" {
			s.HTTPRequest += " (Host: " + h.Host + ")"
		}
	}
}

func tlsVersionName(v uint16) string {
	switch v {
	case 0x0300:
		return "SSL 3.0"
	case 0x0301:
		return "TLS 1.0"
	case 0x0302:
		return "TLS 1.1"
	case 0x0303:
		return "TLS 1.2"
	case 0x0304:
		return "TLS 1.3"
	}
	return fmt.Sprintf("0x%04x", v)
}

// History is a Zeek-style history string: one letter per event kind, upper
// case for the client and lower case for the server, in order of first
// occurrence: S SYN, H SYN-ACK, D data, F FIN, R RST; then T retransmissions,
// W zero windows and G gaps (capture misses) for either side, whose first
// times the tracker does not keep.
func History(c *flows.Conn) string {
	type ev struct {
		ts int64
		ch byte
	}
	var buf [8]ev
	evs := buf[:0]
	add := func(ts int64, ch byte) {
		if ts != 0 {
			evs = append(evs, ev{ts, ch})
		}
	}
	add(c.SYNTS, 'S')
	add(c.SYNACKTS, 'h')
	for d := flows.Orig; d <= flows.Resp; d++ {
		e := c.Endpoint(d)
		up := d == flows.Orig
		letter := func(b byte) byte {
			if up {
				return b
			}
			return b + 'a' - 'A'
		}
		add(e.FirstDataTS, letter('D'))
		add(e.FINTS, letter('F'))
		add(e.RSTTS, letter('R'))
	}
	for i := 1; i < len(evs); i++ { // insertion sort: stable, no allocation
		for j := i; j > 0 && evs[j].ts < evs[j-1].ts; j-- {
			evs[j], evs[j-1] = evs[j-1], evs[j]
		}
	}
	var out [16]byte
	b := out[:0]
	for _, e := range evs {
		b = append(b, e.ch)
	}
	for d := flows.Orig; d <= flows.Resp; d++ {
		e := c.Endpoint(d)
		up := d == flows.Orig
		for _, x := range []struct {
			n  int64
			ch byte
		}{{e.Retransmissions, 'T'}, {e.ZeroWindows, 'W'}, {e.PrevNotCaptured, 'G'}} {
			if x.n > 0 {
				ch := x.ch
				if !up {
					ch += 'a' - 'A'
				}
				b = append(b, ch)
			}
		}
	}
	return string(b)
}

// summary builds the text summary at the end of the capture.
func (s *summarizer) summary(end int64) render.Summary {
	out := render.Summary{Connections: s.conns, StateCounts: map[string]map[string]int64{}}
	for d := flows.Orig; d <= flows.Resp; d++ {
		st := &s.sides[d]
		counts := st.states
		for _, tw := range st.timeWait {
			if end-tw >= flows.TimeWaitDuration {
				counts[flows.StateClosed]++
			} else {
				counts[flows.StateTimeWait]++
			}
		}
		name := "client"
		if d == flows.Resp {
			name = "server"
		}
		m := map[string]int64{}
		for i, n := range counts {
			if n > 0 {
				m[flows.State(i).String()] = n
			}
		}
		out.StateCounts[name] = m
		line := fmt.Sprintf("%s side: %s connections", name, detectors.FormatCount(int64(st.conns)))
		var parts []string
		for _, x := range []flows.State{flows.StateEstablished, flows.StateCloseWait, flows.StateFinWait1,
			flows.StateFinWait2, flows.StateLastAck, flows.StateTimeWait, flows.StateSynSent, flows.StateSynReceived} {
			if n := counts[x]; n > 0 {
				p := fmt.Sprintf("%s still in %s", detectors.FormatCount(int64(n)), x)
				if x == flows.StateCloseWait && st.oldestCloseWait != 0 {
					p += fmt.Sprintf(" at the end of the capture, oldest %s", age(end-st.oldestCloseWait))
				}
				parts = append(parts, p)
			}
		}
		if len(parts) > 0 {
			line += ", " + strings.Join(parts, ", ")
		}
		out.Lines = append(out.Lines, line)
	}
	// The holders of CLOSE_WAIT sockets, most first.
	type kv struct {
		k string
		h *holderStats
	}
	var hs []kv
	for k, h := range s.closeWait {
		hs = append(hs, kv{k, h})
	}
	sort.Slice(hs, func(i, j int) bool {
		if hs[i].h.count != hs[j].h.count {
			return hs[i].h.count > hs[j].h.count
		}
		return hs[i].k < hs[j].k
	})
	for i, x := range hs {
		if i == 5 {
			out.Lines = append(out.Lines, fmt.Sprintf("... and %s more endpoints holding CLOSE_WAIT sockets", detectors.FormatCount(int64(len(hs)-5))))
			break
		}
		who := "server sockets on " + x.k
		if x.h.side == flows.Orig {
			who = "client sockets " + x.k
		}
		out.Lines = append(out.Lines, fmt.Sprintf("%s %s in CLOSE_WAIT at the end, oldest %s", detectors.FormatCount(int64(x.h.count)), who, age(end-x.h.oldest)))
	}
	return out
}

// age formats a duration in seconds the way people read them.
func age(ns int64) string {
	s := float64(ns) / 1e9
	switch {
	case s < 10:
		return fmt.Sprintf("%.1f s", s)
	case s < 3600:
		return fmt.Sprintf("%.0f s", s)
	default:
		return fmt.Sprintf("%.1f h", s/3600)
	}
}
