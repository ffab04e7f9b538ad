// Package detectors turns the connection model of package flows into
// findings: the teardown pathologies of the incident post-mortems
// (CLOSE_WAIT leaks, writes after FIN that a middlebox answers with RST or
// silently drops, stale pooled connections, idle and request timeouts,
// abandoned TLS handshakes, health checks left unanswered) and the transport
// problems behind them (retransmission storms and RTO backoff, TSO
// super-segments, zero windows, failed handshakes, a lossy capture).
//
// # Running detectors
//
// Each detector is described by a Spec and instantiated per analysis with
// Spec.New. An Engine fans the tracker's callbacks out to every detector in
// the same single pass over the capture (it implements flows.Observer), then
// Engine.Finish collects the findings. A detector keeps only bounded state:
// counts, a sample of flows (Config.MaxFlows) and a few exemplar connections.
//
// # Findings
//
// A Finding aggregates many connections (per listener, per host pair) and
// carries a title, a plain-words explanation drawn from the post-mortems,
// recommended actions, evidence numbers and the hidden settings inferred from
// the timings (Inferred: idle timeout, request timeout, drop window, MSS,
// probe interval, initial RTO). Detectors use capture time only, never the
// wall clock.
package detectors
