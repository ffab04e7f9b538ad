package cli

import (
	"os"
	"strconv"
	"time"
)

// SourceDate returns the time SOURCE_DATE_EPOCH (seconds since the epoch)
// fixes for reproducible output, and whether it is set and valid.
func SourceDate() (time.Time, bool) {
	epoch := os.Getenv("SOURCE_DATE_EPOCH")
	if epoch == "" {
		return time.Time{}, false
	}
	sec, err := strconv.ParseInt(epoch, 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(sec, 0).UTC(), true
}
