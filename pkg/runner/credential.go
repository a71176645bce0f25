package runner

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"

	"go.uber.org/zap/zapcore"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

const redacted = "[REDACTED]"

// Credential is a named credential already resolved from the secret store by
// the caller. Its String, GoString, MarshalJSON and MarshalLogObject never show
// a secret, so a Credential (or a Target holding one) can be logged or
// printed safely.
type Credential struct {
	Name     string
	Username string
	Password string
	// SudoPassword answers sudo's `Password:`; empty means Password (on
	// Firepower sudo asks for the admin user's own password).
	SudoPassword string
	// PrivateKeyPEM is an OpenSSH or PEM private key; Passphrase decrypts it.
	PrivateKeyPEM []byte
	Passphrase    string
	// UseAgent offers the keys of the ssh-agent at Config.AgentSocket.
	UseAgent bool
	// Certificate is an OpenSSH user certificate (authorized_keys format) for
	// PrivateKeyPEM.
	Certificate []byte
}

func (c Credential) sudoPassword() string {
	if c.SudoPassword != "" {
		return c.SudoPassword
	}
	return c.Password
}

// secrets lists the strings that must never appear in transcripts, logs or
// errors.
func (c Credential) secrets() []string {
	var s []string
	for _, v := range []string{c.Password, c.SudoPassword, c.Passphrase} {
		if v != "" {
			s = append(s, v)
		}
	}
	return s
}

func mark(set bool) string {
	if set {
		return redacted
	}
	return ""
}

func (c Credential) String() string {
	return fmt.Sprintf("Credential{Name:%s Username:%s Password:%s SudoPassword:%s PrivateKey:%s Passphrase:%s UseAgent:%t Certificate:%t}",
		c.Name, c.Username, mark(c.Password != ""), mark(c.SudoPassword != ""), mark(len(c.PrivateKeyPEM) > 0),
		mark(c.Passphrase != ""), c.UseAgent, len(c.Certificate) > 0)
}

// GoString keeps %#v from dumping the secret fields.
func (c Credential) GoString() string { return "runner." + c.String() }

// MarshalJSON shows which secrets are set, never their values.
func (c Credential) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Name         string `json:"name"`
		Username     string `json:"username"`
		Password     string `json:"password,omitempty"`
		SudoPassword string `json:"sudo_password,omitempty"`
		PrivateKey   string `json:"private_key,omitempty"`
		Passphrase   string `json:"passphrase,omitempty"`
		UseAgent     bool   `json:"use_agent"`
		Certificate  bool   `json:"certificate"`
	}{c.Name, c.Username, mark(c.Password != ""), mark(c.SudoPassword != ""), mark(len(c.PrivateKeyPEM) > 0),
		mark(c.Passphrase != ""), c.UseAgent, len(c.Certificate) > 0})
}

// MarshalLogObject makes zap.Object / zap.Any log a Credential without secrets.
func (c Credential) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	enc.AddString("name", c.Name)
	enc.AddString("username", c.Username)
	enc.AddBool("password", c.Password != "")
	enc.AddBool("private_key", len(c.PrivateKeyPEM) > 0)
	enc.AddBool("use_agent", c.UseAgent)
	enc.AddBool("certificate", len(c.Certificate) > 0)
	return nil
}

// authMethods builds the client auth methods in OpenSSH's order: public keys
// (certificate first, then the bare key, then the agent), keyboard-interactive,
// password. The returned closer releases the agent connection, if any.
func (c Credential) authMethods(agentSocket string) ([]ssh.AuthMethod, func(), error) {
	var methods []ssh.AuthMethod
	closer := func() {}
	var signers []ssh.Signer
	if len(c.PrivateKeyPEM) > 0 {
		signer, err := parseSigner(c.PrivateKeyPEM, c.Passphrase)
		if err != nil {
			return nil, closer, err
		}
		if len(c.Certificate) > 0 {
			pub, _, _, _, err := ssh.ParseAuthorizedKey(c.Certificate)
			if err != nil {
				return nil, closer, fmt.Errorf("credential %s: parse certificate: %w", c.Name, err)
			}
			cert, ok := pub.(*ssh.Certificate)
			if !ok {
				return nil, closer, fmt.Errorf("credential %s: Certificate is a plain %s key, not an OpenSSH certificate", c.Name, pub.Type())
			}
			cs, err := ssh.NewCertSigner(cert, signer)
			if err != nil {
				return nil, closer, fmt.Errorf("credential %s: certificate does not match key: %w", c.Name, err)
			}
			signers = append(signers, cs)
		}
		signers = append(signers, signer)
	}
	if len(signers) > 0 {
		methods = append(methods, ssh.PublicKeys(signers...))
	}
	if c.UseAgent {
		if agentSocket == "" {
			return nil, closer, fmt.Errorf("credential %s: UseAgent set but no agent socket (SSH_AUTH_SOCK)", c.Name)
		}
		conn, err := net.Dial("unix", agentSocket)
		if err != nil {
			return nil, closer, fmt.Errorf("credential %s: ssh-agent: %w", c.Name, err)
		}
		closer = func() { _ = conn.Close() }
		methods = append(methods, ssh.PublicKeysCallback(agent.NewClient(conn).Signers))
	}
	if c.Password != "" {
		methods = append(methods, ssh.KeyboardInteractive(keyboardInteractive(c.Password)), ssh.Password(c.Password))
	}
	if len(methods) == 0 {
		closer()
		return nil, func() {}, fmt.Errorf("credential %s: no password, key or agent to authenticate with: %w", c.Name, ErrAuthFailed)
	}
	return methods, closer, nil
}

func parseSigner(pemBytes []byte, passphrase string) (ssh.Signer, error) {
	var signer ssh.Signer
	var err error
	if passphrase != "" {
		signer, err = ssh.ParsePrivateKeyWithPassphrase(pemBytes, []byte(passphrase))
	} else {
		signer, err = ssh.ParsePrivateKey(pemBytes)
	}
	if err != nil {
		var missing *ssh.PassphraseMissingError
		if errors.As(err, &missing) {
			return nil, fmt.Errorf("private key is encrypted and the credential has no passphrase: %w", ErrAuthFailed)
		}
		// The parser's message never contains the passphrase; keep it generic
		// anyway since the key bytes are secret.
		return nil, fmt.Errorf("parse private key: %w", ErrAuthFailed)
	}
	return signer, nil
}

// keyboardInteractive answers every non-echoed question (the password prompt,
// whatever its wording) with the password, for at most two rounds: a device
// that keeps asking is refusing the password, and the runner never feeds it
// more guesses.
func keyboardInteractive(password string) ssh.KeyboardInteractiveChallenge {
	rounds := 0
	return func(_, _ string, questions []string, echos []bool) ([]string, error) {
		answers := make([]string, len(questions))
		asked := false
		for i, q := range questions {
			if !echos[i] || strings.Contains(strings.ToLower(q), "password") {
				answers[i] = password
				asked = true
			}
		}
		if asked {
			rounds++
			if rounds > 2 {
				return nil, errors.New("keyboard-interactive: password asked again after two answers")
			}
		}
		return answers, nil
	}
}
