package render

import (
	"bytes"
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
