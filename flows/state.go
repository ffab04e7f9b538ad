package flows

import "fmt"

// Dir is the direction of a segment within a connection: Orig is the side that
// sent the first SYN (the client), Resp the other (the server).
type Dir uint8

// Directions of a connection.
const (
	Orig Dir = iota // client → server
	Resp            // server → client
)

// Reverse returns the other direction.
func (d Dir) Reverse() Dir { return d ^ 1 }

// String returns "orig" or "resp".
func (d Dir) String() string {
	if d == Orig {
		return "orig"
	}
	return "resp"
}

// State is an endpoint's inferred TCP state, named as the kernel names it.
type State uint8

// TCP endpoint states (RFC 793 / Linux names). StateUnknown means the capture
// never showed the endpoint act (e.g. a server that never answered a SYN).
const (
	StateUnknown State = iota
	StateSynSent
	StateSynReceived
	StateEstablished
	StateFinWait1
	StateFinWait2
	StateCloseWait
	StateLastAck
	StateClosing
	StateTimeWait
	StateClosed
	numStates
)

var stateNames = [numStates]string{
	"UNKNOWN", "SYN_SENT", "SYN_RECEIVED", "ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2",
	"CLOSE_WAIT", "LAST_ACK", "CLOSING", "TIME_WAIT", "CLOSED",
}

// NumStates is the number of distinct States, for tables indexed by State.
const NumStates = int(numStates)

// String returns the kernel's name of the state, e.g. "CLOSE_WAIT".
func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// MarshalText implements encoding.TextMarshaler.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// ParseState returns the State named name (as String spells it).
func ParseState(name string) (State, bool) {
	for i, n := range stateNames {
		if n == name {
			return State(i), true
		}
	}
	return StateUnknown, false
}

// Transition is one change of an endpoint's state.
type Transition struct {
	TS    int64 // capture time, Unix ns
	Frame int64 // frame that caused it (0 when inferred from a timer)
	State State // the new state
}

// TimeWaitDuration is how long Linux keeps a socket in TIME_WAIT (TCP_TIMEWAIT_LEN).
const TimeWaitDuration = int64(60e9)

// maxTransitions bounds the transitions kept per endpoint; a normal life has
// fewer than eight, and the last one is always kept.
const maxTransitions = 16
