// Package procstat reads what the load tools under bench/ report of the
// server they drive (a process on the same machine, by pid) and raises
// their own descriptor limit. Every reader answers 0 when the process or
// the field cannot be read (no -pid given, another machine).
package procstat

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// status returns the value of one /proc/<pid>/status field ("" when
// unreadable).
func status(pid int, field string) string {
	if pid <= 0 {
		return ""
	}
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return ""
	}
	for l := range strings.SplitSeq(string(raw), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// RSS is the process's resident set size in bytes (VmRSS).
func RSS(pid int) int64 {
	f := strings.Fields(status(pid, "VmRSS"))
	if len(f) == 0 {
		return 0
	}
	kb, _ := strconv.ParseInt(f[0], 10, 64)
	return kb * 1024
}

// Threads is the process's thread count.
func Threads(pid int) int {
	n, _ := strconv.Atoi(status(pid, "Threads"))
	return n
}

// CPUSeconds is the user+system CPU time the process has used.
func CPUSeconds(pid int) float64 {
	if pid <= 0 {
		return 0
	}
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // USER_HZ
}

// MiB is b bytes in mebibytes.
func MiB(b int64) float64 { return float64(b) / (1 << 20) }

// RaiseFDLimit lifts this process's soft descriptor limit to its hard one:
// a driver holds a socket per simulated client.
func RaiseFDLimit() {
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) == nil && l.Cur < l.Max {
		l.Cur = l.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	}
}
