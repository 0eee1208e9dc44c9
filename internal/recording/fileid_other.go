//go:build !linux && !darwin

package recording

import (
	"os"
	"time"
)

// fileIdentity cannot read a file's inode and change time on this OS
// (DownloadVersion then names the file by its mtime and size).
func fileIdentity(os.FileInfo) (ino uint64, changed time.Time, ok bool) { return 0, time.Time{}, false }
