package flows

// StateSeries is the "ss view" of one endpoint: how many of its sockets were
// in each inferred state over time, sampled at the end of each bucket.
type StateSeries struct {
	// Endpoint is the listener ("10.0.0.5:8080") for server-side sockets, or
	// "10.0.0.1 → 10.0.0.5:8080" for a client host's sockets to a listener.
	Endpoint    string
	Side        Dir   // Resp: the server's sockets; Orig: the client's
	BucketStart int64 // capture time of the first bucket's start (Unix ns)
	BucketWidth int64 // ns
	// Counts[i][s] is the number of sockets in State s at the end of bucket i.
	Counts [][NumStates]int32
	// Conns is the number of connections of this endpoint.
	Conns int64
}
