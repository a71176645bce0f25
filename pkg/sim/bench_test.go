package sim

import (
	"testing"

	"golang.org/x/crypto/ssh"
)

// BenchmarkLogin is one SSH connect + password login + close against an
// in-process device, with a bare x/crypto/ssh client (client and server
// share the CPU, as in the fleet benchmarks).
func BenchmarkLogin(b *testing.B) {
	f, err := NewFleet(FleetConfig{Count: 16, Listen: "127.77.254.1", TimeScale: 1e-6}, nil)
	if err != nil {
		b.Fatal(err)
	}
	if err := f.Start(b.Context()); err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	devs := f.Devices()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			d := devs[i%len(devs)]
			i++
			c, err := ssh.Dial("tcp", d.Addr(), clientConfig(d))
			if err != nil {
				b.Error(err)
				return
			}
			_ = c.Close()
		}
	})
}
