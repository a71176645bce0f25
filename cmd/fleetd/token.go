package main

import (
	"fmt"
	"github.com/fleetd/fleetd/internal/config"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"
	"os/user"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/fleetd/fleetd/pkg/auth"
)

// localActor names whoever runs fleetd's admin commands in audit events:
// they hold database access, not an API token.
func localActor() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return "local:" + u.Username
	}
	return "local"
}

func newTokenCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Create, list and revoke API tokens (needs database access)",
		Args:  noArgs,
		RunE:  func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newTokenCreateCmd(g), newTokenListCmd(g), newTokenRevokeCmd(g))
	return cmd
}

func newTokenCreateCmd(g *globals) *cobra.Command {
	var name, role string
	cmd := &cobra.Command{
		Use:   "create --name NAME --role viewer|operator|approver|admin",
		Short: "Create a token and print it once (only its hash is stored)",
		Long: `Create an API token. The token is printed once, alone on standard output, so
that it can be captured: export FLEETCTL_TOKEN=$(fleetd token create --name ops --role operator)`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if name == "" {
				return &usageError{fmt.Errorf("--name is required")}
			}
			r, err := auth.ParseRole(role)
			if err != nil {
				return &usageError{fmt.Errorf("--role: %w", err)}
			}
			return g.withDB(cmd.Context(), func(pool *pgxpool.Pool, cfg config.Config, log *zap.Logger) error {
				plaintext, tok, err := auth.NewStore(pool).Create(cmd.Context(), localActor(), name, r)
				if err != nil {
					return err
				}
				fmt.Fprintln(g.stdout, plaintext)
				fmt.Fprintf(g.stderr, "created token %q with role %s; it is shown only this once\n", tok.Name, tok.Role)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "token name, recorded as the actor in audit events (required)")
	cmd.Flags().StringVar(&role, "role", "", "viewer, operator, approver or admin (required)")
	return cmd
}

func newTokenListCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List tokens (names and roles; never the tokens themselves)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withDB(cmd.Context(), func(pool *pgxpool.Pool, cfg config.Config, log *zap.Logger) error {
				toks, err := auth.NewStore(pool).List(cmd.Context())
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tROLE\tCREATED BY\tCREATED\tLAST USED\tREVOKED")
				for _, t := range toks {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.Name, t.Role, t.CreatedBy,
						t.CreatedAt.UTC().Format("2006-01-02 15:04Z"), fmtTime(t.LastUsedAt), fmtTime(t.RevokedAt))
				}
				return tw.Flush()
			})
		},
	}
}

func newTokenRevokeCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "revoke NAME",
		Short: "Revoke a token: it stops working at once",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return &usageError{fmt.Errorf("want exactly one token NAME")}
			}
			return g.withDB(cmd.Context(), func(pool *pgxpool.Pool, cfg config.Config, log *zap.Logger) error {
				if err := auth.NewStore(pool).Revoke(cmd.Context(), localActor(), args[0]); err != nil {
					return err
				}
				fmt.Fprintf(g.stdout, "revoked token %q\n", args[0])
				return nil
			})
		},
	}
}

func fmtTime(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04Z")
}
