package cmdutil

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"gopkg.in/yaml.v3"
)

// DefaultServer is where fleetd listens out of the box (api.listen).
const DefaultServer = "http://127.0.0.1:8080"

// ConfigFile is ~/.config/fleetctl/config.yaml. Every key is optional;
// flags and FLEETCTL_* variables override it.
type ConfigFile struct {
	Server string `yaml:"server"`
	Token  string `yaml:"token"`
	Output string `yaml:"output"`
	// CAFile is a PEM bundle of the CA(s) that sign fleetd's TLS
	// certificate, for servers under a private CA.
	CAFile string `yaml:"ca_file"`
}

// ConfigPath is the config file fleetctl reads: FLEETCTL_CONFIG, else
// $XDG_CONFIG_HOME/fleetctl/config.yaml, else ~/.config/fleetctl/config.yaml.
// explicit is true when the user named the file, which must then exist.
func ConfigPath(getenv func(string) string) (path string, explicit bool) {
	if p := getenv("FLEETCTL_CONFIG"); p != "" {
		return p, true
	}
	if d := getenv("XDG_CONFIG_HOME"); d != "" {
		return filepath.Join(d, "fleetctl", "config.yaml"), false
	}
	if h := getenv("HOME"); h != "" {
		return filepath.Join(h, ".config", "fleetctl", "config.yaml"), false
	}
	return "", false
}

// LoadConfigFile reads the file at path. A missing file is an empty config
// unless mustExist; unknown keys are errors naming the key, so a typo
// ("sever:") is not silently ignored. warn receives advice that does not stop
// the command (a token in a file others can read).
func LoadConfigFile(path string, mustExist bool, warn io.Writer) (ConfigFile, error) {
	var cf ConfigFile
	if path == "" {
		return cf, nil
	}
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && !mustExist {
		return cf, nil
	}
	if err != nil {
		return cf, fmt.Errorf("config file: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&cf); err != nil && !errors.Is(err, io.EOF) {
		return cf, fmt.Errorf("config file %s: %w", path, err)
	}
	if cf.Output != "" {
		if _, err := ParseFormat(cf.Output); err != nil {
			return cf, fmt.Errorf("config file %s: output: %w", path, err)
		}
	}
	if cf.Token != "" && warn != nil {
		if st, err := os.Stat(path); err == nil && st.Mode().Perm()&0o077 != 0 {
			fmt.Fprintf(warn, "warning: %s holds a token but is readable by others (mode %04o); run: chmod 600 %s\n",
				path, st.Mode().Perm(), path)
		}
	}
	return cf, nil
}
