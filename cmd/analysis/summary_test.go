package analysis

import (
	"math/rand"
	"testing"

	"github.com/pcapsleuth/pcapsleuth/flows"
)

// TestTimeWaitPruneKeepsCounts checks that forgetting the TIME_WAIT sockets
// older than a minute as connections are handed on gives the same end
// counts as keeping them all, and that the list stays bounded.
func TestTimeWaitPruneKeepsCounts(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	var pruned, all sideStats
	var latest int64
	const n = 200_000
	for i := range n {
		ts := int64(i) * 1e6          // a close every millisecond: 200 s
		since := ts - rng.Int63n(5e9) // handed on up to 5 s after it entered TIME_WAIT
		latest = max(latest, ts)
		all.timeWait = append(all.timeWait, since)
		pruned.timeWait = append(pruned.timeWait, since)
		if len(pruned.timeWait) >= pruned.pruneAt {
			pruned.prune(latest)
		}
	}
	if len(pruned.timeWait) > 140_000 { // twice a minute and a bit: the list doubles between prunes
		t.Errorf("%d TIME_WAIT entries kept for a minute of closes (65,000)", len(pruned.timeWait))
	}
	end := latest + 1e9
	count := func(st sideStats) (tw, closed int64) {
		closed = st.states[flows.StateClosed]
		for _, s := range st.timeWait {
			if end-s >= flows.TimeWaitDuration {
				closed++
			} else {
				tw++
			}
		}
		return
	}
	tw1, c1 := count(all)
	tw2, c2 := count(pruned)
	if tw1 != tw2 || c1 != c2 || tw1+c1 != n || tw1 == 0 || c1 == 0 {
		t.Errorf("pruned: %d TIME_WAIT, %d CLOSED; kept: %d, %d", tw2, c2, tw1, c1)
	}
}
