package live

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// hardware samples CPU, memory and disk use (percent) for Owncast's
// hardwarestats, from /proc and statfs, every interval; it keeps a day.
type hardware struct {
	dir string

	mu       sync.Mutex
	cpu      []Sample
	mem      []Sample
	disk     []Sample
	lastIdle uint64
	lastAll  uint64
}

const hardwareKeep = 24 * 60 / 2

// HardwareStats is the sampled series.
type HardwareStats struct {
	CPU, Memory, Disk []Sample
}

// Hardware returns the CPU, memory and disk series.
func (s *Service) Hardware() HardwareStats {
	h := s.hardware()
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.cpu) == 0 {
		h.mu.Unlock()
		h.sample(s.cfg.Now())
		h.mu.Lock()
	}
	return HardwareStats{CPU: append([]Sample{}, h.cpu...), Memory: append([]Sample{}, h.mem...), Disk: append([]Sample{}, h.disk...)}
}

func (s *Service) hardware() *hardware {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hw == nil {
		s.hw = &hardware{dir: s.cfg.DataDir}
	}
	return s.hw
}

func (h *hardware) sample(now time.Time) {
	cpu := h.cpuPercent()
	mem := memPercent()
	disk := diskPercent(h.dir)
	h.mu.Lock()
	defer h.mu.Unlock()
	add := func(s *[]Sample, v int) {
		*s = append(*s, Sample{Time: now.UTC(), Value: v})
		if len(*s) > hardwareKeep {
			*s = (*s)[len(*s)-hardwareKeep:]
		}
	}
	add(&h.cpu, cpu)
	add(&h.mem, mem)
	add(&h.disk, disk)
}

func (h *hardware) cpuPercent() int {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return 0
	}
	fields := strings.Fields(sc.Text())
	if len(fields) < 5 || fields[0] != "cpu" {
		return 0
	}
	var all, idle uint64
	for i, x := range fields[1:] {
		v, _ := strconv.ParseUint(x, 10, 64)
		all += v
		if i == 3 || i == 4 { // idle, iowait
			idle += v
		}
	}
	h.mu.Lock()
	dAll, dIdle := all-h.lastAll, idle-h.lastIdle
	h.lastAll, h.lastIdle = all, idle
	h.mu.Unlock()
	if dAll == 0 {
		return 0
	}
	return int(100 * (dAll - dIdle) / dAll)
}

func memPercent() int {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	var total, avail uint64
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		v, _ := strconv.ParseUint(f[1], 10, 64)
		switch f[0] {
		case "MemTotal:":
			total = v
		case "MemAvailable:":
			avail = v
		}
	}
	if total == 0 {
		return 0
	}
	return int(100 * (total - avail) / total)
}

func diskPercent(dir string) int {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil || st.Blocks == 0 {
		return 0
	}
	return int(100 * (st.Blocks - st.Bavail) / st.Blocks)
}
