package flows

import (
	"net/netip"
	"strings"

	"github.com/pcapsleuth/pcapsleuth/decode"
)

// SegKind is the set of classifications of one segment, after Wireshark's
// tcp.analysis flags (a segment may carry several).
type SegKind uint32

// Segment classifications.
const (
	SegNewData            SegKind = 1 << iota // payload that advances the sequence space
	SegRetransmission                         // resends sequence space already sent
	SegFastRetransmission                     // a retransmission after >= 2 duplicate ACKs for its seq
	SegSpurious                               // a retransmission of data the peer had already ACKed
	SegOutOfOrder                             // fills a hole shortly after later data was sent (not a resend)
	SegKeepAlive                              // seq = next-1, <= 1 byte
	SegKeepAliveAck                           // an ACK answering a keep-alive
	SegWindowUpdate                           // pure ACK whose only change is the window
	SegDupAck                                 // pure ACK repeating the previous ACK and window
	SegZeroWindow                             // advertises a zero receive window
	SegZeroWindowProbe                        // one byte sent into a zero window
	SegAckedUnseen                            // ACKs peer data the capture never showed
	SegPrevNotCaptured                        // starts after a hole: earlier data was not captured
	SegAfterPeerFIN                           // payload sent after the peer's FIN was seen
	SegOverMSS                                // payload larger than the peer's MSS (TSO/GSO/GRO super-segment)
	SegTLP                                    // a retransmission of the last segment sent ~2 RTT after it (tail loss probe)
)

var segKindNames = []string{
	"new-data", "retransmission", "fast-retransmission", "spurious-retransmission", "out-of-order",
	"keep-alive", "keep-alive-ack", "window-update", "dup-ack", "zero-window", "zero-window-probe",
	"acked-unseen", "previous-segment-not-captured", "after-peer-fin", "over-mss", "tail-loss-probe",
}

// Has reports whether all kinds in x are set.
func (k SegKind) Has(x SegKind) bool { return k&x == x }

// String lists the kinds, comma-separated.
func (k SegKind) String() string {
	var b strings.Builder
	for i, n := range segKindNames {
		if k&(1<<i) != 0 {
			if b.Len() > 0 {
				b.WriteByte(',')
			}
			b.WriteString(n)
		}
	}
	return b.String()
}

// AnyRetransmission is every kind that resends sequence space.
const AnyRetransmission = SegRetransmission | SegFastRetransmission | SegSpurious

// Segment is what the tracker tells observers about each TCP segment.
type Segment struct {
	P   *decode.Packet // the decoded packet; valid only during the callback
	Dir Dir
	// FirstSYN is set on the connection's first SYN without ACK: the one
	// whose time Conn.SYNTS holds. SYNTS never changes once set, so an
	// observer may read it on any later segment.
	FirstSYN bool
	Kind     SegKind
	RelSeq   uint32 // sequence number relative to the sender's ISN (1 = first data byte)
	RelAck   uint32 // ack number relative to the receiver's ISN
	// SinceFirstTx is, for a retransmission, the time since the original
	// transmission of the same sequence number (0 when unknown).
	SinceFirstTx int64
	// View is what of the connection's changing state an observer may read
	// about this segment: the values right after it. An observer that
	// handles segments later than the tracker (on another goroutine) must
	// read these, not the Conn's fields, which go on changing; of the Conn
	// it may read only what never changes (ID, addresses, Slots) and
	// SYNTS after FirstSYN.
	View ConnView
}

// ConnView is the part of a connection's changing state that per-segment
// observers read (Segment.View): round-trip times, and what the SYNs
// announced. The tracker keeps a copy up to date in the Conn, where the
// segment's own cache lines are, so handing it over costs no cache miss.
type ConnView struct {
	HandshakeRTT int64     // Conn.HandshakeRTT
	RTTMin       int64     // Conn.RTTMin
	MSS          [2]uint16 // Endpoint.MSS of Orig and Resp
	SYNs         [2]uint8  // Endpoint.SYNs of Orig and Resp, at most 255
	Timestamps   [2]bool   // Endpoint.Timestamps of Orig and Resp
}

// View returns c's ConnView computed from its fields now: for observers
// that have the Conn to themselves (Done), and to check Segment.View.
func (c *Conn) View() ConnView {
	return ConnView{
		HandshakeRTT: c.HandshakeRTT, RTTMin: c.RTTMin,
		MSS:        [2]uint16{c.Orig.MSS, c.Resp.MSS},
		SYNs:       [2]uint8{uint8(min(c.Orig.SYNs, 255)), uint8(min(c.Resp.SYNs, 255))},
		Timestamps: [2]bool{c.Orig.Timestamps, c.Resp.Timestamps},
	}
}

// Endpoint is everything known about one side of a connection. Counters count
// segments sent by this endpoint.
//
// The fields every segment reads or writes come first, so that a segment
// touches few cache lines: on a busy capture a connection is rarely in the
// CPU cache, and those misses are most of the tracker's cost. They fill the
// first four lines exactly, and both endpoints of a Conn start a line
// (TestEndpointHotLines): a field added among them pushes one out. Of the
// endpoint a segment goes to (its peer), a segment reads only the first
// two: the address (the table's lookup compares both), what the FINs, RSTs
// and ACKs change, and what the peer's ACK samples an RTT from. The last
// two are the sender's counters and timestamps.
type Endpoint struct {
	// Line 0: read of both endpoints.
	Addr  netip.AddrPort
	FINTS int64 // first FIN sent (0 = none; FINFrame: its frame)
	RSTTS int64 // first RST sent (RSTFrame: its frame)
	// lastTx is the newest record of hist (its ts negated once an ACK gave
	// an RTT sample) and txN the number of records written: the ACK of the
	// other side reads them without a cache miss on the ring.
	lastTx txRecord
	// Line 1: read of both endpoints.
	txN        int
	FINAckedTS int64 // when the peer ACKed that FIN (0 = never seen)
	// afterFIN describes payload this endpoint sent after it saw the peer's
	// FIN (see DataAfterPeerFIN); nil until there is some.
	afterFIN      *AfterFIN
	ISN           uint32
	nextSeq       uint32 // highest seq + len (+SYN/FIN) sent (absolute)
	lastWin       uint32
	ackedUpTo     uint32 // highest ack this endpoint sent (absolute)
	lastAck       uint32
	lastKind      SegKind
	dupAckRun     int32 // duplicate ACKs in a row (saturates)
	State         State
	HasISN        bool // ISN known from a SYN (otherwise the first seq seen stands in)
	hasNext       bool
	hasWin        bool
	hasAcked      bool
	SACKPermitted bool
	Timestamps    bool
	winScale      uint8  // shift applied to this side's window (0 until both SYNs negotiated it)
	WScale        int8   // -1 = not seen / not negotiated
	MSS           uint16 // from this side's SYN (0 = not seen)

	// Line 2: the sender's.
	Packets      int64
	Bytes        int64 // TCP payload bytes, retransmissions included
	UniqueBytes  int64 // payload bytes that advanced the sequence space
	DataSegments int64
	Truncated    int64 // segments cut by the snaplen (every data segment at -s 96)
	FirstTS      int64
	LastTS       int64
	LastDataTS   int64 // 0 when no payload was sent
	// Line 3: the sender's.
	FirstDataTS int64 // 0 when no payload was sent
	FINFrame    int64
	MaxSegment  int // largest payload sent in one segment
	MinWindow   int64
	MaxWindow   int64 // scaled, bytes
	lastSegTS   int64
	hist        *txHistory // allocated on the first payload
	finSeq      uint32     // seq of the FIN
	afterFINSeq uint32     // first seq of data sent after the peer's FIN

	Transitions []Transition // bounded; the first and the last are always kept

	Retransmissions     int64 // all resends, fast and spurious included
	FastRetransmissions int64
	Spurious            int64
	TailLossProbes      int64
	OutOfOrder          int64
	DupAcks             int64
	ZeroWindows         int64
	ZeroWindowProbes    int64
	KeepAlives          int64
	WindowUpdates       int64
	AckedUnseen         int64
	PrevNotCaptured     int64
	// UnfilledGaps counts the sequence gaps (PrevNotCaptured) whose bytes
	// never showed up, neither out of order nor resent: data the capture
	// missed (or still in flight when it ended). Set when the connection
	// is handed on.
	UnfilledGaps int64
	OverMSS      int64 // segments with payload > the MSS in force
	RSTFrame     int64 // the frame of RSTTS

	SYNs int // SYN segments sent (retransmitted SYNs included)
	RSTs int

	// chains are the retransmission chains (see Backoff), allocated at the
	// first resend: most connections never need their 80 bytes.
	chains *retransChains

	trBuf [6]Transition // backing array of Transitions for a normal life

	_ [8]byte // to whole cache lines, so that Resp starts one (TestEndpointHotLines)
}

// txHistory remembers recent transmissions and capture holes of one
// direction, to tell retransmissions from out-of-order arrivals.
type txHistory struct {
	recs  [recentTx]txRecord // ring, position = Endpoint.txN % recentTx (see Endpoint.remember)
	holes []seqRange         // grows up to maxHoles, oldest first
	// forgotten counts the gap holes dropped when holes overflowed.
	forgotten int64
	nh        int
	// orphan: the record waiting in Endpoint.lastTx belongs to a history
	// dropped before this one (see Endpoint.remember).
	orphan bool
}

type seqRange struct {
	start, end uint32
	pre        bool // sent before the capture began (not a gap in it)
}

// retransChains are an endpoint's chains of resends of one sequence number.
type retransChains struct {
	longest RetransChain // Endpoint.Backoff
	cur     RetransChain // the chain being built
}

// DataAfterPeerFIN describes payload this endpoint sent after it saw the
// peer's FIN (the write-after-close pattern); FirstTS is 0 when there was
// none.
func (e *Endpoint) DataAfterPeerFIN() AfterFIN {
	if e.afterFIN == nil {
		return AfterFIN{}
	}
	return *e.afterFIN
}

// Backoff is the longest chain of retransmissions of one sequence number:
// the original transmission time followed by each resend (bounded). Count
// is 0 when nothing was resent.
func (e *Endpoint) Backoff() RetransChain {
	if e.chains == nil {
		return RetransChain{}
	}
	return e.chains.longest
}

// AfterFIN is the payload an endpoint sent after the peer's FIN.
type AfterFIN struct {
	FirstTS     int64 // first such payload (0 = none)
	FirstFrame  int64
	Delay       int64 // FirstTS - peer's FIN time
	Segments    int64
	Bytes       int64
	Acked       bool  // the peer ACKed some of it
	RSTAfterTS  int64 // the peer's first RST after it (0 = none)
	LastTS      int64
	Retransmits int64 // retransmissions of it
}

// RetransChain is one sequence number sent again and again.
type RetransChain struct {
	Seq   uint32  // relative seq
	Times []int64 // original transmission first (0 if not captured), then each resend; at most maxChain
	Count int     // resends in the chain (may exceed len(Times)-1)
}

const (
	recentTx = 32 // recent transmissions remembered per direction for RTO measurement
	// maxHoles bounds the sequence holes (data not captured yet)
	// remembered per direction: a fill of a forgotten hole counts as a
	// retransmission, so it is deep enough for reordering across a whole
	// window (64 segments and more), at 8 bytes a hole.
	maxHoles = 512
	maxChain = 16
	maxTurns = 16
	// turnsFirst is the capacity of a connection's first Turns buffer.
	turnsFirst = 4
)

type txRecord struct {
	seq, end uint32
	ts       int64
}

// Turn is one run of payload in one direction (a request, a response...).
type Turn struct {
	Dir      Dir
	StartTS  int64
	EndTS    int64
	Frame    int64 // first frame of the turn
	Bytes    int64
	Segments int64
	// FirstLine is an HTTP request or status line that starts the turn, when
	// the captured payload shows one (bounded length, raw bytes).
	FirstLine string
}

// Conn is one TCP connection. The tracker owns it until it calls Observer.Done;
// after that it is never modified again.
//
// As in Endpoint, the fields every segment touches come first.
type Conn struct {
	ID int64 // 1-based, in order of first packet

	Packets int64
	LastTS  int64

	// Log is the bounded packet log for ladder diagrams: the first and last
	// packets, and those around every FIN, RST and anomaly. Index is the
	// packet's position in the connection, so gaps show what was elided.
	Log []LogEntry

	tail     *[logTail]tailEntry // allocated after logHead packets
	tailN    int
	after    int32 // packets still to log after an anomaly
	inQueue  bool  // Tracker.closed holds it
	halfOpen bool  // nothing seen but the client's SYNs (see Tracker.halfHead)
	appFlags uint8 // bit d set: direction d was fully sniffed
	reusable bool  // finished, and no queue holds it (see ConnPool)
	closedTS int64

	// Turns are the payload runs; the first and last are kept when there are
	// more than maxTurns, and TurnCount counts them all.
	Turns     []Turn
	TurnCount int

	SYNTS    int64 // first SYN
	SYNACKTS int64 // first SYN-ACK

	// Slots hold per-connection state of observers (detectors) that asked
	// for a slot, so they need no map lookup per segment. The tracker never
	// reads them. They fill a cache line of their own (bytes 128 to 191),
	// which the tracker never writes: the detectors read them on another
	// core, and a line both cores wrote would go back and forth.
	Slots [MaxSlots]any

	EstablishedTS int64 // ACK completing the handshake
	HandshakeRTT  int64 // SYN→ACK as seen at the capture point (0 = unknown)
	RTTMin        int64 // smallest data→ACK sample, ns (0 = none)
	// view is View() kept up to date where its fields change (rarely), so
	// that every Segment.View is a copy from a line the segment touches.
	view ConnView

	app [2]*reassembly

	Orig, Resp Endpoint // Orig sent the first SYN (see DirKnown)

	// DirKnown is true when a SYN told who the client is; otherwise the
	// client was guessed (see Tracker doc: the side with the ephemeral port).
	DirKnown bool
	EndState EndReason

	FirstFrame int64
	FirstTS    int64

	// appInfo is the application context (see App), allocated when a
	// sniffer or an HTTP turn first has something to record: most
	// connections of a headers-only capture never need its 224 bytes.
	appInfo *AppInfo

	slot int // index in Tracker.live

	// halfPrev and halfNext link the half-open connections (Tracker.halfHead).
	halfPrev, halfNext *Conn

	// packed holds Log, the tail ring's live entries and Turns of a resting
	// connection (see pack); Log and Turns are nil while it is set.
	packed []byte

	// tailIndex is the index of the packet at the tail ring's position 0,
	// and tailHigh, when a frame number passed 1<<32, the upper halves of
	// the ring's frame numbers (see tailEntry).
	tailIndex int64
	tailHigh  *[logTail]uint32
}

// MaxSlots is the number of observer slots of a Conn.
const MaxSlots = 4

// EndReason tells how the tracker finished a connection.
type EndReason uint8

// Why a connection was handed on.
const (
	EndCaptureEnd EndReason = iota // still open when the capture ended
	EndClosed                      // closed (FINs or RST) and lingered
	EndEvicted                     // evicted to keep memory bounded
	EndReused                      // a new SYN reused its 4-tuple
)

func (e EndReason) String() string {
	return [...]string{"capture-end", "closed", "evicted", "port-reuse"}[e]
}

// Endpoint returns the endpoint sending in direction d.
func (c *Conn) Endpoint(d Dir) *Endpoint {
	if d == Orig {
		return &c.Orig
	}
	return &c.Resp
}

// App returns the application context sniffed from the connection's first
// bytes (the zero AppInfo when there was none).
func (c *Conn) App() AppInfo {
	if c.appInfo == nil {
		return AppInfo{}
	}
	return *c.appInfo
}

// appRecord returns the AppInfo the sniffers write to, allocating it.
func (c *Conn) appRecord() *AppInfo {
	if c.appInfo == nil {
		c.appInfo = new(AppInfo)
	}
	return c.appInfo
}

// Duration is the time between the connection's first and last packets,
// never negative (a clock that went backwards gives 0).
func (c *Conn) Duration() int64 { return max(c.LastTS-c.FirstTS, 0) }

// Retransmissions counts resends in both directions.
func (c *Conn) Retransmissions() int64 { return c.Orig.Retransmissions + c.Resp.Retransmissions }

// LogEntry is one packet of the bounded per-connection log.
type LogEntry struct {
	Index  int64 // position of the packet in the connection (0-based)
	Frame  int64
	TS     int64
	Dir    Dir
	Flags  decode.TCPFlags
	RelSeq uint32
	RelAck uint32
	Len    int32
	Win    uint32 // scaled window in bytes
	Kind   SegKind
}

const (
	logHead   = 12 // first packets always logged
	logTail   = 12 // last packets always logged
	logAround = 3  // packets logged after an anomaly (and kept before it from the tail)
	logMax    = 160
)

// AppInfo is the application context sniffed from the first bytes of each
// direction.
type AppInfo struct {
	TLS  TLSInfo
	HTTP HTTPInfo
}

// TLSInfo is what the first bytes show of a TLS handshake.
type TLSInfo struct {
	Seen              bool  // a TLS handshake record was seen (either direction)
	ClientHelloTS     int64 // 0 = not seen
	ClientHelloFrame  int64
	ServerHelloTS     int64
	ServerHelloFrame  int64
	ClientVersion     uint16 // legacy_version of the ClientHello
	ServerVersion     uint16 // negotiated (supported_versions when present)
	SNI               string // bounded, raw
	AlertTS           int64
	AlertDir          Dir
	AlertLevel        uint8
	AlertDescription  uint8
	AppDataTS         int64 // first application_data record
	HandshakeComplete bool  // both sides sent ChangeCipherSpec or application data after the ServerHello

	clientFinished, serverFinished bool
}

// HTTPInfo is what the first bytes show of HTTP/1.x.
type HTTPInfo struct {
	Seen       bool
	Method     string // bounded
	Target     string // bounded, raw request target
	Version    string
	Host       string
	Status     int
	Reason     string
	ConnHeader string // Connection header of the first request or response
	Requests   int    // request lines seen at the start of client turns
	Responses  int    // status lines seen at the start of server turns
}
