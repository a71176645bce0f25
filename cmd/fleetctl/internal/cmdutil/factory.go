// Package cmdutil holds what every fleetctl command shares: the Factory that
// hands out the API client and output format, the config file, output
// rendering (table/json/yaml) and the error types that decide exit codes.
package cmdutil

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/fleetd/fleetd/cmd/fleetctl/internal/iostreams"
	"github.com/fleetd/fleetd/pkg/api"
)

// Factory is built once per invocation by the cli package and passed to
// every command constructor. Commands copy the functions they need into
// their Options so tests can replace each one.
type Factory struct {
	IOStreams *iostreams.IOStreams
	Getenv    func(string) string
	Version   string
	// HTTPClient, when set, is used for API calls (tests, custom TLS roots).
	HTTPClient *http.Client

	// Global flag values, bound by the root command.
	Globals Globals

	settings *Settings
}

// Globals are the raw values of the global flags.
type Globals struct {
	Server string
	Token  string
	CAFile string
	Output Format
	flags  *pflag.FlagSet
}

// BindFlags registers the global flags on fs (the root's persistent flags).
func (g *Globals) BindFlags(fs *pflag.FlagSet) {
	g.flags = fs
	fs.StringVar(&g.Server, "server", "", "fleetd API URL (env FLEETCTL_SERVER; default "+DefaultServer+")")
	fs.StringVar(&g.Token, "token", "", "API token (env FLEETCTL_TOKEN; prefer the env or config file: flags show in ps)")
	fs.StringVar(&g.CAFile, "ca-file", "", "PEM file of the CA(s) that sign fleetd's TLS certificate (env FLEETCTL_CA_FILE); the system roots are used otherwise")
	g.Output = FormatTable
	fs.VarP(&g.Output, "output", "o", "output format: table, json or yaml")
}

func (g *Globals) changed(name string) bool {
	return g.flags != nil && g.flags.Changed(name)
}

// Settings are the effective server, token and output after merging flags,
// environment and the config file (in that order of precedence).
type Settings struct {
	Server     string
	Token      string
	Output     Format
	CAFile     string
	ConfigPath string
}

// Resolve merges flags, FLEETCTL_* environment and the config file. The cli
// package calls it before any command runs.
func (f *Factory) Resolve() (*Settings, error) {
	if f.settings != nil {
		return f.settings, nil
	}
	path, explicit := ConfigPath(f.Getenv)
	cf, err := LoadConfigFile(path, explicit, f.IOStreams.ErrOut)
	if err != nil {
		return nil, err
	}
	s := &Settings{ConfigPath: path}
	s.Server = pick(f.Globals.changed("server"), f.Globals.Server, f.Getenv("FLEETCTL_SERVER"), cf.Server, DefaultServer)
	s.Token = pick(f.Globals.changed("token"), f.Globals.Token, f.Getenv("FLEETCTL_TOKEN"), cf.Token, "")
	s.CAFile = pick(f.Globals.changed("ca-file"), f.Globals.CAFile, f.Getenv("FLEETCTL_CA_FILE"), cf.CAFile, "")
	out := pick(f.Globals.changed("output"), string(f.Globals.Output), f.Getenv("FLEETCTL_OUTPUT"), cf.Output, string(FormatTable))
	if s.Output, err = ParseFormat(out); err != nil {
		return nil, &FlagError{Err: err}
	}
	f.settings = s
	return s, nil
}

func pick(flagSet bool, flagVal, env, file, def string) string {
	switch {
	case flagSet:
		return flagVal
	case env != "":
		return env
	case file != "":
		return file
	default:
		return def
	}
}

// OutputFormat is the effective -o value.
func (f *Factory) OutputFormat() Format {
	s, err := f.Resolve()
	if err != nil {
		return FormatTable
	}
	return s.Output
}

// APIClient returns a client for the configured fleetd and token.
func (f *Factory) APIClient() (*api.Client, error) {
	s, err := f.Resolve()
	if err != nil {
		return nil, err
	}
	if s.Token == "" {
		where := "--token, FLEETCTL_TOKEN"
		if s.ConfigPath != "" {
			where += " or token: in " + s.ConfigPath
		}
		return nil, fmt.Errorf("no API token: set %s (an admin creates one with `fleetd token create`)", where)
	}
	opts := []api.ClientOption{api.WithUserAgent("fleetctl/" + f.Version)}
	switch {
	case f.HTTPClient != nil:
		opts = append(opts, api.WithHTTPClient(f.HTTPClient))
	case s.CAFile != "":
		hc, err := httpClientWithCA(s.CAFile)
		if err != nil {
			return nil, &FlagError{Err: err}
		}
		opts = append(opts, api.WithHTTPClient(hc))
	}
	c, err := api.NewClient(s.Server, s.Token, opts...)
	if err != nil {
		return nil, &FlagError{Err: err}
	}
	if u, _ := api.ParseServerURL(s.Server); u != nil && u.Scheme == "http" && !isLoopback(u.Hostname()) {
		fmt.Fprintf(f.IOStreams.ErrOut, "warning: sending the API token over plain HTTP to %s; use https://\n", u.Host)
	}
	return c, nil
}

// httpClientWithCA trusts exactly the CAs in path (not the system roots as
// well: a private fleetd should not also accept a certificate any public CA
// issued for its name).
func httpClientWithCA(path string) (*http.Client, error) {
	pemBytes, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--ca-file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		return nil, fmt.Errorf("--ca-file %s: no PEM certificate in the file", path)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: tr, Timeout: api.DefaultClientTimeout}, nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
