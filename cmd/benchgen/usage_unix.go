//go:build unix

package main

import (
	"os"
	"runtime"
	"syscall"
	"time"
)

// usage returns a finished child's peak RSS in KiB and its CPU time in
// seconds, from getrusage: macOS reports ru_maxrss in bytes, the other
// Unixes in KiB.
func usage(ps *os.ProcessState) (rssKB int64, cpu float64) {
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0, (ps.UserTime() + ps.SystemTime()).Seconds()
	}
	rssKB = int64(ru.Maxrss)
	if runtime.GOOS == "darwin" || runtime.GOOS == "ios" {
		rssKB /= 1024
	}
	return rssKB, time.Duration(syscall.TimevalToNsec(ru.Utime) + syscall.TimevalToNsec(ru.Stime)).Seconds()
}
