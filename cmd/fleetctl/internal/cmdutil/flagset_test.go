package cmdutil

import "github.com/spf13/pflag"

func newFlagSet() *pflag.FlagSet { return pflag.NewFlagSet("test", pflag.ContinueOnError) }
