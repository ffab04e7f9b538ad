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
	tails []*[logTail]LogEntry
	buf   []byte // pack's scratch
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
func (r *recycler) tail() *[logTail]LogEntry {
	if r == nil || len(r.tails) == 0 {
		return new([logTail]LogEntry)
	}
	t := r.tails[len(r.tails)-1]
	r.tails[len(r.tails)-1] = nil
	r.tails = r.tails[:len(r.tails)-1]
	*t = [logTail]LogEntry{}
	return t
}

// putTail takes back t (nil does nothing); the caller no longer uses it.
func (r *recycler) putTail(t *[logTail]LogEntry) {
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
