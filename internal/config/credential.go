package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// Secret is a string that refuses to be printed: fmt, zap's reflection
// encoder, JSON and YAML all see "[redacted]". Reveal gives the value to the
// one caller that needs it (the SSH auth method).
type Secret string

const redacted = "[redacted]"

// Reveal returns the secret value.
func (s Secret) Reveal() string { return string(s) }

// IsSet reports whether the secret is non-empty.
func (s Secret) IsSet() bool { return s != "" }

func (s Secret) String() string                { return redacted }
func (s Secret) GoString() string              { return redacted }
func (s Secret) MarshalText() ([]byte, error)  { return []byte(redacted), nil }
func (s Secret) MarshalJSON() ([]byte, error)  { return []byte(`"` + redacted + `"`), nil }
func (s Secret) MarshalYAML() (any, error)     { return redacted, nil }
func (s Secret) Format(f fmt.State, verb rune) { _, _ = f.Write([]byte(redacted)) }

// ResolvedCredential is a Credential with its secrets read. Hold it only for
// the duration of a connection; never log or store it.
type ResolvedCredential struct {
	Name          string
	Username      string
	Password      Secret // empty when the credential has no password source
	SudoPassword  Secret // sudo_password_env, else the login password
	PrivateKey    Secret // PEM contents of key_file
	KeyPassphrase Secret
	Certificate   []byte // OpenSSH certificate (public), from certificate_file
	UseAgent      bool
}

// ErrUnknownCredential is returned for a name that is not in credentials.
var ErrUnknownCredential = errors.New("unknown credential")

// ResolveCredential reads the named credential's secrets from the environment
// and files now, so that a rotated secret is picked up without a restart.
// Errors name the credential and the variable or file, never a value.
func (c Config) ResolveCredential(name string) (ResolvedCredential, error) {
	return c.resolveCredential(name, os.LookupEnv, os.ReadFile)
}

func (c Config) resolveCredential(name string, lookupEnv func(string) (string, bool), readFile func(string) ([]byte, error)) (ResolvedCredential, error) {
	cr, ok := c.Credentials[name]
	if !ok {
		return ResolvedCredential{}, fmt.Errorf("credential %q: %w", name, ErrUnknownCredential)
	}
	out := ResolvedCredential{Name: name, Username: cr.Username, UseAgent: cr.UseAgent}
	env := func(key, varName string) (Secret, error) {
		v, ok := lookupEnv(varName)
		if !ok {
			return "", fmt.Errorf("credential %q: environment variable %s (%s) is not set", name, varName, key)
		}
		if v == "" {
			return "", fmt.Errorf("credential %q: environment variable %s (%s) is empty", name, varName, key)
		}
		if hasControl(v) {
			return "", controlErr(name, key, "environment variable "+varName)
		}
		return Secret(v), nil
	}
	file := func(key, path string) ([]byte, error) {
		b, err := readFile(path)
		if err != nil {
			// fs.PathError carries the path and the OS reason, never file contents.
			var pe *fs.PathError
			if errors.As(err, &pe) {
				return nil, fmt.Errorf("credential %q: %s %s: %v", name, key, path, pe.Err)
			}
			return nil, fmt.Errorf("credential %q: %s %s: cannot read", name, key, path)
		}
		return b, nil
	}

	var err error
	switch {
	case cr.PasswordEnv != "":
		if out.Password, err = env("password_env", cr.PasswordEnv); err != nil {
			return ResolvedCredential{}, err
		}
	case cr.PasswordFile != "":
		b, err := file("password_file", cr.PasswordFile)
		if err != nil {
			return ResolvedCredential{}, err
		}
		// Editors and `echo` add a final newline that is not part of the password.
		pw := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
		if pw == "" {
			return ResolvedCredential{}, fmt.Errorf("credential %q: password_file %s is empty", name, cr.PasswordFile)
		}
		if hasControl(pw) {
			return ResolvedCredential{}, controlErr(name, "password_file", cr.PasswordFile)
		}
		out.Password = Secret(pw)
	}
	if cr.SudoPasswordEnv != "" {
		if out.SudoPassword, err = env("sudo_password_env", cr.SudoPasswordEnv); err != nil {
			return ResolvedCredential{}, err
		}
	} else {
		out.SudoPassword = out.Password
	}
	if cr.KeyFile != "" {
		b, err := file("key_file", cr.KeyFile)
		if err != nil {
			return ResolvedCredential{}, err
		}
		if !bytes.Contains(b, []byte("PRIVATE KEY")) {
			return ResolvedCredential{}, fmt.Errorf("credential %q: key_file %s is not a PEM private key", name, cr.KeyFile)
		}
		out.PrivateKey = Secret(b)
	}
	if cr.KeyPassphraseEnv != "" {
		if out.KeyPassphrase, err = env("key_passphrase_env", cr.KeyPassphraseEnv); err != nil {
			return ResolvedCredential{}, err
		}
	}
	if cr.CertificateFile != "" {
		if out.Certificate, err = file("certificate_file", cr.CertificateFile); err != nil {
			return ResolvedCredential{}, err
		}
	}
	return out, nil
}

// hasControl reports a C0 control character or DEL. Passwords, sudo
// passwords and passphrases are typed into prompts (sudo's runs in a root
// shell): a newline, CR or NUL would end the line early and the rest would be
// run as a command. PEM keys are never typed and may hold newlines.
func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return true
		}
	}
	return false
}

// controlErr names the credential and where the secret came from, never the
// secret or where in it the character is.
func controlErr(name, key, source string) error {
	return fmt.Errorf("credential %q: %s (%s) contains a control character (line break, NUL, ...): refused, it would be typed as more than one line",
		name, key, source)
}
