package detectors

import "time"

// Config holds every detector threshold. DefaultConfig documents the
// defaults; cmd exposes each as a flag and a config-file key.
type Config struct {
	// MaxFlows is how many connections a finding lists (FlowCount is always
	// exact). The contract asks for at least 10,000.
	MaxFlows int
	// MaxExemplars is how many exemplar connections (ladders) a finding keeps.
	MaxExemplars int

	Teardown  TeardownOptions
	Transport TransportOptions

	// noStateReuse (tests) makes the detectors' per-connection states never
	// reused (see connStates.release), to compare with the runs that do.
	noStateReuse bool
}

// DefaultConfig returns the documented defaults.
func DefaultConfig() Config {
	return Config{
		MaxFlows:     10_000,
		MaxExemplars: 3,
		Teardown:     DefaultTeardownOptions(),
		Transport:    DefaultTransportOptions(),
	}
}

// ns converts a duration to capture-time nanoseconds.
func ns(d time.Duration) int64 { return int64(d) }
