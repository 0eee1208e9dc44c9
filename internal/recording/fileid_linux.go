//go:build linux

package recording

import (
	"os"
	"syscall"
	"time"
)

// fileIdentity is a file's inode and change time (DownloadVersion).
func fileIdentity(fi os.FileInfo) (ino uint64, changed time.Time, ok bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, time.Time{}, false
	}
	return st.Ino, time.Unix(st.Ctim.Unix()), true
}
