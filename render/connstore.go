package render

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/pcapsleuth/pcapsleuth/detectors"
	"github.com/pcapsleuth/pcapsleuth/flows"
)

// memLimit is how many encoded bytes the store keeps in memory before it
// spills to a temporary file.
const memLimit = 4 << 20

// ConnStore keeps every connection summary of an analysis, in memory while
// small and in a temporary file beyond memLimit, so that memory follows the
// live connections and not the number of connections in the capture. It
// returns them in ID order (ConnSource).
type ConnStore struct {
	dir     string
	spillAt int // encoded bytes kept in memory before spilling (memLimit)
	mem     []byte
	file    *os.File
	w       *bufio.Writer
	size    int64
	// The index: the packed location (see packLoc) of each record by ID,
	// -1 for none. offsets holds IDs base+1 on; once the store spills,
	// whole chunks of it (idxChunk IDs) go to the spill file as their
	// connections age (chunks holds where), and IDs added after their
	// chunk went are kept in late. Memory follows the connections still
	// open, not the capture's count of connections.
	offsets  []int64
	base     int64
	idxChunk int
	chunks   []int64
	late     map[int64]int64
	n        int
	end      int64
	byConn   map[int64][]string
	windows  readWindow // kept for the next Each
	enc      []byte
}

// NewConnStore returns an empty store whose spill file goes in dir ("" = the
// system's temporary directory).
func NewConnStore(dir string) (*ConnStore, error) {
	return &ConnStore{dir: dir, spillAt: memLimit, idxChunk: indexChunk}, nil
}

// indexChunk is how many index entries go to the spill file at once (512
// KiB): a chunk goes when the index in memory holds two.
const indexChunk = 1 << 16

// Add stores one summary. tw holds, per side (flows.Orig, flows.Resp), when a
// socket that ended in TIME_WAIT entered it (0 otherwise).
func (s *ConnStore) Add(c *ConnSummary, tw [2]int64) error {
	s.enc = appendSummary(s.enc[:0], c)
	b := s.enc
	var hdr [20]byte
	binary.LittleEndian.PutUint64(hdr[0:], uint64(tw[0]))
	binary.LittleEndian.PutUint64(hdr[8:], uint64(tw[1]))
	binary.LittleEndian.PutUint32(hdr[16:], uint32(len(b)))
	if s.size >= 1<<locOffBits {
		return fmt.Errorf("spill connections: the store passed %d bytes", int64(1)<<locOffBits)
	}
	if c.ID <= 0 {
		return fmt.Errorf("connection store: connection ID %d", c.ID)
	}
	loc := packLoc(s.size, len(b)+20)
	if c.ID <= s.base {
		if s.late == nil {
			s.late = map[int64]int64{}
		}
		s.late[c.ID] = loc
	} else {
		idx := int(c.ID - s.base - 1)
		for len(s.offsets) <= idx {
			s.offsets = append(s.offsets, -1)
		}
		s.offsets[idx] = loc
	}
	s.n++
	if s.file == nil && len(s.mem)+len(b)+20 > s.spillAt {
		if err := s.spill(); err != nil {
			return err
		}
	}
	if s.file == nil {
		s.mem = append(s.mem, hdr[:]...)
		s.mem = append(s.mem, b...)
	} else {
		s.w.Write(hdr[:])
		if _, err := s.w.Write(b); err != nil {
			return fmt.Errorf("spill connections: %w", err)
		}
	}
	s.size += int64(len(b)) + 20
	if s.file != nil && len(s.offsets) >= 2*s.idxChunk {
		return s.spillIndex()
	}
	return nil
}

// spillIndex writes the oldest chunk of the index to the spill file.
func (s *ConnStore) spillIndex() error {
	var e [8]byte
	for _, loc := range s.offsets[:s.idxChunk] {
		binary.LittleEndian.PutUint64(e[:], uint64(loc))
		if _, err := s.w.Write(e[:]); err != nil {
			return fmt.Errorf("spill connections: %w", err)
		}
	}
	s.chunks = append(s.chunks, s.size)
	s.size += int64(8 * s.idxChunk)
	n := copy(s.offsets, s.offsets[s.idxChunk:])
	s.offsets = s.offsets[:n]
	s.base += int64(s.idxChunk)
	return nil
}

func (s *ConnStore) spill() error {
	f, err := os.CreateTemp(s.dir, "pcapsleuth-conns-*")
	if err != nil {
		return fmt.Errorf("spill connections: %w", err)
	}
	s.file = f
	s.w = bufio.NewWriterSize(f, 1<<20)
	if _, err := s.w.Write(s.mem); err != nil {
		return fmt.Errorf("spill connections: %w", err)
	}
	s.mem = nil
	return nil
}

// SetCaptureEnd sets the capture's last timestamp, against which TIME_WAIT
// sockets older than 60 s are reported CLOSED.
func (s *ConnStore) SetCaptureEnd(ts int64) { s.end = ts }

// SetFindings records which findings list each connection.
func (s *ConnStore) SetFindings(fs []detectors.Finding) {
	s.byConn = map[int64][]string{}
	for _, f := range fs {
		name := f.Kind.String()
		for _, r := range f.Flows {
			l := s.byConn[r.ID]
			if len(l) == 0 || l[len(l)-1] != name {
				s.byConn[r.ID] = append(l, name)
			}
		}
	}
	for id, l := range s.byConn {
		sort.Strings(l)
		s.byConn[id] = dedupe(l)
	}
}

func dedupe(l []string) []string {
	out := l[:0]
	for i, x := range l {
		if i == 0 || x != l[i-1] {
			out = append(out, x)
		}
	}
	return out
}

// Len implements ConnSource.
func (s *ConnStore) Len() int { return s.n }

// Each implements ConnSource: summaries in ID order.
func (s *ConnStore) Each(f func(*ConnSummary) error) error {
	var ra io.ReaderAt
	if s.file != nil {
		if err := s.w.Flush(); err != nil {
			return fmt.Errorf("spill connections: %w", err)
		}
		ra = s.file
	}
	var hdr [20]byte
	// One summary for all: a table of 150,000 rows allocated 50 MB of
	// them in the report's last half second, enough to make the
	// collector run and raise the peak (ConnSource allows the reuse).
	var c ConnSummary
	var strs recordStrings
	win := s.windows
	defer func() { s.windows = win }()
	each := func(loc int64) error {
		off, size := unpackLoc(loc)
		var rec []byte
		if ra == nil {
			copy(hdr[:], s.mem[off:off+20])
			n := int64(binary.LittleEndian.Uint32(hdr[16:]))
			rec = s.mem[off+20 : off+20+n]
		} else {
			// One read for header and record when the size is known.
			h, err := win.read(ra, off, max(size, 20))
			if err != nil {
				return fmt.Errorf("read spilled connections: %w", err)
			}
			copy(hdr[:], h)
			n := int(binary.LittleEndian.Uint32(hdr[16:]))
			if size == n+20 {
				rec = h[20:]
			} else if rec, err = win.read(ra, off+20, n); err != nil {
				return fmt.Errorf("read spilled connections: %w", err)
			}
		}
		c = ConnSummary{}
		if err := strs.decode(rec, &c); err != nil {
			return fmt.Errorf("decode spilled connection at offset %d: %w", off, err)
		}
		tw := [2]int64{int64(binary.LittleEndian.Uint64(hdr[0:])), int64(binary.LittleEndian.Uint64(hdr[8:]))}
		if tw[0] != 0 && s.end-tw[0] >= flows.TimeWaitDuration {
			c.ClientState = flows.StateClosed.String()
		}
		if tw[1] != 0 && s.end-tw[1] >= flows.TimeWaitDuration {
			c.ServerState = flows.StateClosed.String()
		}
		c.Findings = s.byConn[c.ID]
		return f(&c)
	}
	// The chunks of the index on disk, then the rest in memory.
	var chunk []byte
	for k, at := range s.chunks {
		if chunk == nil {
			chunk = make([]byte, 8*s.idxChunk)
		}
		if _, err := ra.ReadAt(chunk, at); err != nil {
			return fmt.Errorf("read spilled connections: index: %w", err)
		}
		for i := range s.idxChunk {
			loc := int64(binary.LittleEndian.Uint64(chunk[8*i:]))
			if loc < 0 {
				late, ok := s.late[int64(k*s.idxChunk+i+1)]
				if !ok {
					continue
				}
				loc = late
			}
			if err := each(loc); err != nil {
				return err
			}
		}
	}
	for _, loc := range s.offsets {
		if loc < 0 {
			continue
		}
		if err := each(loc); err != nil {
			return err
		}
	}
	return nil
}

// Close removes the spill file.
func (s *ConnStore) Close() error {
	if s.file == nil {
		return nil
	}
	name := s.file.Name()
	s.file.Close()
	s.file = nil
	return os.Remove(name)
}

// A record's location packs its offset (low 40 bits: spill files up to
// 1 TiB) and its size with header (high 23 bits; 0 = unknown, read the
// header first) into one int64, so the index costs 8 bytes per connection.
const (
	locOffBits = 40
	locMaxSize = 1<<23 - 1
)

func packLoc(off int64, size int) int64 {
	if size > locMaxSize {
		size = 0
	}
	return int64(size)<<locOffBits | off
}

func unpackLoc(loc int64) (off int64, size int) {
	return loc & (1<<locOffBits - 1), int(loc >> locOffBits)
}

// readWindow reads records from the spill file through a few windows of
// it. Records come back in ID order (the order connections opened), while
// the file holds them in the order connections finished: a record is
// usually a few hundred kilobytes from the one before, ahead or behind, as
// far as the connections open at once spread them. One window of 16 KiB,
// moved to every record that missed it, read each record's neighbourhood
// again and again (h1g: 0.4 s of preads, two thirds of the reading
// goroutine's time, for a 33 MB file); a 1 MiB window per miss cost 4.8 s
// on 320,000 connections. So windowCount windows at windowSize boundaries
// stay, the least recently used replaced, and most records of a file
// written nearly in order are read once, with the windows around them.
type readWindow struct {
	wins []window
	tick uint64
	big  []byte // a record across a window boundary or larger than one
}

// window is windowSize bytes of the spill file at off (n of them valid).
type window struct {
	off  int64
	n    int
	buf  []byte
	used uint64 // readWindow.tick at its last read
}

const (
	windowSize  = 16 << 10
	windowCount = 64 // 1 MiB in all
)

// read returns n bytes at off, valid until the next call.
func (w *readWindow) read(ra io.ReaderAt, off int64, n int) ([]byte, error) {
	base := off &^ (windowSize - 1)
	end := off - base + int64(n) // in the window
	if end > windowSize {
		if cap(w.big) < n {
			w.big = make([]byte, n)
		}
		b := w.big[:n]
		if m, err := ra.ReadAt(b, off); m < n {
			return nil, short(err)
		}
		return b, nil
	}
	w.tick++
	win := w.find(base)
	// A window read at the end of the file may have been read before the
	// file grew.
	if win == nil || int64(win.n) < end {
		if win == nil {
			win = w.victim()
		}
		m, err := ra.ReadAt(win.buf, base)
		win.off, win.n = base, m
		if int64(m) < end {
			win.n = 0
			return nil, short(err)
		}
	}
	win.used = w.tick
	return win.buf[off-base : end], nil
}

// find returns the window at base, or nil.
func (w *readWindow) find(base int64) *window {
	for i := range w.wins {
		if x := &w.wins[i]; x.off == base && x.n > 0 {
			return x
		}
	}
	return nil
}

// victim returns a window to read into: a new one while there are fewer
// than windowCount, else the least recently used.
func (w *readWindow) victim() *window {
	if len(w.wins) < windowCount {
		w.wins = append(w.wins, window{buf: make([]byte, windowSize)})
		return &w.wins[len(w.wins)-1]
	}
	v := &w.wins[0]
	for i := range w.wins {
		if w.wins[i].used < v.used {
			v = &w.wins[i]
		}
	}
	return v
}

// short is the error of a read that returned less than asked: err, or
// io.ErrUnexpectedEOF for none or the end of the file.
func short(err error) error {
	if err == nil || err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
