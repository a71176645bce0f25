package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/fleetd/fleetd/internal/apiserver"
	"github.com/fleetd/fleetd/internal/app"
	"github.com/fleetd/fleetd/internal/config"
	"github.com/fleetd/fleetd/internal/dbmigrate"
)

func newServeCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "Run the API server (applies pending migrations first)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, log, err := g.load()
			if err != nil {
				return err
			}
			defer func() { _ = log.Sync() }()
			return serve(cmd.Context(), cfg, log, nil)
		},
	}
}

// Shutdown (issue 10 §3: a fleetd with three hung devices never exited):
// SIGTERM starts api.shutdown_grace (default 15s), shared by the API server
// and the job queue: requests and jobs may finish within it. At its end,
// jobs are cancelled, which closes their SSH sessions at once (the runner
// watches the session context), and every wait left (River, the recorder,
// the database pool) is abandoned app.HardStop later. serve then returns
// and the process exits, whatever a device or a query still blocks on.
const defaultShutdownGrace = 15 * time.Second

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// serve is fleetd's process: it opens the database, migrates it, builds
// the backend (internal/app) and the API server over it, and runs both
// until ctx is cancelled. onListen, if set, learns the bound address
// (tests listen on port 0).
func serve(ctx context.Context, cfg config.Config, log *zap.Logger, onListen func(net.Addr)) error {
	log.Info("starting fleetd", zap.String("version", Version),
		zap.String("database", cfg.Database.RedactedURL()), zap.String("listen", cfg.API.Listen))

	warnUnrestricted(cfg, log)
	startPprof(log)
	pool, err := openPool(ctx, cfg.Database)
	if err != nil {
		return err
	}
	grace := cfg.API.ShutdownGrace
	if grace <= 0 {
		grace = defaultShutdownGrace
	}
	// Set when shutdown begins; the deferred stops below keep to it.
	var graceEnd time.Time
	graceAt := func() time.Time {
		if graceEnd.IsZero() {
			graceEnd = time.Now().Add(grace)
		}
		return graceEnd
	}
	defer func() {
		// pgxpool's Close waits for every acquired connection; a job stuck
		// in a query must not keep the process alive.
		hardAt := graceAt().Add(app.HardStop)
		if !app.Within(later(hardAt, time.Now().Add(500*time.Millisecond)), pool.Close) {
			log.Warn("database connections still in use at exit were abandoned")
		}
	}()

	if err := dbmigrate.Up(ctx, pool, log.Named("migrate")); err != nil {
		return err
	}

	backend, err := app.New(ctx, app.Options{Config: cfg, Pool: pool, Log: log, Workers: true})
	if err != nil {
		return err
	}
	srv, err := apiserver.New(backend.APIDeps())
	if err != nil {
		return err
	}
	// The backend stops after the API server, because requests in flight
	// may still insert jobs.
	if err := backend.Start(ctx); err != nil {
		return err
	}
	stopBackend := sync.OnceFunc(func() {
		gctx, cancel := context.WithDeadline(context.Background(), graceAt())
		defer cancel()
		backend.Stop(gctx)
	})
	defer stopBackend()

	ln, err := net.Listen("tcp", cfg.API.Listen)
	if err != nil {
		return fmt.Errorf("api.listen %q: %w", cfg.API.Listen, err)
	}
	scheme := "http"
	if cfg.API.TLS.Enabled() {
		cert, err := tls.LoadX509KeyPair(cfg.API.TLS.CertFile, cfg.API.TLS.KeyFile)
		if err != nil {
			_ = ln.Close()
			return fmt.Errorf("api.tls: %w", err)
		}
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
		scheme = "https"
	} else if !isLoopbackListen(ln.Addr()) {
		log.Warn("API listens on a non-loopback address WITHOUT TLS: bearer tokens travel in clear text; "+
			"set api.tls.cert_file and api.tls.key_file, or listen on 127.0.0.1",
			zap.String("listen", ln.Addr().String()))
	}

	httpSrv := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute, // a large inventory upload on a slow link
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          zap.NewStdLog(log.Named("http")),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	log.Info("API listening", zap.String("url", scheme+"://"+ln.Addr().String()))
	if onListen != nil {
		onListen(ln.Addr())
	}

	errc := make(chan error, 1)
	go func() { errc <- httpSrv.Serve(ln) }()

	select {
	case err := <-errc:
		return fmt.Errorf("api server: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down", zap.Duration("grace", grace))
	sctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), graceAt())
	defer cancel()
	if err := httpSrv.Shutdown(sctx); err != nil {
		log.Warn("requests still running at the end of the grace period were cut", zap.Error(err))
		_ = httpSrv.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("api server: %w", err)
	}
	stopBackend()
	log.Info("stopped")
	return nil
}

func openPool(ctx context.Context, db config.Database) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig(db.URL)
	if err != nil {
		// pgx's parse error may quote the URL, password included.
		return nil, errors.New("database.url: not a valid PostgreSQL connection string")
	}
	if db.MaxConns > 0 {
		pc.MaxConns = db.MaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("database %s: %w", db.RedactedURL(), err)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("database %s unreachable: %w", db.RedactedURL(), err)
	}
	return pool, nil
}

// isLoopbackListen reports whether only this host can connect.
func isLoopbackListen(a net.Addr) bool {
	tcp, ok := a.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}

// warnUnrestricted names the sites without allowed_networks and the
// credentials without sites: with either, an operator can add a device at an
// address they control and have fleetd send it that credential's password.
func warnUnrestricted(cfg config.Config, log *zap.Logger) {
	if sites := cfg.UnrestrictedSites(); len(sites) > 0 {
		log.Warn("sites without allowed_networks: their devices may have any address, so an operator could point a credential at a host they control; "+
			"set sites.<name>.allowed_networks", zap.Strings("sites", sites))
	}
	if creds := cfg.UnrestrictedCredentials(); len(creds) > 0 {
		log.Warn("credentials without sites: devices of every site may use them; set credentials.<name>.sites",
			zap.Strings("credentials", creds))
	}
}
