package main

import (
	"fmt"
	"github.com/fleetd/fleetd/internal/config"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/fleetd/fleetd/internal/dbmigrate"
)

func newMigrateCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "migrate [up|status]",
		Short: "Apply pending database migrations (up, the default) or list them (status)",
		Long: `Apply pending migrations (fleetd's schema, then River's job queue schema) under an
advisory lock, so several fleetd processes may run it at once. fleetd serve does the
same at start; run it separately to migrate before rolling out new replicas.`,
		ValidArgs: []string{"up", "status"},
		RunE: func(cmd *cobra.Command, args []string) error {
			action := "up"
			switch {
			case len(args) > 1:
				return &usageError{fmt.Errorf("too many arguments: %q", args)}
			case len(args) == 1:
				action = args[0]
			}
			if action != "up" && action != "status" {
				return &usageError{fmt.Errorf("unknown migrate action %q (want up or status)", action)}
			}
			return g.withDB(cmd.Context(), func(pool *pgxpool.Pool, cfg config.Config, log *zap.Logger) error {

				if action == "up" {
					if err := dbmigrate.Up(cmd.Context(), pool, log.Named("migrate")); err != nil {
						return err
					}
					fmt.Fprintln(g.stdout, "database is up to date")
					return nil
				}
				sts, err := dbmigrate.Status(cmd.Context(), pool)
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "SOURCE\tVERSION\tNAME\tAPPLIED\tAPPLIED AT")
				for _, s := range sts {
					at := "-"
					if s.AppliedAt != nil {
						at = s.AppliedAt.UTC().Format("2006-01-02 15:04:05Z")
					}
					applied := "no"
					if s.Applied {
						applied = "yes"
					}
					fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", s.Source, s.Version, s.Name, applied, at)
				}
				return tw.Flush()
			})
		},
	}
	return cmd
}
