//go:build !unix

package main

import "os"

// usage returns a finished child's CPU time in seconds; its peak RSS is
// not available here (0: the tables print it as unknown).
func usage(ps *os.ProcessState) (rssKB int64, cpu float64) {
	return 0, (ps.UserTime() + ps.SystemTime()).Seconds()
}
