package render

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Flow table bounds. A report of 100,000 connections embeds about 7 MB of
// table data; beyond maxTableRows the table says how many were left out
// (the JSON report has them all).
const (
	maxTableRows   = 150_000
	maxStringBytes = 2 << 20 // interned history/app strings; more become "…"
	maxAppRunes    = 100     // an HTTP request line or SNI in the table
)

// flowRowBytes is about what a row of the table takes (72 bytes on h1g), to
// size the rows' buffer once.
const flowRowBytes = 72

// Row layout of flowTable.Rows: one array of integers per connection.
// Strings are indexes into the tables (-1: none, -2: left out to bound the
// report's size). The order is part of the embedded format read by the
// report's script (assets/report.js, COL).
var flowColumns = [...]string{
	"id", "client_host", "client_port", "server_host", "server_port",
	"packets", "retransmissions", "client_state", "server_state",
	"start_ms", "duration_ms", "client_bytes", "server_bytes",
	"history", "end_reason", "app", "findings", "flags", "rtt_us",
}

// Row flags.
const (
	rowDirGuessed = 1 << iota // client guessed from the ports (no SYN seen)
	rowHasLadder              // the connection is drawn as a ladder in a finding
)

// flowTable is the connection table as embedded in the report: compact
// arrays, not an object per row, with repeated strings interned.
type flowTable struct {
	Cols    []string `json:"cols"`
	T0      int64    `json:"t0"` // Unix ms that start_ms counts from
	Total   int      `json:"total"`
	Omitted int      `json:"omitted"` // rows left out beyond maxTableRows
	Hosts   []string `json:"hosts"`
	States  []string `json:"states"`
	Strs    []string `json:"strs"`
	Kinds   []string `json:"kinds"`   // detector names
	Anchors []string `json:"anchors"` // per kind: the first finding's element id
	Sets    [][]int  `json:"sets"`    // finding sets, indexes into Kinds
	// Ladders lists, per connection drawn as a ladder: [id, "ladder id", ...].
	Ladders [][]any         `json:"ladders"`
	Rows    json.RawMessage `json:"rows"`
	// StringsOmitted counts strings left out to bound the size.
	StringsOmitted int `json:"strings_omitted"`
}

// writeJSON writes json.Marshal(t) to w without encoding/json's pass over
// the rows (it checks and compacts a json.RawMessage byte by byte, 0.15 s
// of the report's 0.65 s on h1g's 150,000 rows) and without a copy of
// them: the rows are integers, commas and brackets (buildFlowTable), so
// they go in as they are, between the rest of the table's JSON.
func (t *flowTable) writeJSON(w io.Writer) error {
	c := *t
	c.Rows = json.RawMessage("0")
	b, err := json.Marshal(&c)
	if err != nil {
		return err
	}
	// The rows' placeholder, before the last field: in a JSON string a
	// quote always follows a backslash, so this is the field itself.
	const key, after = `,"rows":`, `0,"strings_omitted":`
	i := bytes.LastIndex(b, []byte(key+after))
	if i < 0 {
		return errors.New("the rows' place not found")
	}
	i += len(key)
	rows := t.Rows
	if rows == nil {
		rows = json.RawMessage("null")
	}
	for _, part := range [][]byte{b[:i], rows, b[i+1:]} {
		if _, err := w.Write(part); err != nil {
			return err
		}
	}
	return nil
}

// interner numbers distinct strings in first-seen order.
type interner struct {
	index  map[string]int
	list   []string
	bytes  int
	budget int // 0: unlimited
	missed int
}

func newInterner(budget int) *interner {
	return &interner{index: map[string]int{}, budget: budget}
}

// id returns s's index, -1 for "", or -2 when the budget is spent.
func (in *interner) id(s string) int {
	if s == "" {
		return -1
	}
	if i, ok := in.index[s]; ok {
		return i
	}
	if in.budget > 0 && in.bytes+len(s) > in.budget {
		in.missed++
		return -2
	}
	in.bytes += len(s)
	in.index[s] = len(in.list)
	in.list = append(in.list, s)
	return len(in.list) - 1
}

// buildFlowTable reads every connection summary once and builds the table.
// kindAnchors maps detector names to the element id of their first finding;
// ladders maps connection IDs to the ids of their ladder diagrams.
func buildFlowTable(r *Report, kindAnchors map[string]string, ladders map[int64][]string) (*flowTable, error) {
	t := &flowTable{Cols: flowColumns[:], T0: captureStartMS(r)}
	hosts := newInterner(0)
	states := newInterner(0)
	strs := newInterner(maxStringBytes)
	kinds := newInterner(0)
	sets := newInterner(0)
	var setLists [][]int
	notes := map[appKey]int{}
	rows := make([]byte, 0, flowRowBytes*max(1, connLen(r))+2)
	rows = append(rows, '[')
	var row [len(flowColumns)]int64
	if r.Conns != nil {
		err := eachAhead(r.Conns, func(c *ConnSummary) error {
			if t.Total == maxTableRows {
				// The table is full: the rest are only counted, and
				// Len counts them without reading them back (on a
				// capture of 320,000 connections that read took half
				// the table's time).
				return errTableFull
			}
			t.Total++
			ch, cp := splitAddr(c.Client)
			sh, sp := splitAddr(c.Server)
			row[0] = c.ID
			row[1], row[2] = int64(hosts.id(ch)), int64(cp)
			row[3], row[4] = int64(hosts.id(sh)), int64(sp)
			row[5], row[6] = c.Packets, c.Retransmissions
			row[7] = int64(states.id(orDash(c.ClientState)))
			row[8] = int64(states.id(orDash(c.ServerState)))
			row[9] = -1
			if ts, err := time.Parse(time.RFC3339Nano, c.Start); err == nil {
				if t.T0 == 0 {
					t.T0 = ts.UnixMilli()
				}
				row[9] = ts.UnixMilli() - t.T0
			}
			row[10] = int64(math.Round(c.DurationS * 1e3))
			row[11], row[12] = c.ClientBytes, c.ServerBytes
			row[13] = int64(strs.id(cleanLine(c.History, 64)))
			row[14] = int64(strs.id(cleanLine(c.End, 32)))
			ak := appKey{c.HTTPRequest, c.HTTPStatus, c.TLSSNI, c.TLSVersion}
			note, ok := notes[ak]
			if !ok {
				note = strs.id(appNote(c))
				if len(notes) < maxAppKeys {
					notes[ak] = note
				}
			}
			row[15] = int64(note)
			row[16] = -1
			if len(c.Findings) > 0 {
				names := c.Findings
				if !sortedUnique(names) {
					names = slices.Compact(slices.Sorted(slices.Values(names)))
				}
				key := strings.Join(names, ",")
				before := len(sets.list)
				row[16] = int64(sets.id(key))
				if len(sets.list) > before {
					var ks []int
					for _, n := range names {
						ks = append(ks, kinds.id(cleanLine(n, 64)))
					}
					setLists = append(setLists, ks)
				}
			}
			row[17] = 0
			if c.DirectionFrom != "" && c.DirectionFrom != "syn" {
				row[17] |= rowDirGuessed
			}
			if len(ladders[c.ID]) > 0 {
				row[17] |= rowHasLadder
			}
			row[18] = -1
			if c.HandshakeRTTMS != nil {
				row[18] = int64(math.Round(*c.HandshakeRTTMS * 1e3))
			}
			if t.Total > 1 {
				rows = append(rows, ',')
			}
			rows = append(rows, '[')
			for i, v := range row {
				if i > 0 {
					rows = append(rows, ',')
				}
				rows = strconv.AppendInt(rows, v, 10)
			}
			rows = append(rows, ']')
			return nil
		})
		if errors.Is(err, errTableFull) {
			t.Total, t.Omitted, err = r.Conns.Len(), r.Conns.Len()-maxTableRows, nil
		}
		if err != nil {
			return nil, err
		}
	}
	rows = append(rows, ']')
	t.Rows = rows
	t.Hosts = nonNil(hosts.list)
	t.States = nonNil(states.list)
	t.Strs = nonNil(strs.list)
	t.StringsOmitted = strs.missed
	// Every detector that has a finding is offered in the filter, even if
	// no listed connection names it.
	for _, name := range sortedKeys(kindAnchors) {
		kinds.id(name)
	}
	t.Kinds = nonNil(kinds.list)
	for _, k := range t.Kinds {
		t.Anchors = append(t.Anchors, kindAnchors[k])
	}
	t.Sets = setLists
	if t.Sets == nil {
		t.Sets = [][]int{}
	}
	for _, id := range sortedKeys(ladders) {
		e := []any{id}
		for _, l := range ladders[id] {
			e = append(e, l)
		}
		t.Ladders = append(t.Ladders, e)
	}
	if t.Ladders == nil {
		t.Ladders = [][]any{}
	}
	return t, nil
}

// appKey is what appNote reads of a connection: the table builds the note
// of each distinct one once, for at most maxAppKeys of them (a capture's
// connections repeat a few requests and server names).
type appKey struct {
	req    string
	status int
	sni    string
	ver    string
}

const maxAppKeys = 4096

// appNote is what the table shows of a connection's application: the HTTP
// request line and status, or the TLS server name.
func appNote(c *ConnSummary) string {
	var parts []string
	if c.HTTPRequest != "" {
		s := "HTTP " + c.HTTPRequest
		if c.HTTPStatus != 0 {
			s += " → " + strconv.Itoa(c.HTTPStatus)
		}
		parts = append(parts, s)
	} else if c.HTTPStatus != 0 {
		parts = append(parts, "HTTP → "+strconv.Itoa(c.HTTPStatus))
	}
	if c.TLSSNI != "" || c.TLSVersion != "" {
		s := "TLS"
		if c.TLSVersion != "" {
			s += " " + c.TLSVersion
		}
		if c.TLSSNI != "" {
			s += " " + c.TLSSNI
		}
		parts = append(parts, s)
	}
	return cleanLine(strings.Join(parts, "; "), maxAppRunes)
}

// splitAddr splits "ip:port" or "[v6]:port" into a cleaned host and port;
// anything else is kept whole as the host with port 0. The host is a
// substring of s when s writes the address as netip does (as the
// connection summaries do), so that the table's walk over 150,000
// connections does not format each address again.
func splitAddr(s string) (string, int) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		a := ap.Addr()
		var buf [64]byte
		canon := a.AppendTo(buf[:0])
		host := s[:strings.LastIndexByte(s, ':')]
		if a.Is6() && !a.Is4In6() {
			if len(host) == len(canon)+2 && host[0] == '[' && host[1:len(host)-1] == string(canon) {
				return host, int(ap.Port())
			}
			return "[" + string(canon) + "]", int(ap.Port())
		}
		if host == string(canon) {
			return host, int(ap.Port())
		}
		return string(canon), int(ap.Port())
	}
	return cleanLine(s, 80), 0
}

// sortedUnique tells whether s is sorted without repeats (as the store
// keeps a connection's findings).
func sortedUnique(s []string) bool {
	for i := 1; i < len(s); i++ {
		if s[i-1] >= s[i] {
			return false
		}
	}
	return true
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return cleanLine(s, 32)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// errTableFull stops buildFlowTable's walk over the connections once the
// table holds maxTableRows.
var errTableFull = errors.New("flow table full")

func connLen(r *Report) int {
	if r.Conns == nil {
		return 0
	}
	return min(r.Conns.Len(), maxTableRows)
}

// captureStartMS is the earliest capture start in Unix ms (0: unknown).
func captureStartMS(r *Report) int64 {
	var t0 int64
	for _, c := range r.Captures {
		if c.FirstTS > 0 && (t0 == 0 || c.FirstTS < t0) {
			t0 = c.FirstTS
		}
	}
	return t0 / 1e6
}

// sortedKeys returns m's keys in order, so map order never reaches output.
func sortedKeys[K cmp.Ordered, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
