//go:build unix

// Package disk reads how much space a directory's disk has left.
package disk

import "syscall"

// Free is the space left to unprivileged writers on the disk of dir; ok is
// false when it cannot be read.
func Free(dir string) (free int64, ok bool) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, false
	}
	return int64(st.Bavail) * int64(st.Bsize), true //nolint:unconvert // field types differ per OS
}
