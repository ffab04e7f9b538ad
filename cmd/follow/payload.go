package follow

import (
	"bufio"
	"fmt"
	"sort"
	"strings"

	"github.com/pcapsleuth/pcapsleuth/flows"
)

// maxPending bounds the out-of-order segments held per direction while a
// hole waits to be filled; beyond it the hole is declared missing.
const maxPending = 256

// assembler reassembles the payload of the followed connections, per
// direction in sequence order: retransmitted bytes count once, holes the
// capture never filled are marked, and at most max bytes are kept in all.
type assembler struct {
	max     int
	kept    int
	omitted int64
	conns   map[int64]*stream
}

// stream is one connection's payload so far.
type stream struct {
	started [2]bool
	next    [2]uint32 // next expected relative sequence number per direction
	pending [2][]seg
	chunks  []chunk
}

// seg is an out-of-order segment waiting for a hole to fill.
type seg struct {
	seq  uint32
	data []byte
	n    int // payload length on the wire (>= len(data) when cut by the snaplen)
}

// chunk is a run of payload in one direction, or a note (a hole).
type chunk struct {
	dir  flows.Dir
	data []byte
	note string
}

func newAssembler(max int) *assembler {
	return &assembler{max: max, conns: map[int64]*stream{}}
}

// add takes one segment's payload: data is what was captured, n the length
// on the wire.
func (a *assembler) add(id int64, dir flows.Dir, seq uint32, data []byte, n int) {
	st := a.conns[id]
	if st == nil {
		st = &stream{}
		a.conns[id] = st
	}
	if !st.started[dir] {
		st.started[dir], st.next[dir] = true, seq
	}
	if d := flows.SeqDiff(st.next[dir], seq); d > 0 {
		if len(st.pending[dir]) >= maxPending {
			a.flushPending(st, dir, true)
		}
		st.pending[dir] = append(st.pending[dir], seg{seq: seq, data: append([]byte(nil), data...), n: n})
		return
	}
	a.deliver(st, dir, seq, data, n)
	a.flushPending(st, dir, false)
}

// deliver appends an in-order (or overlapping) segment.
func (a *assembler) deliver(st *stream, dir flows.Dir, seq uint32, data []byte, n int) {
	skip := int(-flows.SeqDiff(st.next[dir], seq)) // bytes already delivered
	if skip >= n {
		return // a pure retransmission
	}
	if skip < len(data) {
		a.append(st, dir, data[skip:])
	}
	if lost := n - max(skip, len(data)); lost > 0 {
		a.note(st, dir, fmt.Sprintf("%d bytes not captured (snaplen)", lost))
	}
	st.next[dir] = seq + uint32(n)
}

// flushPending delivers the pending segments that became contiguous; with
// force, it gives up on the first hole and marks it missing.
func (a *assembler) flushPending(st *stream, dir flows.Dir, force bool) {
	for {
		p := st.pending[dir]
		if len(p) == 0 {
			return
		}
		sort.SliceStable(p, func(i, j int) bool { return flows.SeqDiff(p[j].seq, p[i].seq) > 0 })
		first := p[0]
		if d := flows.SeqDiff(st.next[dir], first.seq); d > 0 {
			if !force {
				return
			}
			a.note(st, dir, fmt.Sprintf("%d bytes missing: never captured", d))
			st.next[dir] = first.seq
		}
		st.pending[dir] = p[1:]
		a.deliver(st, dir, first.seq, first.data, first.n)
	}
}

func (a *assembler) append(st *stream, dir flows.Dir, data []byte) {
	room := a.max - a.kept
	if room <= 0 {
		a.omitted += int64(len(data))
		return
	}
	if len(data) > room {
		a.omitted += int64(len(data) - room)
		data = data[:room]
	}
	a.kept += len(data)
	if n := len(st.chunks); n > 0 && st.chunks[n-1].dir == dir && st.chunks[n-1].note == "" {
		st.chunks[n-1].data = append(st.chunks[n-1].data, data...)
		return
	}
	st.chunks = append(st.chunks, chunk{dir: dir, data: append([]byte(nil), data...)})
}

func (a *assembler) note(st *stream, dir flows.Dir, note string) {
	st.chunks = append(st.chunks, chunk{dir: dir, note: note})
}

// write prints a connection's payload and forgets it.
func (a *assembler) write(w *bufio.Writer, id int64, client, server, mode string) {
	st := a.conns[id]
	delete(a.conns, id)
	if st == nil {
		fmt.Fprintln(w, "-- no payload captured")
		return
	}
	for d := flows.Orig; d <= flows.Resp; d++ {
		a.flushPending(st, d, true)
	}
	var total [2]int
	for _, c := range st.chunks {
		total[c.dir] += len(c.data)
	}
	fmt.Fprintf(w, "-- payload: client %d bytes, server %d bytes (in sequence order; retransmissions once)\n", total[flows.Orig], total[flows.Resp])
	for _, c := range st.chunks {
		who := fmt.Sprintf(">>> client %s", client)
		if c.dir == flows.Resp {
			who = fmt.Sprintf("<<< server %s", server)
		}
		if c.note != "" {
			fmt.Fprintf(w, "%s [%s]\n", who, c.note)
			continue
		}
		fmt.Fprintf(w, "%s (%d bytes)\n", who, len(c.data))
		m := mode
		if m == "auto" {
			m = "hex"
			if printable(c.data) {
				m = "text"
			}
		}
		if m == "text" {
			writeText(w, c.data)
		} else {
			writeHex(w, c.data)
		}
	}
	if a.omitted > 0 {
		fmt.Fprintf(w, "-- %d more payload bytes not shown (--max-bytes %d)\n", a.omitted, a.max)
		a.omitted = 0
	}
}

// printable reports whether data reads as text (>= 90% printable ASCII).
func printable(data []byte) bool {
	if len(data) == 0 {
		return true
	}
	n := 0
	for _, b := range data {
		if (b >= 0x20 && b < 0x7f) || b == '\n' || b == '\r' || b == '\t' {
			n++
		}
	}
	return n*10 >= len(data)*9
}

// writeText prints data as text: printable ASCII as is, line ends kept, any
// other byte (escape sequences included) as '.'.
func writeText(w *bufio.Writer, data []byte) {
	var b strings.Builder
	for i, c := range data {
		switch {
		case c == '\r' && i+1 < len(data) && data[i+1] == '\n':
		case c == '\n' || c == '\t' || (c >= 0x20 && c < 0x7f):
			b.WriteByte(c)
		default:
			b.WriteByte('.')
		}
	}
	s := b.String()
	w.WriteString(s)
	if !strings.HasSuffix(s, "\n") {
		w.WriteString("\n")
	}
}

// writeHex prints data as hexdump -C does.
func writeHex(w *bufio.Writer, data []byte) {
	for off := 0; off < len(data); off += 16 {
		line := data[off:min(off+16, len(data))]
		fmt.Fprintf(w, "%08x ", off)
		for i := 0; i < 16; i++ {
			if i == 8 {
				w.WriteByte(' ')
			}
			if i < len(line) {
				fmt.Fprintf(w, " %02x", line[i])
			} else {
				w.WriteString("   ")
			}
		}
		w.WriteString("  |")
		for _, c := range line {
			if c >= 0x20 && c < 0x7f {
				w.WriteByte(c)
			} else {
				w.WriteByte('.')
			}
		}
		w.WriteString("|\n")
	}
}
