package runner

import (
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// Concurrency from what the process can hold (issue 15). A session waiting
// on a device costs memory, not CPU: at real device latencies (curls of a
// few hundred ms, a blocked egress waiting its 10 s --max-time) a fixed 500
// sessions left most of two cores idle, while the same run at a tenth of
// the latencies saturated them. So the default is as many sessions as a
// memory budget holds, and the file descriptors allow.
const (
	// SessionMemory is what one open session costs fleetd, rounded up:
	// measured about 230 KiB (peak RSS over concurrency, 10,000 devices,
	// docs/benchmarks.md): SSH buffers and goroutines, the PTY reader,
	// output and transcript buffers, the job.
	SessionMemory = 256 << 10
	// SessionMemoryBudget is the memory given to open sessions by default,
	// within fleetd's 1 GiB promise: the rest is the process itself and a
	// run's results on their way to the database.
	SessionMemoryBudget = 640 << 20
	// fdReserve are file descriptors kept for the database pool, the API
	// and the listeners; each session holds one socket per hop.
	fdReserve = 512
	minAuto   = 50
)

// AutoMaxConcurrent is MaxConcurrent's default: SessionMemoryBudget (or
// half the cgroup's memory limit, when lower) over SessionMemory, at most
// half the open-file limit above fdReserve (a device behind a jump host
// holds two sockets), at least 50. 2,560 on a host without limits.
var AutoMaxConcurrent = sync.OnceValue(func() int {
	return autoMaxConcurrent(cgroupMemoryLimit(), openFileLimit())
})

func autoMaxConcurrent(memLimit int64, fds int64) int {
	budget := int64(SessionMemoryBudget)
	if memLimit > 0 && memLimit/2 < budget {
		budget = memLimit / 2
	}
	n := budget / SessionMemory
	if fds > 0 {
		n = min(n, (fds-fdReserve)/2)
	}
	return int(max(n, minAuto))
}

// cgroupMemoryLimit is the cgroup v2 (or v1) memory limit of the process,
// 0 when there is none.
func cgroupMemoryLimit() int64 {
	for _, f := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err != nil || v <= 0 || v >= 1<<60 { // "max", or v1's "unlimited" (a huge number)
			return 0
		}
		return v
	}
	return 0
}

// openFileLimit is RLIMIT_NOFILE's soft limit (Go raises it to the hard
// limit at start), 0 if unknown.
func openFileLimit() int64 {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur > 1<<40 {
		return 0
	}
	return int64(rl.Cur)
}
