package procstat

import (
	"os"
	"testing"
)

// TestReadsThisProcess: the readers find this process's figures, and
// answer 0 for no process.
func TestReadsThisProcess(t *testing.T) {
	t.Parallel()
	pid := os.Getpid()
	for i := 0; i < 1_000_000; i++ {
		_ = make([]byte, 64) // some CPU time to read back
	}
	if RSS(pid) <= 0 || Threads(pid) <= 0 || CPUSeconds(pid) < 0 {
		t.Fatalf("rss %d, threads %d, cpu %g", RSS(pid), Threads(pid), CPUSeconds(pid))
	}
	if RSS(0) != 0 || Threads(0) != 0 || CPUSeconds(0) != 0 {
		t.Fatal("pid 0 read as a process")
	}
	if MiB(3<<20) != 3 {
		t.Fatal("MiB")
	}
}
