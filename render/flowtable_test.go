package render

import (
	"bytes"
	"encoding/json"
	"testing"
)

// genConns is a ConnSource of n made-up summaries that counts how many it
// was asked for.
type genConns struct{ n, yielded int }

func (g *genConns) Len() int { return g.n }

func (g *genConns) Each(f func(*ConnSummary) error) error {
	for i := range g.n {
		g.yielded++
		c := ConnSummary{ID: int64(i + 1), Client: "10.0.0.1:40000", Server: "10.0.0.2:80", Packets: 3}
		if err := f(&c); err != nil {
			return err
		}
	}
	return nil
}

// TestFlowTableStopsAtCap checks that the flow table takes maxTableRows
// connections, counts the rest from Len without reading them (but the few
// read ahead), and says how many it left out; and that a source under the
// cap is taken whole.
func TestFlowTableStopsAtCap(t *testing.T) {
	for _, n := range []int{10, maxTableRows, maxTableRows + 1234} {
		src := &genConns{n: n}
		ft, err := buildFlowTable(&Report{Conns: src}, nil, nil)
		if err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		rows := min(n, maxTableRows)
		if ft.Total != n || ft.Omitted != n-rows {
			t.Errorf("n=%d: total %d, omitted %d; want %d and %d", n, ft.Total, ft.Omitted, n, n-rows)
		}
		if got := bytes.Count(ft.Rows, []byte("],[")) + 1; got != rows {
			t.Errorf("n=%d: %d rows, want %d", n, got, rows)
		}
		// It reads ahead (eachAhead), a bounded number.
		if want := min(n, maxTableRows+1+aheadMax); src.yielded < rows || src.yielded > want {
			t.Errorf("n=%d: the table read %d connections, want %d to %d", n, src.yielded, rows, want)
		}
	}
}

// hostileConns is a ConnSource whose addresses, histories and request
// lines hold JSON and HTML that look like the table's own fields.
type hostileConns struct{ n int }

func (h hostileConns) Len() int { return h.n }

func (h hostileConns) Each(f func(*ConnSummary) error) error {
	for i := range h.n {
		rtt := float64(i) / 7
		c := ConnSummary{ID: int64(i + 1), Client: "10.0.0.1:40000", Server: "[2001:db8::1]:443", Packets: int64(i),
			History: `,"rows":0,"strings_omitted":1}</script>`, HTTPRequest: "GET /\u2028\"rows\":0 HTTP/1.1",
			Findings: []string{"a", `"rows":0,"strings_omitted":`}, HandshakeRTTMS: &rtt}
		if err := f(&c); err != nil {
			return err
		}
	}
	return nil
}

// TestFlowTableMarshal checks that the table's own writer, which puts
// the rows in without encoding/json's pass over them, gives the bytes
// json.Marshal gives, whatever strings the connections carry.
func TestFlowTableMarshal(t *testing.T) {
	for _, src := range []ConnSource{hostileConns{0}, hostileConns{1}, hostileConns{50}, &genConns{n: 1000}} {
		ft, err := buildFlowTable(&Report{Conns: src}, map[string]string{"a": "f-1"}, map[int64][]string{2: {"l-1"}})
		if err != nil {
			t.Fatal(err)
		}
		want, err := json.Marshal(ft)
		if err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		if err := ft.writeJSON(&got); err != nil || !bytes.Equal(got.Bytes(), want) {
			t.Fatalf("%d connections: writeJSON gave (%v)\n%.300s\nwant\n%.300s", src.Len(), err, got.Bytes(), want)
		}
	}
	var empty flowTable
	want, _ := json.Marshal(&empty)
	var got bytes.Buffer
	if err := empty.writeJSON(&got); err != nil || !bytes.Equal(got.Bytes(), want) {
		t.Errorf("no table: %s (%v), want %s", got.Bytes(), err, want)
	}
}
