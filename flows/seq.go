package flows

// SeqDiff returns b - a in sequence space, wrap-safe: positive when b is after a.
func SeqDiff(a, b uint32) int32 { return int32(b - a) }

// seqLT reports a < b in sequence space (RFC 1982 serial arithmetic).
func seqLT(a, b uint32) bool { return int32(a-b) < 0 }

// seqLE reports a <= b in sequence space.
func seqLE(a, b uint32) bool { return int32(a-b) <= 0 }

// seqGT reports a > b in sequence space.
func seqGT(a, b uint32) bool { return int32(a-b) > 0 }

// seqMax returns the later of a and b in sequence space.
func seqMax(a, b uint32) uint32 {
	if seqLT(a, b) {
		return b
	}
	return a
}
