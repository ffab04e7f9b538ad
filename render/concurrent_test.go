package render

import (
	"bytes"
	"sync"
	"testing"
)

// TestWriteHTMLConcurrent: reports written at once by several goroutines
// (a batch run with -j) share the parsed template and the inline assets
// (parsedTemplate, inlined), and each comes out as it does written alone.
func TestWriteHTMLConcurrent(t *testing.T) {
	reports := []*Report{writeAfterFINReport(t), closeWaitReport(t), cleanReport(t), hostileReport(t)}
	want := make([][]byte, len(reports))
	for i, r := range reports {
		var b bytes.Buffer
		if err := WriteHTML(&b, r); err != nil {
			t.Fatalf("report %d: %v", i, err)
		}
		want[i] = b.Bytes()
	}
	const rounds = 3
	got := make([][]byte, len(reports)*rounds)
	errs := make([]error, len(got))
	var wg sync.WaitGroup
	for k := range got {
		wg.Go(func() {
			var b bytes.Buffer
			errs[k] = WriteHTML(&b, reports[k%len(reports)])
			got[k] = b.Bytes()
		})
	}
	wg.Wait()
	for k := range got {
		i := k % len(reports)
		if errs[k] != nil {
			t.Fatalf("report %d, written concurrently: %v", i, errs[k])
		}
		if !bytes.Equal(got[k], want[i]) {
			t.Errorf("report %d written concurrently differs from the same report written alone (%d against %d bytes)", i, len(got[k]), len(want[i]))
		}
	}
	if bytes.Equal(want[0], want[1]) {
		t.Fatal("two different reports wrote the same bytes: the test cannot tell them apart")
	}
}
