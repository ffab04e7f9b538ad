package render

import "errors"

// eachAhead is src.Each(f) with the reading and decoding of the summaries
// on a goroutine of its own, a few batches ahead of f: on a capture of
// hundreds of thousands of connections the report's flow table spent about
// half its time reading them back, and the analysis has nothing else left
// to run on the other core. f sees the summaries in the same order, on the
// caller's goroutine; when it returns an error the reading stops, and
// eachAhead returns that error once the goroutine has ended.
//
// It reads at most aheadMax summaries more than f takes, also after f
// stopped it. As with ConnSource.Each, a summary is f's only until f
// returns: the batches are copies, used again once f has seen them, so
// that reading a table of 150,000 connections allocates a few batches,
// not 150,000 summaries.
func eachAhead(src ConnSource, f func(*ConnSummary) error) error {
	batches := make(chan []ConnSummary, aheadDepth)
	free := make(chan []ConnSummary, aheadDepth+2) // every batch there can be
	stop := make(chan struct{})
	done := make(chan struct{})
	var readErr error
	go func() {
		defer close(done)
		defer close(batches)
		stopped := func() bool {
			select {
			case <-stop:
				return true
			default:
				return false
			}
		}
		next := func() []ConnSummary {
			select {
			case b := <-free:
				return b[:0]
			default:
				return make([]ConnSummary, 0, aheadBatch)
			}
		}
		b := next()
		readErr = src.Each(func(c *ConnSummary) error {
			if b = append(b, *c); len(b) == aheadBatch {
				if stopped() {
					return errStopped
				}
				select {
				case batches <- b:
				case <-stop:
					return errStopped
				}
				b = next()
			}
			return nil
		})
		if len(b) > 0 && !errors.Is(readErr, errStopped) {
			// The last summaries, read before the end or an error.
			select {
			case batches <- b:
			case <-stop:
			}
		}
	}()
	var err error
	for b := range batches {
		for i := range b {
			if err = f(&b[i]); err != nil {
				break
			}
		}
		if err != nil {
			// No draining: taking batches would make room for the
			// reader to go on. It ends at its next send, which the
			// closed stop refuses, or a full channel holds until
			// it sees stop.
			close(stop)
			<-done
			return err
		}
		free <- b
	}
	return readErr // never errStopped: stop is closed only with err set
}

// The reading goroutine sends summaries in batches of aheadBatch, at most
// aheadDepth of them waiting: with the one f is given and the one being
// filled, it is at most aheadMax summaries ahead.
const (
	aheadBatch = 256
	aheadDepth = 4
	aheadMax   = (aheadDepth + 2) * aheadBatch
)

// errStopped ends a reading eachAhead no longer wants.
var errStopped = errors.New("stopped")
