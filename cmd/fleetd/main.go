// Command fleetd is the fleetd server: HTTP API, job workers and scheduler
// over PostgreSQL, plus the admin commands that need direct database access
// (migrate, token).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
