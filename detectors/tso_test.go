package detectors

import (
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

func TestInferMSS(t *testing.T) {
	for _, tc := range []struct {
		name string
		hist []tsoSize
		want int
	}{
		{"incident 004: 5 MSS, a tail, 4 MSS", []tsoSize{{7060, 1}, {1132, 1}, {5648, 1}}, 1412},
		{"timestamps: 1448 and its multiples", []tsoSize{{2896, 515}, {1448, 95}, {13032, 19}, {4344, 17}, {1904, 77}, {456, 14}}, 1448},
		{"only super-segments", []tsoSize{{2896, 10}, {4344, 7}, {5792, 3}}, 1448},
		{"a tail size that divides them does not win", []tsoSize{{1412, 30}, {7060, 12}, {706, 1}}, 1412},
		{"jumbo frames: one size", []tsoSize{{8948, 40}}, 8948},
		{"nothing in range", []tsoSize{{100, 4}, {200, 3}}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := inferMSS(tc.hist); got != tc.want {
				t.Errorf("inferMSS = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestFmtMultiple(t *testing.T) {
	for x, want := range map[float64]string{5: "5", 9.8: "9.8", 0.802: "0.8", 3.98: "4.0", 45.0001: "45"} {
		if got := fmtMultiple(x); got != want {
			t.Errorf("fmtMultiple(%g) = %q, want %q", x, got, want)
		}
	}
}

// TestTSOIncident004Sizes checks the incident's sizes through the whole
// pipeline without a handshake: the MSS comes from the sizes alone.
func TestTSOIncident004Sizes(t *testing.T) {
	run := runScript(t, "tso-004-midstream", `client 10.4.0.5:49200
server 10.4.0.2:8080
0.000 C>S ACK
1.000000 S>C PSH,ACK len=7060
1.000010 S>C PSH,ACK len=1132
1.000020 S>C PSH,ACK len=5648
1.020000 C>S ACK
1.020100 S>C PSH,ACK len=7060
1.020110 S>C PSH,ACK len=1412
`)
	var got *Finding
	for i := range run.Findings {
		if run.Findings[i].Kind == KindTSOSuperSegments {
			got = &run.Findings[i]
		}
	}
	if got == nil {
		t.Fatal("no tso-super-segments finding")
	}
	if got.Inferred.MSS == nil || *got.Inferred.MSS != 1412 {
		t.Errorf("mss = %v, want 1412", got.Inferred.MSS)
	}
	if got.Severity != Info {
		t.Errorf("severity %s, want info", got.Severity)
	}
}

// TestTSOBurstSizes: a burst of more segments than tsoDir keeps sizes of
// is shown by its first 6 sizes and all its bytes.
func TestTSOBurstSizes(t *testing.T) {
	script := "client 10.4.0.6:49200\nserver 10.4.0.3:8080\n0.000 C>S ACK\n1.000000 S>C PSH,ACK len=2824\n"
	for i := 1; i <= 7; i++ {
		script += fmt.Sprintf("1.0000%02d S>C PSH,ACK len=1412\n", i)
	}
	script += "1.020000 C>S ACK\n"
	run := runScript(t, "tso-burst", script)
	for _, f := range run.Findings {
		if f.Kind == KindTSOSuperSegments {
			want := "bursts such as 2,824 + 1,412 + 1,412 + 1,412 + 1,412 + 1,412 bytes (12,708 bytes, 9 MSS)"
			if !strings.Contains(f.Explanation, want) {
				t.Errorf("explanation %q\nwant it to contain %q", f.Explanation, want)
			}
			return
		}
	}
	t.Fatal("no tso-super-segments finding")
}

// TestTSOHist checks tsoHist against a plain model: the first tsoHistMax
// distinct sizes, small and large, with exact counts, also past 1<<32.
func TestTSOHist(t *testing.T) {
	var h tsoHist
	want := map[int]int64{}
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func() int {
		if rng.IntN(10) == 0 {
			return 1<<16 + rng.IntN(8)*1000 // BIG TCP sizes
		}
		return 256 + rng.IntN(80)*100
	}
	add := func(n int) {
		h.add(n)
		if _, ok := want[n]; ok || len(want) < tsoHistMax {
			want[n]++
		}
	}
	check := func(when string) {
		t.Helper()
		got := map[int]int64{}
		for _, s := range h.list() {
			if _, dup := got[s.Size]; dup {
				t.Fatalf("%s: size %d listed twice", when, s.Size)
			}
			got[s.Size] = s.Count
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("%s:\n got %v\nwant %v", when, got, want)
		}
	}
	for i := 0; i < 5000; i++ {
		add(pick())
	}
	if len(want) != tsoHistMax || h.rare == nil || len(h.rare.big) == 0 {
		t.Fatalf("the model should have %d sizes, some large: %d", tsoHistMax, len(want))
	}
	check("after random sizes")
	// A count about to wrap around 1<<32, twice.
	i := 3
	size := int(h.sizes[i])
	for round := 0; round < 2; round++ {
		want[size] += int64(math.MaxUint32 - h.n[i])
		h.n[i] = math.MaxUint32
		add(size)
		add(size)
		check(fmt.Sprintf("after wrap %d", round+1))
	}
	if want[size] < 2<<32 {
		t.Fatalf("count %d should be past 2<<32", want[size])
	}
}

// TestTSOSizeCounts: the link's histogram, data segment count and largest
// flight are exact though a connection keeps the segments of the size it
// sent last aside (tsoDir.sizeCache): runs of one size longer than the
// count kept aside, sizes interleaved, two connections on one link, and
// connections done in either order.
func TestTSOSizeCounts(t *testing.T) {
	var b strings.Builder
	b.WriteString("conn a client 10.4.0.7:49200 server 10.4.0.4:8080\n0.000 C>S ACK\n")
	b.WriteString("conn b client 10.4.0.7:49201 server 10.4.0.4:8080\n0.000 C>S ACK\n")
	want := map[int]int64{}
	var segs int64
	flight := map[string]int{}
	most := 0
	send := func(conn string, n int) {
		fmt.Fprintf(&b, "+0.0001 S>C@%s PSH,ACK len=%d\n", conn, n)
		want[n]++
		segs++
		flight[conn] += n
		most = max(most, flight[conn])
	}
	ack := func(conn string) {
		fmt.Fprintf(&b, "+0.0001 C>S@%s ACK\n", conn)
		flight[conn] = 0
	}
	for i := range 600 {
		switch {
		case i%50 == 49:
			send("a", 2824)
		case i%7 == 3:
			send("b", 1412)
		default:
			send("a", 1412)
		}
		if i%120 == 119 {
			ack("a")
		}
		if i == 300 {
			ack("b")
		}
	}
	send("b", 700)
	send("a", 600)
	for range 3 {
		send("a", 1412)
	}
	b.WriteString("+0.001 S>C@b FIN,ACK\n+0.001 C>S@b FIN,ACK\n+0.001 S>C@b ACK\n")
	run := runScript(t, "tso-counts", b.String())
	for _, f := range run.Findings {
		if f.Kind != KindTSOSuperSegments {
			continue
		}
		got := map[int]int64{}
		for _, p := range f.Charts[0].Series[0].Points {
			var n int
			if _, err := fmt.Sscanf(p.Label, "%d bytes", &n); err != nil {
				t.Fatalf("chart label %q: %v", p.Label, err)
			}
			got[n] = int64(p.Y)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("sizes %v, want %v", got, want)
		}
		seen := 0
		for _, m := range f.Evidence {
			switch m.Name {
			case "data_segments":
				seen++
				if int64(m.Value) != segs {
					t.Errorf("data_segments %v, want %d", m.Value, segs)
				}
			case "max_flight_mss":
				seen++
				if w := round3(float64(most) / 1412); m.Value != w {
					t.Errorf("max_flight_mss %v, want %v (%d bytes)", m.Value, w, most)
				}
			}
		}
		if seen != 2 {
			t.Errorf("evidence %+v lacks data_segments or max_flight_mss", f.Evidence)
		}
		return
	}
	t.Fatal("no tso-super-segments finding")
}
