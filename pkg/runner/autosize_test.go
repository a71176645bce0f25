package runner

import "testing"

func TestAutoMaxConcurrent(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		mem, fds int64
		want     int
	}{
		{0, 0, SessionMemoryBudget / SessionMemory},             // no limits: the budget
		{0, 1 << 20, SessionMemoryBudget / SessionMemory},       // plenty of descriptors
		{512 << 20, 0, 1024},                                    // a 512 MiB container: half of it
		{0, 4096, (4096 - fdReserve) / 2},                       // descriptors bind first
		{0, 1024, 256},                                          // a default ulimit -n
		{64 << 20, 600, minAuto},                                // never below the floor
		{8 << 30, 1 << 20, SessionMemoryBudget / SessionMemory}, // a large container: the budget
	} {
		if got := autoMaxConcurrent(tc.mem, tc.fds); got != tc.want {
			t.Errorf("mem %d fds %d: got %d, want %d", tc.mem, tc.fds, got, tc.want)
		}
	}
	if n := AutoMaxConcurrent(); n < minAuto || n > SessionMemoryBudget/SessionMemory {
		t.Errorf("AutoMaxConcurrent() = %d", n)
	}
	if DefaultConfig().MaxConcurrent != AutoMaxConcurrent() {
		t.Error("the default is the automatic size")
	}
}
