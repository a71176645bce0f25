package main

import (
	"net"
	"net/http"
	"net/http/pprof"
	"os"

	"go.uber.org/zap"
)

// startPprof serves Go's profiler on FLEETD_PPROF_LISTEN when set, for
// benchmarks and field diagnosis. Loopback addresses only: profiles show
// memory contents.
func startPprof(log *zap.Logger) {
	addr := os.Getenv("FLEETD_PPROF_LISTEN")
	if addr == "" {
		return
	}
	host, _, err := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		log.Warn("FLEETD_PPROF_LISTEN must be a loopback host:port; profiler not started", zap.String("addr", addr))
		return
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	go func() {
		log.Info("profiler listening", zap.String("addr", addr))
		if err := http.ListenAndServe(addr, mux); err != nil {
			log.Warn("profiler stopped", zap.Error(err))
		}
	}()
}
