package flows

// recycler keeps the tracker's per-connection scratch that finished and
// resting connections give back (transmission histories, tail rings) and
// the packing buffer, so that the next connection reuses them instead of
// allocating: on a headers-only capture they were a third of what the
// tracker allocated, and every byte allocated brings the next collection
// nearer. Each free list is bounded, so it holds at most what a burst of
// closes gives back. A nil *recycler allocates every time.
type recycler struct {
	hists []*txHistory
	tails []*[logTail]tailEntry
	buf   []byte // pack's scratch
	// logs and turns hold empty log and turns buffers by capacity class
	// (see bufLists).
	logs  [logClasses][][]LogEntry
	turns [turnClasses][][]Turn
}

const (
	// recycleMax bounds each free list (about 0.6 MB each when full).
	recycleMax = 1024
	// recycleHoles is the largest hole list a recycled history keeps.
	recycleHoles = 64
	// recycleBuf is the largest packing buffer kept.
	recycleBuf = 64 << 10
)

// hist returns an empty transmission history.
func (r *recycler) hist() *txHistory {
	if r == nil || len(r.hists) == 0 {
		return new(txHistory)
	}
	h := r.hists[len(r.hists)-1]
	r.hists[len(r.hists)-1] = nil
	r.hists = r.hists[:len(r.hists)-1]
	return h
}

// putHist takes back h (nil does nothing); the caller no longer uses it.
func (r *recycler) putHist(h *txHistory) {
	if r == nil || h == nil || len(r.hists) >= recycleMax {
		return
	}
	holes := h.holes[:0]
	if cap(holes) > recycleHoles {
		holes = nil
	}
	*h = txHistory{holes: holes}
	r.hists = append(r.hists, h)
}

// tail returns a zeroed tail ring.
func (r *recycler) tail() *[logTail]tailEntry {
	if r == nil || len(r.tails) == 0 {
		return new([logTail]tailEntry)
	}
	t := r.tails[len(r.tails)-1]
	r.tails[len(r.tails)-1] = nil
	r.tails = r.tails[:len(r.tails)-1]
	*t = [logTail]tailEntry{}
	return t
}

// putTail takes back t (nil does nothing); the caller no longer uses it.
func (r *recycler) putTail(t *[logTail]tailEntry) {
	if r == nil || t == nil || len(r.tails) >= recycleMax {
		return
	}
	r.tails = append(r.tails, t)
}

// scratch returns an empty buffer with room for n bytes, to give back with
// putScratch.
func (r *recycler) scratch(n int) []byte {
	if r == nil || cap(r.buf) < n {
		return make([]byte, 0, n)
	}
	return r.buf[:0]
}

// putScratch keeps b for the next scratch unless it is too large.
func (r *recycler) putScratch(b []byte) {
	if r != nil && cap(b) <= recycleBuf && cap(b) > cap(r.buf) {
		r.buf = b[:0]
	}
}

// Log buffers come in logClasses capacities: logHead, then doubling, up to
// one that holds logMax entries and the tail ring (what finishLog adds).
// Every connection's log was allocated, and most grew when it finished
// (the tail ring promoted): on a long capture about 40 % of all an
// analysis allocated. A log buffer goes back when its connection outgrows
// it, rests (pack), or is reused (Tracker.newConn); no observer reads a
// connection's log before Done.
const logClasses = 5

// Turns buffers come in turnClasses capacities: turnsFirst, then doubling,
// up to maxTurns. They were a quarter of what the analysis of a
// headers-only capture allocated (every connection's first buffer, and
// its growth), and they go back as logs do.
const turnClasses = 3

// logClass returns the class of the smallest log buffer with room for n
// entries and its capacity; -1 and n past the largest.
func logClass(n int) (int, int) { return sizeClass(n, logHead, logClasses) }

// sizeClass returns the class of the smallest buffer with room for n among
// classes capacities, first and then doubling, and its capacity; -1 and n
// past the largest.
func sizeClass(n, first, classes int) (int, int) {
	c := first
	for k := range classes {
		if n <= c {
			return k, c
		}
		c *= 2
	}
	return -1, n
}

// bufLists keeps empty buffers by capacity class (see sizeClass): at most
// recycleMax for the first class, half as many for each next (about 0.6
// MB each when full for logs, 0.25 MB for turns).
type bufLists[T any] [][][]T

// get returns an empty buffer with room for n elements: a kept one of the
// smallest class that holds n, or a new one of that class's capacity.
func (l bufLists[T]) get(n, first int) []T {
	k, c := sizeClass(n, first, len(l))
	if k < 0 || len(l[k]) == 0 {
		return make([]T, 0, c)
	}
	b := l[k][len(l[k])-1]
	l[k][len(l[k])-1] = nil
	l[k] = l[k][:len(l[k])-1]
	return b
}

// put keeps b (nil does nothing) if its capacity is a class's and the
// class's list has room.
func (l bufLists[T]) put(b []T, first int) {
	if b == nil {
		return
	}
	k, c := sizeClass(cap(b), first, len(l))
	if k < 0 || c != cap(b) || len(l[k]) >= recycleMax>>k {
		return
	}
	l[k] = append(l[k], b[:0])
}

// logBuf returns an empty log buffer with room for n entries.
func (r *recycler) logBuf(n int) []LogEntry {
	if r == nil {
		_, c := logClass(n)
		return make([]LogEntry, 0, c)
	}
	return bufLists[LogEntry](r.logs[:]).get(n, logHead)
}

// putLog takes back the log buffer b (nil does nothing) if its capacity is
// a class's and the class's list has room; the caller no longer uses it.
func (r *recycler) putLog(b []LogEntry) {
	if r != nil {
		bufLists[LogEntry](r.logs[:]).put(b, logHead)
	}
}

// turnsBuf returns an empty turns buffer with room for n turns.
func (r *recycler) turnsBuf(n int) []Turn {
	if r == nil {
		_, c := sizeClass(n, turnsFirst, turnClasses)
		return make([]Turn, 0, c)
	}
	return bufLists[Turn](r.turns[:]).get(n, turnsFirst)
}

// growTurns is growLog for turns buffers.
func (r *recycler) growTurns(turns []Turn, n int) []Turn {
	return grow(turns, n, r.turnsBuf, r.putTurns)
}

// putTurns takes back the turns buffer b as putLog does logs, cleared so
// that it keeps no request line alive.
func (r *recycler) putTurns(b []Turn) {
	if r != nil {
		clear(b[:cap(b)])
		bufLists[Turn](r.turns[:]).put(b, turnsFirst)
	}
}

// growLog returns log with room for n more entries: log itself when it
// has it, else a larger buffer holding its entries (log's buffer goes
// back).
func (r *recycler) growLog(log []LogEntry, n int) []LogEntry { return grow(log, n, r.logBuf, r.putLog) }

// grow returns b with room for n more elements: b itself when it has it,
// else a buffer from get, at least twice as large, holding b's elements (b
// goes to put).
func grow[T any](b []T, n int, get func(int) []T, put func([]T)) []T {
	if len(b)+n <= cap(b) {
		return b
	}
	g := append(get(max(len(b)+n, 2*cap(b))), b...)
	put(b)
	return g
}
