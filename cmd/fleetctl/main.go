// Command fleetctl is the command-line client of fleetd.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/fleetd/fleetd/cmd/fleetctl/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], cli.SystemEnv())
	stop()
	os.Exit(code)
}
