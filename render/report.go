package render

import (
	"github.com/pcapsleuth/pcapsleuth/detectors"
	"github.com/pcapsleuth/pcapsleuth/flows"
)

// SchemaVersion is the JSON report's schema version; it changes on any
// incompatible change (docs/report.schema.json).
const SchemaVersion = 1

// Report is everything one analysis produced, ready to be written as JSON,
// HTML, Markdown or text. It holds no gopacket types.
type Report struct {
	Tool     Tool
	Captures []Capture
	Findings []detectors.Finding
	// Conns iterates over the connection summaries in ID order; they may be
	// spilled to disk (memory stays bounded on floods).
	Conns ConnSource
	// States is the "ss view": per endpoint, how many sockets were in each
	// inferred state over time (top endpoints only).
	States []flows.StateSeries
	// Summary is the analysis at a glance (counts per side and state).
	Summary Summary
	// Settings are the analysis settings, shown at the end of the report.
	Settings Settings
	// GeneratedAt is the wall-clock time of the run (RFC 3339), injected by
	// cmd; empty in golden tests.
	GeneratedAt string
}

// Tool names the program that wrote the report.
type Tool struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// Capture is one input file's metadata and health.
type Capture struct {
	Path        string      `json:"path"`
	Format      string      `json:"format"`      // pcap | pcapng
	Compression string      `json:"compression"` // none | gzip | zstd
	Packets     int64       `json:"packets"`     // frames read
	TCPPackets  int64       `json:"tcp_packets"`
	Bytes       int64       `json:"bytes"` // bytes read from the (decompressed) stream
	FirstTS     int64       `json:"-"`
	LastTS      int64       `json:"-"`
	Start       string      `json:"start,omitempty"` // RFC 3339 with ns
	End         string      `json:"end,omitempty"`
	DurationS   float64     `json:"duration_s"`
	ByteOrder   string      `json:"byte_order,omitempty"`
	Version     string      `json:"version,omitempty"`
	Sections    int         `json:"sections,omitempty"`
	Interfaces  []Interface `json:"interfaces"`
	Decode      DecodeStats `json:"decode"`
	Errors      []string    `json:"errors"`
	Warnings    []string    `json:"warnings,omitempty"`
}

// Interface is one capture interface.
type Interface struct {
	LinkType   string  `json:"link_type"`
	SnapLen    uint32  `json:"snaplen"`
	Resolution string  `json:"ts_resolution"`
	Name       string  `json:"name,omitempty"`
	Dropped    *uint64 `json:"dropped,omitempty"`
}

// DecodeStats counts what the decoder did with the frames.
type DecodeStats struct {
	NonIP           int64            `json:"non_ip"`
	NonTCP          int64            `json:"non_tcp"`
	IPFragments     int64            `json:"ip_fragments"`
	Malformed       int64            `json:"malformed"`
	SnapTruncated   int64            `json:"snap_truncated"`
	UnsupportedLink map[string]int64 `json:"unsupported_link_types,omitempty"`
	// Tunneled counts the TCP segments (analysed) that came out of a
	// tunnel, by the outermost tunnel's name ("VXLAN", "GRE", ...).
	Tunneled map[string]int64 `json:"tunneled,omitempty"`
}

// ConnSummary is the report's line about one connection (CONTRACT.md's "A
// connection", plus details).
type ConnSummary struct {
	ID              int64    `json:"id"`
	Client          string   `json:"client"` // ip:port, [v6]:port
	Server          string   `json:"server"`
	DirectionFrom   string   `json:"direction_from"` // "syn" | "port-heuristic"
	Packets         int64    `json:"packets"`
	Retransmissions int64    `json:"retransmissions"`
	ClientState     string   `json:"client_state"`
	ServerState     string   `json:"server_state"`
	Start           string   `json:"start"`
	DurationS       float64  `json:"duration_s"`
	ClientPackets   int64    `json:"client_packets"`
	ServerPackets   int64    `json:"server_packets"`
	ClientBytes     int64    `json:"client_bytes"`
	ServerBytes     int64    `json:"server_bytes"`
	HandshakeRTTMS  *float64 `json:"handshake_rtt_ms,omitempty"`
	ClientMSS       uint16   `json:"client_mss,omitempty"`
	ServerMSS       uint16   `json:"server_mss,omitempty"`
	History         string   `json:"history"`
	End             string   `json:"end_reason"`
	TLSSNI          string   `json:"tls_sni,omitempty"`
	TLSVersion      string   `json:"tls_version,omitempty"`
	HTTPRequest     string   `json:"http_request,omitempty"`
	HTTPStatus      int      `json:"http_status,omitempty"`
	Findings        []string `json:"findings,omitempty"`
}

// ConnSource yields connection summaries in ID order.
type ConnSource interface {
	// Len is the number of connections.
	Len() int
	// Each calls f for every summary in ID order until f returns an error.
	// The summary is f's only until f returns: Each may reuse it for the
	// next one, so f copies what it keeps (the strings and slices in it
	// stay valid).
	Each(f func(*ConnSummary) error) error
}

// Summary is the analysis at a glance.
type Summary struct {
	Connections int64 `json:"connections"`
	// Lines are the text summary's sentences, e.g. "server side: 214
	// connections, 37 still in CLOSE_WAIT at the end of the capture, oldest 412 s".
	Lines []string `json:"lines"`
	// StateCounts counts endpoints per final state, per side ("client", "server").
	StateCounts map[string]map[string]int64 `json:"state_counts"`
	Evicted     int64                       `json:"evicted_connections"`
	// HalfOpenEvicted counts the evicted connections (included in Evicted)
	// that were half-open beyond --max-half-open: a SYN flood's mark.
	HalfOpenEvicted int64 `json:"evicted_half_open,omitempty"`
	PeakLive        int   `json:"peak_live_connections"`
}

// Settings are the analysis settings.
type Settings struct {
	Detectors []string          `json:"detectors"`
	Config    detectors.Config  `json:"-"`
	Values    map[string]string `json:"values"` // flag name → value, for display
}
