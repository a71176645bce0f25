package cmdutil

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// ExactArgs is cobra.ExactArgs with a message naming what is missing, as a
// usage error (exit 2).
func ExactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		switch {
		case len(args) < n:
			return FlagErrorf("missing %s", what)
		case len(args) > n:
			return FlagErrorf("too many arguments: want %s, got %q", what, args)
		}
		return nil
	}
}

// MinimumArgs requires at least n arguments.
func MinimumArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < n {
			return FlagErrorf("missing %s", what)
		}
		return nil
	}
}

// NoArgs refuses positional arguments.
func NoArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return FlagErrorf("unexpected argument %q for %q", args[0], cmd.CommandPath())
	}
	return nil
}

// GroupArgs is for commands that only group subcommands (fleetctl device):
// an argument there is a mistyped subcommand.
func GroupArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2 // cobra's default, applied only on its own code path
	}
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += "; did you mean " + strings.Join(s, " or ") + "?"
	}
	return &FlagError{Err: fmt.Errorf("%s", msg)}
}

// GroupRun shows the group's help when no subcommand is given.
func GroupRun(cmd *cobra.Command, args []string) error { return cmd.Help() }

// ParseTags turns repeated --tag k=v values into a map. Keys and values are
// checked by the server; here only the shape.
func ParseTags(values []string) (map[string]string, error) {
	if len(values) == 0 {
		return nil, nil
	}
	tags := make(map[string]string, len(values))
	for _, v := range values {
		k, val, ok := strings.Cut(v, "=")
		if !ok || k == "" {
			return nil, FlagErrorf("--tag %q: want key=value", v)
		}
		if _, dup := tags[k]; dup {
			return nil, FlagErrorf("--tag %q: key %q given twice", v, k)
		}
		tags[k] = val
	}
	return tags, nil
}
