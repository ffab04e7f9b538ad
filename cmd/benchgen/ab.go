package main

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"sort"
)

// ab runs two pcapsleuth builds alternately on one capture and prints the
// mean of the paired differences (B minus A) of wall time and CPU time,
// with its standard error. On the shared machines a run moves by ±30 % from
// one minute to the next, far more than most changes: medians of a few
// runs each cannot tell a 5 % change from the machine's hour, but the
// difference within a round of two runs taken back to back can, once
// there are enough rounds. The order within a round alternates, so that
// each build runs first in half of the rounds: the first run of a round
// tends to be the slower one. Both builds the same (-a X -b X) shows what
// the machine alone moves. Each run starts with the capture read once
// untimed (warmCache).
func ab(args []string) error {
	fs := flag.NewFlagSet("ab", flag.ContinueOnError)
	rounds := fs.Int("rounds", 20, "rounds of one run of each build (an odd count is rounded up: each build runs first in half of them)")
	a := fs.String("a", "", "pcapsleuth binary A (the reference)")
	b := fs.String("b", "", "pcapsleuth binary B (the change)")
	out := fs.String("report", "html", "report pcapsleuth writes: html, json or none")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *a == "" || *b == "" || fs.NArg() != 1 || *rounds < 2 {
		return errors.New("usage: benchgen ab -a BIN -b BIN [-rounds N] [-report html|json|none] CAPTURE (N at least 2)")
	}
	*rounds += *rounds % 2
	capture := fs.Arg(0)
	if _, err := os.Stat(capture); err != nil {
		return err
	}
	var walls, cpus [2][]float64
	for r := 0; r < *rounds; r++ {
		order := []int{0, 1}
		if r%2 == 1 {
			order = []int{1, 0}
		}
		for _, i := range order {
			bin := []string{*a, *b}[i]
			if err := warmCache(capture); err != nil {
				return err
			}
			r, err := measure(bin, analyzeArgs(capture, *out, ".ab")...)
			if err != nil {
				return fmt.Errorf("%s: %w", bin, err)
			}
			walls[i] = append(walls[i], r.secs)
			cpus[i] = append(cpus[i], r.cpu)
		}
	}
	fmt.Printf("capture %s, %d rounds, A=%s B=%s\n", capture, *rounds, *a, *b)
	for _, m := range []struct {
		name string
		v    [2][]float64
	}{{"wall", walls}, {"cpu (user+sys)", cpus}} {
		d := paired(m.v[0], m.v[1])
		fmt.Printf("  %s: A median %.2f s, B median %.2f s; B-A %+.3f s ± %.3f (standard error), %+.1f %% of A's mean\n",
			m.name, medianOf(m.v[0]), medianOf(m.v[1]), d.mean, d.se, 100*d.mean/d.meanA)
	}
	return nil
}

// diffStats summarizes paired differences.
type diffStats struct {
	mean, se float64 // mean of B[i]-A[i] and its standard error
	meanA    float64
}

// paired returns the mean of b[i]-a[i] and its standard error (the sample
// standard deviation over the square root of the count). a and b have the
// same length, at least 2.
func paired(a, b []float64) diffStats {
	n := float64(len(a))
	var sum, sumA float64
	for i := range a {
		sum += b[i] - a[i]
		sumA += a[i]
	}
	mean := sum / n
	var ss float64
	for i := range a {
		d := b[i] - a[i] - mean
		ss += d * d
	}
	return diffStats{mean: mean, se: math.Sqrt(ss/(n-1)) / math.Sqrt(n), meanA: sumA / n}
}

// medianOf returns the median of v (the upper one of an even count).
func medianOf(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}
