package detectors

// TransportOptions are the thresholds of the transport detectors
// (retransmissions, TSO, zero windows, handshakes, capture quality).
type TransportOptions struct {
}

// DefaultTransportOptions returns the defaults.
func DefaultTransportOptions() TransportOptions {
	return TransportOptions{}
}

// transportSpecs lists the transport detectors in report order.
func transportSpecs() []*Spec { return nil }
