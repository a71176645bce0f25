package main

import (
	"context"
	"errors"
	"fmt"
	"github.com/jackc/pgx/v5/pgxpool"
	"io"

	"github.com/spf13/cobra"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/fleetd/fleetd/internal/config"
)

// Version is set at build time with -ldflags "-X main.Version=...".
var Version = "dev"

// usageError is a mistake on the command line: exit 2.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// globals are the flags every fleetd command takes.
type globals struct {
	configPath string
	logLevel   string
	logFormat  string
	stdout     io.Writer
	stderr     io.Writer
}

// run executes fleetd with args and returns the exit code: 0 ok, 1 error,
// 2 bad usage.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	g := &globals{stdout: stdout, stderr: stderr}
	root := newRootCmd(g)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "fleetd: %v\n", err)
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
		return 2
	}
	return 1
}

func newRootCmd(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:           "fleetd",
		Short:         "fleetd diagnoses and remediates the Firepower SSE connector across a fleet",
		Version:       Version,
		SilenceErrors: true,
		SilenceUsage:  true,
		Args:          noArgs,
		RunE:          func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	root.CompletionOptions.DisableDefaultCmd = true
	pf := root.PersistentFlags()
	pf.StringVar(&g.configPath, "config", "", "config file (default ./config/fleetd.yaml, then /etc/fleetd/fleetd.yaml)")
	pf.StringVar(&g.logLevel, "log-level", "", "debug, info, warn or error (overrides log.level)")
	pf.StringVar(&g.logFormat, "log-format", "", "json or console (overrides log.format)")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err} })

	root.AddCommand(newServeCmd(g), newMigrateCmd(g), newTokenCmd(g))
	return root
}

func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return &usageError{fmt.Errorf("unknown command %q for %q", args[0], cmd.CommandPath())}
	}
	return nil
}

// load reads and validates the config and builds the logger; every command
// that touches the database or serves starts here.
func (g *globals) load() (config.Config, *zap.Logger, error) {
	cfg, err := config.Load(g.configPath)
	if err != nil {
		return config.Config{}, nil, err
	}
	if g.logLevel != "" {
		cfg.Log.Level = g.logLevel
	}
	if g.logFormat != "" {
		cfg.Log.Format = g.logFormat
	}
	log, err := newLogger(cfg.Log, g.stderr)
	if err != nil {
		return config.Config{}, nil, &usageError{err}
	}
	return cfg, log, nil
}

// withDB loads the config, opens the database and runs fn: the set-up every
// one-shot command (migrate, token) shares.
func (g *globals) withDB(ctx context.Context, fn func(pool *pgxpool.Pool, cfg config.Config, log *zap.Logger) error) error {
	cfg, log, err := g.load()
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	pool, err := openPool(ctx, cfg.Database)
	if err != nil {
		return err
	}
	defer pool.Close()
	return fn(pool, cfg, log)
}

// newLogger builds the process logger: JSON for machines by default,
// console for people. It writes to w (stderr).
func newLogger(c config.Log, w io.Writer) (*zap.Logger, error) {
	level, err := zapcore.ParseLevel(c.Level)
	if err != nil {
		return nil, fmt.Errorf("log level %q: want debug, info, warn or error", c.Level)
	}
	var enc zapcore.Encoder
	switch c.Format {
	case "json", "":
		ec := zap.NewProductionEncoderConfig()
		ec.TimeKey = "ts"
		ec.EncodeTime = zapcore.RFC3339NanoTimeEncoder
		enc = zapcore.NewJSONEncoder(ec)
	case "console":
		ec := zap.NewDevelopmentEncoderConfig()
		ec.EncodeTime = zapcore.TimeEncoderOfLayout("15:04:05.000")
		enc = zapcore.NewConsoleEncoder(ec)
	default:
		return nil, fmt.Errorf("log format %q: want json or console", c.Format)
	}
	core := zapcore.NewCore(enc, zapcore.AddSync(w), level)
	return zap.New(core, zap.ErrorOutput(zapcore.AddSync(w))), nil
}
