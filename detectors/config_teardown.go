package detectors

import "time"

// TeardownOptions are the thresholds of the teardown detectors (issue:
// "name the root cause behind every CLOSE_WAIT"). See docs/detectors.md.
type TeardownOptions struct {
	// CloseWaitGrace is how long a side may take to send its own FIN after
	// ACKing the peer's before its socket counts as leaked.
	CloseWaitGrace time.Duration
}

// DefaultTeardownOptions returns the defaults.
func DefaultTeardownOptions() TeardownOptions {
	return TeardownOptions{CloseWaitGrace: 2 * time.Second}
}

// teardownSpecs lists the teardown detectors in report order.
func teardownSpecs() []*Spec { return nil }
