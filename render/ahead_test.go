package render

import (
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"
)

// failingConns yields n summaries, then fails.
type failingConns struct{ genConns }

var errSource = errors.New("source broke")

func (f *failingConns) Each(fn func(*ConnSummary) error) error {
	if err := f.genConns.Each(fn); err != nil {
		return err
	}
	return errSource
}

// TestEachAhead: the summaries come in order, all of them; an error of f
// stops the reading and is returned; an error of the source comes after
// every summary read before it; no goroutine is left behind.
func TestEachAhead(t *testing.T) {
	before := runtime.NumGoroutine()
	for _, n := range []int{0, 1, aheadBatch, 3*aheadBatch + 7, 20 * aheadBatch} {
		var ids []int64
		err := eachAhead(&genConns{n: n}, func(c *ConnSummary) error {
			ids = append(ids, c.ID)
			return nil
		})
		if err != nil || len(ids) != n {
			t.Fatalf("n=%d: %d summaries, error %v", n, len(ids), err)
		}
		for i, id := range ids {
			if id != int64(i+1) {
				t.Fatalf("n=%d: summary %d has ID %d", n, i, id)
			}
		}
		stopAt := errors.New("enough")
		src := &genConns{n: n}
		got := 0
		err = eachAhead(src, func(*ConnSummary) error {
			if got++; got == 5 {
				return stopAt
			}
			return nil
		})
		if n >= 5 && (err != stopAt || got != 5 || src.yielded > 5+aheadMax) {
			t.Errorf("n=%d: stopped after %d (read %d) with %v", n, got, src.yielded, err)
		}
		got = 0
		err = eachAhead(&failingConns{genConns{n: n}}, func(*ConnSummary) error { got++; return nil })
		if err != errSource || got != n {
			t.Errorf("n=%d: a failing source gave %d summaries and %v", n, got, err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines left behind", n-before)
	}
}

// reusingConns yields n summaries through one ConnSummary, as ConnStore
// does: a consumer that kept the pointer would see only the last.
type reusingConns struct{ n int }

func (r reusingConns) Len() int { return r.n }

func (r reusingConns) Each(f func(*ConnSummary) error) error {
	var c ConnSummary
	for i := range r.n {
		c = ConnSummary{ID: int64(i + 1), Client: fmt.Sprintf("10.0.0.1:%d", 1024+i)}
		if err := f(&c); err != nil {
			return err
		}
	}
	return nil
}

// TestEachAheadCopies: eachAhead hands f copies that stay as they were
// read while the reading goes on with the same summary, and the batches it
// uses again carry nothing of the ones before.
func TestEachAheadCopies(t *testing.T) {
	n := 5*aheadBatch + 3
	seen := 0
	err := eachAhead(reusingConns{n: n}, func(c *ConnSummary) error {
		seen++
		if c.ID != int64(seen) || c.Client != fmt.Sprintf("10.0.0.1:%d", 1023+seen) {
			return fmt.Errorf("summary %d is %d %s", seen, c.ID, c.Client)
		}
		if seen%aheadBatch == 1 {
			time.Sleep(time.Millisecond) // let the reader run ahead
		}
		return nil
	})
	if err != nil || seen != n {
		t.Fatalf("%d of %d summaries: %v", seen, n, err)
	}
}
