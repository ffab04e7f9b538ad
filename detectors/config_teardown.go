package detectors

import (
	"fmt"
	"time"

	"github.com/pcapsleuth/pcapsleuth/flows"
)

// TeardownOptions are the thresholds of the teardown detectors (issue:
// "name the root cause behind every CLOSE_WAIT"). docs/detectors.md explains
// each one with the detector that uses it.
type TeardownOptions struct {
	// CloseWaitGrace is how long a side may take to send its own FIN after
	// ACKing the peer's (or after its last write following it) before its
	// socket counts as leaked. Younger half-closed sockets at the end of the
	// capture are reported only when older ones of the same group (or a
	// probe pattern) show the leak.
	CloseWaitGrace time.Duration `help:"how long a side may leave the peer's FIN unanswered before its socket counts as leaked"`
	// CriticalSockets is the number of leaked (or blackholed) sockets in one
	// group from which a finding is critical rather than a warning.
	CriticalSockets int `help:"leaked or blackholed sockets in one group that make a finding critical"`
	// YoungPattern is the number of half-closed sockets of one group, all
	// younger than CloseWaitGrace at the end of the capture, that are
	// reported (as info) even though none is old enough on its own.
	YoungPattern int `flag:"young-close-wait-pattern" help:"half-closed sockets younger than the grace period reported together (as info)"`

	// ProbeMaxLifetime is the longest time between the handshake and the
	// initiator's FIN for a connection without data to count as a probe
	// (a health check's connect-and-close).
	ProbeMaxLifetime time.Duration `help:"longest handshake-to-FIN time of a data-less connection that counts as a health-check probe"`
	// MinProbes is the number of probes from one source to one listener
	// needed before healthcheck-fin-unanswered reports anything.
	MinProbes int `help:"probes from one source to one listener needed for healthcheck-fin-unanswered"`
	// CadenceTolerance is the relative deviation from the median interval
	// within which probe intervals count as steady.
	CadenceTolerance float64 `flag:"probe-cadence-tolerance" help:"relative deviation of probe intervals that still counts as a steady cadence"`

	// MinIdleTimeout is the shortest idle gap before a FIN that counts as
	// an idle timeout (shorter gaps are a close right after the last
	// exchange, e.g. "Connection: close").
	MinIdleTimeout time.Duration `help:"shortest idle gap before a FIN that counts as an idle timeout"`
	// MinRequestTimeout is the shortest request-to-close time that counts
	// as the initiator giving up on a response.
	MinRequestTimeout time.Duration `help:"shortest request-to-close time that counts as the client giving up"`
	// TimeoutSamples is how many connections must agree before a timeout
	// (idle or request) is inferred.
	TimeoutSamples int `help:"connections that must agree before an idle or request timeout is inferred"`
	// TimeoutSpread is the relative spread (plus TimeoutSlack) that values
	// may show and still be one timeout.
	TimeoutSpread float64 `help:"relative spread of the timings of one inferred timeout"`
	// TimeoutSlack is the absolute spread added to TimeoutSpread.
	TimeoutSlack time.Duration `help:"absolute spread added to timeout-spread"`

	// MinReuseGap is how long after the server's FIN a client's request
	// must come to be a stale reuse rather than a request already in
	// flight when the server closed.
	MinReuseGap time.Duration `help:"how long after the server's FIN a client request must come to be a stale reuse"`
	// BlackholeWait is how long a write after the peer's FIN must go
	// without ACK or RST, when no retransmission is visible, to count as
	// blackholed.
	BlackholeWait time.Duration `help:"silence after a write following the peer's FIN that counts as blackholed when no retransmission is seen"`
}

// DefaultTeardownOptions returns the defaults.
func DefaultTeardownOptions() TeardownOptions {
	return TeardownOptions{
		CloseWaitGrace:    2 * time.Second,
		CriticalSockets:   100,
		YoungPattern:      3,
		ProbeMaxLifetime:  time.Second,
		MinProbes:         3,
		CadenceTolerance:  0.25,
		MinIdleTimeout:    200 * time.Millisecond,
		MinRequestTimeout: 250 * time.Millisecond,
		TimeoutSamples:    2,
		TimeoutSpread:     0.05,
		TimeoutSlack:      50 * time.Millisecond,
		MinReuseGap:       100 * time.Millisecond,
		BlackholeWait:     time.Second,
	}
}

// withDefaults fills zero fields with the defaults, so a partly filled
// Config still works.
func (o TeardownOptions) withDefaults() TeardownOptions {
	d := DefaultTeardownOptions()
	if o.CloseWaitGrace <= 0 {
		o.CloseWaitGrace = d.CloseWaitGrace
	}
	if o.CriticalSockets <= 0 {
		o.CriticalSockets = d.CriticalSockets
	}
	if o.YoungPattern <= 0 {
		o.YoungPattern = d.YoungPattern
	}
	if o.ProbeMaxLifetime <= 0 {
		o.ProbeMaxLifetime = d.ProbeMaxLifetime
	}
	if o.MinProbes <= 0 {
		o.MinProbes = d.MinProbes
	}
	if o.CadenceTolerance <= 0 {
		o.CadenceTolerance = d.CadenceTolerance
	}
	if o.MinIdleTimeout <= 0 {
		o.MinIdleTimeout = d.MinIdleTimeout
	}
	if o.MinRequestTimeout <= 0 {
		o.MinRequestTimeout = d.MinRequestTimeout
	}
	if o.TimeoutSamples <= 0 {
		o.TimeoutSamples = d.TimeoutSamples
	}
	if o.TimeoutSpread <= 0 {
		o.TimeoutSpread = d.TimeoutSpread
	}
	if o.TimeoutSlack <= 0 {
		o.TimeoutSlack = d.TimeoutSlack
	}
	if o.MinReuseGap <= 0 {
		o.MinReuseGap = d.MinReuseGap
	}
	if o.BlackholeWait <= 0 {
		o.BlackholeWait = d.BlackholeWait
	}
	return o
}

// teardownBase is the configuration every teardown detector starts from.
type teardownBase struct {
	opt          TeardownOptions
	maxFlows     int
	maxExemplars int
	now          int64 // latest capture time seen, for captures without an Env end
	dropped      int   // connections left out because maxGroups was reached
	// tab holds the flow references of the records the groups keep, and
	// kept counts those records (across all groups: see keep).
	tab  refTab
	kept int
}

func newTeardownBase(cfg *Config) teardownBase {
	b := teardownBase{opt: cfg.Teardown.withDefaults(), maxFlows: cfg.MaxFlows, maxExemplars: cfg.MaxExemplars}
	if b.maxFlows <= 0 {
		b.maxFlows = DefaultConfig().MaxFlows
	}
	if b.maxExemplars < 0 {
		b.maxExemplars = 0
	}
	return b
}

// seen advances the detector's notion of the capture's end.
func (b *teardownBase) seen(ts int64) {
	if ts > b.now {
		b.now = ts
	}
}

// end returns the capture's last packet time.
func (b *teardownBase) end(env *Env) int64 {
	if env != nil && env.End > b.now {
		return env.End
	}
	return b.now
}

// caveat is the finding's caveat: the capture's own problems, and the
// connections this detector left out to bound its memory.
func (b *teardownBase) caveat(env *Env) string {
	c := teardownCaveat(env)
	if b.dropped > 0 {
		if c != "" {
			c += "; "
		}
		c += fmt.Sprintf("%d connections were left out of this detector because it already tracked %d groups", b.dropped, maxGroups)
	}
	return c
}

// recBudget is how many records one teardown detector keeps across all its
// groups, in units of recCap: a capture with many groups, each below recCap,
// would otherwise keep a record for every matching connection.
const recBudget = 10

// keep reports whether a group holding n records may keep one more, and
// counts it when so. Beyond recCap per group, or recBudget × recCap in all,
// a detector classifies what arrives at once instead (its overflow path).
func (b *teardownBase) keep(n int) bool {
	if n >= b.recCap() || b.kept >= recBudget*b.recCap() || !b.tab.room() {
		return false
	}
	b.kept++
	return true
}

// ref stores c's flow reference for a kept record.
func (b *teardownBase) ref(c *flows.Conn) uint32 { return b.tab.put(Ref(c)) }

// refs returns a new flow list with the configured cap.
func (b *teardownBase) refs() refList { return refList{max: b.maxFlows} }

// exemplars returns a new exemplar set with the configured cap.
func (b *teardownBase) exemplars() exemplarSet { return exemplarSet{max: b.maxExemplars} }

// grace is CloseWaitGrace in capture nanoseconds.
func (b *teardownBase) grace() int64 { return ns(b.opt.CloseWaitGrace) }

// teardownSpecs lists the teardown detectors in report order: the symptom
// (close-wait-leak) first, then the root causes.
func teardownSpecs() []*Spec {
	return []*Spec{
		closeWaitSpec(),
		healthcheckSpec(),
		tlsAbandonSpec(),
		idleTimeoutSpec(),
		staleReuseSpec(),
		writeAfterFINResetSpec(),
		writeAfterFINBlackholedSpec(),
		upstreamTimeoutSpec(),
	}
}
