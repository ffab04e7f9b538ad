//go:build !linux

package hugepages

// Start returns an Advisor that does nothing: huge pages are advised on
// Linux only.
func Start(reserve int64) *Advisor {
	a := &Advisor{stop: make(chan struct{}), done: make(chan struct{})}
	close(a.done)
	return a
}

// Mode returns "": transparent huge pages are Linux's.
func Mode() string { return "" }
