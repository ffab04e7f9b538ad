package render

import (
	"html"
	"html/template"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/pcapsleuth/pcapsleuth/decode"
	"github.com/pcapsleuth/pcapsleuth/flows"
)

// Ladder geometry, in SVG user units (CSS pixels at 100 %).
const (
	ladderWidth   = 1040
	ladderFrameX  = 58  // right edge of the frame number column
	ladderTimeX   = 142 // right edge of the time column
	ladderClientX = 210 // the client's lifeline
	ladderServerX = 630 // the server's lifeline
	ladderNoteX   = 642 // left edge of the notes column
	ladderHeadH   = 46
	ladderFootH   = 40
	ladderRowH    = 22
	ladderGapH    = 20
	ladderNoteMax = 62 // runes of a note shown in the column (all in the hover title)
)

// Gaps between two logged packets longer than this are compressed into a
// labelled break; so are gaps of ladderGapMin that are much longer than the
// connection's usual spacing.
const (
	ladderGapAlways = int64(1e9)
	ladderGapMin    = int64(200e6)
	ladderGapFactor = 20
)

// ladderView is what the HTML template shows around one ladder diagram.
type ladderView struct {
	ID        string // element id, unique in the report
	ConnID    int64
	Client    string
	Server    string
	Title     string // "Flow #17: 10.0.0.1:40312 → 10.0.0.2:8080"
	Facts     []string
	Filter    string // display filter for the flow
	Frames    string // display filter for the highlighted frames of the flow
	Shown     int    // packets drawn
	Packets   int64  // packets in the connection
	SVG       template.HTML
	Highlight int // highlighted frames drawn
}

// newLadderView draws c with the frames in highlight emphasised.
func newLadderView(id string, c *flows.Conn, highlight []int64) ladderView {
	hl := highlightedIn(c, highlight)
	v := ladderView{
		ID:      id,
		ConnID:  c.ID,
		Client:  cleanLine(addrString(c.Orig.Addr), 64),
		Server:  cleanLine(addrString(c.Resp.Addr), 64),
		Filter:  flowFilter(c.Orig.Addr, c.Resp.Addr),
		Frames:  framesFilter(hl),
		Shown:   len(c.Log),
		Packets: c.Packets,
	}
	v.Title = "Flow #" + strconv.FormatInt(c.ID, 10) + ": " + v.Client + " → " + v.Server
	v.Facts = connFacts(c)
	hlSet := make(map[int64]bool, len(hl))
	for _, f := range hl {
		hlSet[f] = true
	}
	v.SVG, v.Highlight = ladderSVG(c, hlSet)
	return v
}

// connFacts are the one-line facts shown above a ladder.
func connFacts(c *flows.Conn) []string {
	var f []string
	f = append(f, "started "+fmtTime(c.FirstTS))
	f = append(f, fmtNS(c.Duration())+", "+plural(c.Packets, "packet", "packets"))
	if r := c.Retransmissions(); r > 0 {
		f = append(f, plural(r, "retransmission", "retransmissions"))
	}
	if !c.DirKnown {
		f = append(f, "no SYN seen: client guessed from the ports")
	}
	f = append(f, "at the end: client "+c.Orig.State.String()+", server "+c.Resp.State.String())
	if c.App().TLS.SNI != "" {
		f = append(f, "TLS SNI "+cleanLine(c.App().TLS.SNI, 100))
	}
	if c.App().HTTP.Seen && c.App().HTTP.Method != "" {
		h := "HTTP " + cleanLine(c.App().HTTP.Method+" "+c.App().HTTP.Target, 120)
		if c.App().HTTP.Host != "" {
			h += " (Host " + cleanLine(c.App().HTTP.Host, 100) + ")"
		}
		if c.App().HTTP.Status != 0 {
			h += " → " + strconv.Itoa(c.App().HTTP.Status)
		}
		f = append(f, h)
	}
	return f
}

// addrString writes an address as the contract does: ip:port, [v6]:port.
func addrString(ap netip.AddrPort) string {
	if !ap.IsValid() {
		return "?"
	}
	return ap.String()
}

// ladderSVG draws the packet log of c as an inline SVG sequence diagram:
// the client's and the server's lifelines, one arrow per logged packet
// labelled with its flags, relative seq/ack, length and time; long gaps
// compressed into labelled breaks, elided packets marked, retransmissions,
// RSTs, FINs and the highlighted frames emphasised. Every text is cleaned
// and HTML-escaped here; the result is trusted markup for the template. It
// returns the number of highlighted rows drawn.
func ladderSVG(c *flows.Conn, highlight map[int64]bool) (template.HTML, int) {
	rows := ladderRows(c)
	h := ladderHeadH + ladderFootH
	for _, r := range rows {
		h += r.height()
	}
	var b strings.Builder
	b.Grow(512 + 400*len(rows))
	label := "Ladder diagram of flow #" + strconv.FormatInt(c.ID, 10) + ": " +
		plural(int64(len(c.Log)), "packet", "packets") + " shown of " + fmtInt(c.Packets)
	b.WriteString(`<svg class="ladder" xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 `)
	b.WriteString(itoa(ladderWidth) + " " + itoa(h) + `" width="` + itoa(ladderWidth) + `" height="` + itoa(h) + `" aria-label="`)
	b.WriteString(esc(label))
	b.WriteString(`">`)

	// Lifelines first, so rows draw over them.
	y0, y1 := ladderHeadH-4, h-ladderFootH+4
	for _, x := range []int{ladderClientX, ladderServerX} {
		line(&b, "lifeline", x, y0, x, y1)
	}
	role := "client"
	if !c.DirKnown {
		role = "client (guessed: no SYN seen)"
	}
	text(&b, "role", ladderClientX, 16, "middle", role)
	text(&b, "addr", ladderClientX, 32, "middle", cleanLine(addrString(c.Orig.Addr), 60))
	text(&b, "role", ladderServerX, 16, "middle", "server")
	text(&b, "addr", ladderServerX, 32, "middle", cleanLine(addrString(c.Resp.Addr), 60))
	text(&b, "colhead", ladderFrameX, 40, "end", "frame")
	text(&b, "colhead", ladderTimeX, 40, "end", "time (s)")

	notes := ladderNotes(c)
	y := ladderHeadH
	shown := 0
	for _, r := range rows {
		switch {
		case r.pkt != nil:
			if highlight[r.pkt.Frame] {
				shown++
			}
			packetRow(&b, c, r.pkt, y, highlight[r.pkt.Frame], notes[r.pkt.Frame])
		default:
			breakRow(&b, r, y)
		}
		y += r.height()
	}

	// Final states, under the lifelines.
	fy := h - ladderFootH + 8
	stateBox(&b, ladderClientX, fy, c.Orig.State)
	stateBox(&b, ladderServerX, fy, c.Resp.State)
	b.WriteString(`</svg>`)
	return template.HTML(b.String()), shown
}

// ladderRow is one row of a ladder: a packet, or a break standing for a
// long gap and/or packets not logged.
type ladderRow struct {
	pkt    *flows.LogEntry
	gap    int64 // ns of capture time the break stands for
	elided int64 // packets not logged
}

func (r ladderRow) height() int {
	if r.pkt != nil {
		return ladderRowH
	}
	return ladderGapH
}

// ladderRows lays out the log: packets, with a break before any packet
// that follows elided packets or a long gap.
func ladderRows(c *flows.Conn) []ladderRow {
	log := c.Log
	// The usual spacing of this connection, to tell a long gap.
	var deltas []int64
	for i := 1; i < len(log); i++ {
		if d := log[i].TS - log[i-1].TS; d > 0 {
			deltas = append(deltas, d)
		}
	}
	var median int64
	if len(deltas) > 0 {
		slices.Sort(deltas)
		median = deltas[len(deltas)/2]
	}
	rows := make([]ladderRow, 0, len(log)+8)
	if len(log) > 0 && log[0].Index > 0 {
		rows = append(rows, ladderRow{elided: log[0].Index})
	}
	for i := range log {
		if i > 0 {
			gap := log[i].TS - log[i-1].TS
			elided := log[i].Index - log[i-1].Index - 1
			long := gap >= ladderGapAlways || (gap >= ladderGapMin && gap >= ladderGapFactor*median)
			if elided > 0 || long {
				r := ladderRow{elided: max(elided, 0)}
				if long {
					r.gap = gap
				}
				rows = append(rows, r)
			}
		}
		rows = append(rows, ladderRow{pkt: &log[i]})
	}
	if n := len(log); n > 0 && c.Packets > log[n-1].Index+1 {
		rows = append(rows, ladderRow{elided: c.Packets - log[n-1].Index - 1})
	}
	if len(log) == 0 {
		rows = append(rows, ladderRow{elided: c.Packets})
	}
	return rows
}

// ladderNotes collects what is known about particular frames from the
// connection's application sniffing: TLS hellos, HTTP request and status
// lines (raw packet text, cleaned when drawn).
func ladderNotes(c *flows.Conn) map[int64]string {
	m := map[int64]string{}
	if f := c.App().TLS.ClientHelloFrame; f > 0 {
		n := "TLS ClientHello"
		if c.App().TLS.SNI != "" {
			n += " SNI " + c.App().TLS.SNI
		}
		m[f] = n
	}
	if f := c.App().TLS.ServerHelloFrame; f > 0 {
		m[f] = "TLS ServerHello"
	}
	for _, t := range c.Turns {
		if t.FirstLine != "" && t.Frame > 0 && m[t.Frame] == "" {
			m[t.Frame] = t.FirstLine
		}
	}
	return m
}

// arrowClass picks the emphasis of a packet's arrow, most important first.
func arrowClass(le *flows.LogEntry) string {
	switch {
	case le.Flags.Has(decode.FlagRST):
		return "rst"
	case le.Kind&flows.AnyRetransmission != 0:
		return "retx"
	case le.Flags.Has(decode.FlagFIN):
		return "fin"
	case le.Flags.Has(decode.FlagSYN):
		return "syn"
	case le.Kind.Has(flows.SegAfterPeerFIN):
		return "late"
	case le.Kind.Has(flows.SegZeroWindow) || le.Kind.Has(flows.SegZeroWindowProbe):
		return "zwin"
	case le.Len > 0:
		return "data"
	}
	return "ack"
}

// kindNotes are the words for a segment's classifications.
var kindNotes = [...]struct {
	k    flows.SegKind
	note string
}{
	{flows.SegFastRetransmission, "fast retransmission"},
	{flows.SegSpurious, "spurious retransmission"},
	{flows.SegTLP, "tail loss probe"},
	{flows.SegRetransmission, "retransmission"},
	{flows.SegOutOfOrder, "out of order"},
	{flows.SegKeepAlive, "keep-alive"},
	{flows.SegKeepAliveAck, "keep-alive ACK"},
	{flows.SegDupAck, "dup ACK"},
	{flows.SegZeroWindow, "zero window"},
	{flows.SegZeroWindowProbe, "zero-window probe"},
	{flows.SegAckedUnseen, "ACKs data not captured"},
	{flows.SegPrevNotCaptured, "previous segment not captured"},
	{flows.SegAfterPeerFIN, "sent after the peer's FIN"},
	{flows.SegOverMSS, "larger than the MSS"},
}

// segmentNotes returns the notes of a packet: its classifications, then the
// application note.
func segmentNotes(c *flows.Conn, le *flows.LogEntry, app string) []string {
	var out []string
	retx := false
	for _, kn := range kindNotes {
		if !le.Kind.Has(kn.k) {
			continue
		}
		if kn.k == flows.SegRetransmission && retx {
			continue
		}
		if kn.k == flows.SegAfterPeerFIN && le.Kind&(flows.AnyRetransmission|flows.SegTLP) != 0 {
			continue // a resend of data already marked so
		}
		if kn.k&flows.AnyRetransmission != 0 || kn.k == flows.SegTLP {
			retx = true
		}
		note := kn.note
		if kn.k == flows.SegOverMSS {
			if mss := c.Endpoint(le.Dir.Reverse()).MSS; mss > 0 {
				note = "= " + strconv.FormatFloat(float64(le.Len)/float64(mss), 'f', 1, 64) + " × MSS " + fmtInt(int64(mss))
			}
		}
		out = append(out, note)
	}
	if app != "" {
		out = append(out, app)
	}
	return out
}

// packetLabel is the text over a packet's arrow.
func packetLabel(le *flows.LogEntry) string {
	var b strings.Builder
	b.WriteString(le.Flags.String())
	b.WriteString(" seq=")
	b.WriteString(strconv.FormatUint(uint64(le.RelSeq), 10))
	if le.Flags.Has(decode.FlagACK) {
		b.WriteString(" ack=")
		b.WriteString(strconv.FormatUint(uint64(le.RelAck), 10))
	}
	if le.Len > 0 || !le.Flags.Has(decode.FlagSYN) {
		b.WriteString(" len=")
		b.WriteString(strconv.FormatInt(int64(le.Len), 10))
	}
	if le.Win == 0 && !le.Flags.Has(decode.FlagRST) {
		b.WriteString(" win=0")
	}
	return b.String()
}

// relTime writes a packet's time relative to the connection's first packet.
func relTime(c *flows.Conn, ts int64) string {
	return strconv.FormatFloat(float64(ts-c.FirstTS)/1e9, 'f', 6, 64)
}

func packetRow(b *strings.Builder, c *flows.Conn, le *flows.LogEntry, y int, hl bool, app string) {
	cls := arrowClass(le)
	notes := segmentNotes(c, le, cleanLine(app, 200))
	if hl {
		notes = append([]string{"◆ evidence"}, notes...)
	}
	dirWord := "client → server"
	x1, x2 := ladderClientX, ladderServerX
	if le.Dir == flows.Resp {
		dirWord = "server → client"
		x1, x2 = ladderServerX, ladderClientX
	}
	label := packetLabel(le)
	b.WriteString(`<g class="pkt ` + cls)
	if hl {
		b.WriteString(` hl`)
	}
	b.WriteString(`" data-frame="` + strconv.FormatInt(le.Frame, 10) + `">`)
	title := "frame " + strconv.FormatInt(le.Frame, 10) + ", +" + relTime(c, le.TS) + " s, " + dirWord + ": " +
		label + ", win=" + strconv.FormatUint(uint64(le.Win), 10)
	if len(notes) > 0 {
		title += "; " + strings.Join(notes, "; ")
	}
	b.WriteString(`<title>` + esc(title) + `</title>`)
	if hl {
		b.WriteString(`<rect class="hlbg" x="0" y="` + itoa(y) + `" width="` + itoa(ladderWidth) + `" height="` + itoa(ladderRowH) + `"/>`)
	}
	text(b, "frame", ladderFrameX, y+16, "end", strconv.FormatInt(le.Frame, 10))
	text(b, "time", ladderTimeX, y+16, "end", relTime(c, le.TS))
	// The arrow slopes down a little, as time passes while it travels.
	ya, yb := y+12, y+17
	dx := 7
	if x2 < x1 {
		dx = -7
	}
	line(b, "arrow", x1, ya, x2-dx, yb)
	b.WriteString(`<polygon class="head" points="` + itoa(x2) + "," + itoa(yb) + " " + itoa(x2-dx) + "," + itoa(yb-4) + " " + itoa(x2-dx) + "," + itoa(yb+4) + `"/>`)
	text(b, "label", (ladderClientX+ladderServerX)/2, y+9, "middle", label)
	if len(notes) > 0 {
		n := strings.Join(notes, "; ")
		text(b, "note", ladderNoteX, y+16, "start", cleanLine(n, ladderNoteMax))
	}
	b.WriteString(`</g>`)
}

// breakRow draws a compressed gap and/or elided packets.
func breakRow(b *strings.Builder, r ladderRow, y int) {
	var parts []string
	if r.elided > 0 {
		parts = append(parts, "… "+plural(r.elided, "packet", "packets")+" not shown …")
	}
	if r.gap > 0 {
		parts = append(parts, fmtNS(r.gap)+" later")
	}
	b.WriteString(`<g class="brk">`)
	b.WriteString(`<rect class="brkbg" x="` + itoa(ladderClientX-6) + `" y="` + itoa(y+2) + `" width="` +
		itoa(ladderServerX-ladderClientX+12) + `" height="` + itoa(ladderGapH-4) + `"/>`)
	for _, x := range []int{ladderClientX, ladderServerX} {
		// a zig-zag in the lifeline: time is not to scale here
		b.WriteString(`<polyline class="zig" points="` + itoa(x) + "," + itoa(y+2) + " " + itoa(x-5) + "," + itoa(y+7) +
			" " + itoa(x+5) + "," + itoa(y+13) + " " + itoa(x) + "," + itoa(y+18) + `"/>`)
	}
	text(b, "gap", (ladderClientX+ladderServerX)/2, y+14, "middle", strings.Join(parts, " "))
	b.WriteString(`</g>`)
}

func stateBox(b *strings.Builder, x, y int, s flows.State) {
	cls := "state"
	switch s {
	case flows.StateCloseWait, flows.StateLastAck:
		cls += " bad"
	case flows.StateFinWait1, flows.StateFinWait2, flows.StateSynSent, flows.StateSynReceived:
		cls += " warn"
	}
	name := s.String()
	w := 12 + 7*len(name)
	b.WriteString(`<g class="` + cls + `"><rect x="` + itoa(x-w/2) + `" y="` + itoa(y) + `" width="` + itoa(w) + `" height="20" rx="3"/>`)
	text(b, "statename", x, y+14, "middle", name)
	b.WriteString(`</g>`)
}

func line(b *strings.Builder, cls string, x1, y1, x2, y2 int) {
	b.WriteString(`<line class="` + cls + `" x1="` + itoa(x1) + `" y1="` + itoa(y1) + `" x2="` + itoa(x2) + `" y2="` + itoa(y2) + `"/>`)
}

// text writes an SVG text element; s is escaped here.
func text(b *strings.Builder, cls string, x, y int, anchor, s string) {
	b.WriteString(`<text class="` + cls + `" x="` + itoa(x) + `" y="` + itoa(y) + `"`)
	if anchor != "start" {
		b.WriteString(` text-anchor="` + anchor + `"`)
	}
	b.WriteString(`>` + esc(s) + `</text>`)
}

// esc cleans s and escapes it for HTML text and attribute values.
func esc(s string) string { return html.EscapeString(cleanLine(s, 0)) }

func itoa(n int) string { return strconv.Itoa(n) }
