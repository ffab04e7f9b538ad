package flows

import (
	"math/rand"
	"testing"
)

// TestTxRingPairs checks the ring of recent transmissions, written two
// records at a time (Endpoint.remember), against a model of the ring written
// at once: every slot reads the same through Endpoint.tx, whatever the
// order of new records, RTT samples (which mark lastTx), histories dropped
// by a resting connection and histories made anew by a hole.
func TestTxRingPairs(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	r := new(recycler)
	for round := range 200 {
		var e Endpoint
		var all []txRecord // every record remembered, in order
		base := -1         // all[base:] went to the current history (-1: none)
		for op := range 300 {
			switch k := rng.Intn(20); {
			case k < 14:
				if e.hist == nil {
					base = e.txN
				}
				seq := rng.Uint32()
				rec := txRecord{seq: seq, end: seq + uint32(rng.Intn(1500)), ts: int64(rng.Intn(1e9) + 1)}
				e.remember(r, rec.seq, rec.end, rec.ts)
				all = append(all, rec)
			case k < 17:
				if e.txN > 0 && e.lastTx.ts > 0 {
					e.lastTx.ts = -e.lastTx.ts // as sampleRTT
				}
			case k < 19:
				r.putHist(e.hist) // as dropHistories
				e.hist, base = nil, -1
			default:
				if e.hist == nil {
					base = e.txN
				}
				e.addHole(r, 1, 2, false)
			}
			if e.hist == nil {
				continue
			}
			for j := range min(e.txN, recentTx) {
				var want txRecord
				for i := e.txN - 1; i >= base && i >= 0; i-- {
					if i%recentTx == j {
						want = all[i]
						break
					}
				}
				if got := e.tx(j); got != want {
					t.Fatalf("round %d, op %d: slot %d of %d records is %+v, want %+v", round, op, j, e.txN, got, want)
				}
			}
		}
	}
}
