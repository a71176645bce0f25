package fmc

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"time"
)

// Errors of certificate trust. The pin store's errors wrap them.
var (
	// ErrCertificateUnknown: nothing is pinned for the FMC yet; the
	// certificate is recorded as pending (fleetctl hostkey accept).
	ErrCertificateUnknown = errors.New("fmc: certificate not pinned yet")
	// ErrCertificateMismatch: the FMC presented another certificate than
	// the pinned one. Nothing is sent.
	ErrCertificateMismatch = errors.New("fmc: certificate differs from the pinned one")
)

// Fingerprint is a certificate's SHA-256 fingerprint in the form host keys
// use ("SHA256:" + unpadded base64 of the DER's digest).
func Fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	return "SHA256:" + base64.RawStdEncoding.EncodeToString(sum[:])
}

// CertPinner is the pin store of one FMC (fleetd keeps pins with the host
// keys). A pinned certificate is the only root the FMC's chain may end in.
type CertPinner interface {
	// Pinned returns the pinned certificate (DER), nil when none is.
	Pinned(ctx context.Context) ([]byte, error)
	// Presented records a certificate the FMC presented that is not the
	// pinned one (or nothing is pinned). It returns nil when the store
	// pinned it (trust on first use), else an error wrapping
	// ErrCertificateUnknown or ErrCertificateMismatch.
	Presented(ctx context.Context, der []byte, addr string) error
}

// TLS says how the FMC's certificate is trusted: CAs (the chain and the
// host name are verified as a browser would), or Pin. Verification is never
// turned off: with a pin, the pinned certificate is the one root.
type TLS struct {
	CAs *x509.CertPool
	// ServerName overrides the name verified against the CA-signed
	// certificate (default: the host of the FMC's address).
	ServerName string
	Pin        CertPinner
}

func (t TLS) validate() error {
	if (t.CAs == nil) == (t.Pin == nil) {
		return errors.New("fmc: TLS needs exactly one of a CA pool or a certificate pin store")
	}
	return nil
}

// dialTLS opens one TLS connection, bounded by ctx and timeout.
func (c *Client) dialTLS(ctx context.Context, network, addr string) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	host, _, _ := net.SplitHostPort(addr)
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: host}
	if c.cfg.TLS.CAs != nil {
		cfg.RootCAs = c.cfg.TLS.CAs
		if c.cfg.TLS.ServerName != "" {
			cfg.ServerName = c.cfg.TLS.ServerName
		}
		return c.handshake(ctx, network, addr, cfg)
	}
	for attempt := 0; ; attempt++ {
		pinned, err := c.cfg.TLS.Pin.Pinned(ctx)
		if err != nil {
			return nil, fmt.Errorf("fmc: certificate pin: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if pinned != nil {
			cert, err := x509.ParseCertificate(pinned)
			if err != nil {
				return nil, fmt.Errorf("fmc: pinned certificate: %w", err)
			}
			cfg.RootCAs.AddCert(cert)
			cfg.ServerName = certName(cert, host)
		}
		conn, err := c.handshake(ctx, network, addr, cfg)
		var cve *tls.CertificateVerificationError
		if err == nil || !errors.As(err, &cve) || len(cve.UnverifiedCertificates) == 0 {
			return conn, err
		}
		leaf := cve.UnverifiedCertificates[0]
		if pinned != nil && Fingerprint(leaf.Raw) == Fingerprint(pinned) {
			// The pinned certificate itself did not verify (expired, or a
			// name that does not match): say so rather than re-record it.
			return nil, fmt.Errorf("fmc: the pinned certificate %s no longer verifies: %w", Fingerprint(pinned), cve.Err)
		}
		if err := c.cfg.TLS.Pin.Presented(ctx, leaf.Raw, addr); err != nil || attempt > 0 {
			if err == nil {
				err = errors.New("fmc: certificate pinned on first use still does not verify")
			}
			return nil, err
		}
		// Pinned on first use: verify against the new pin.
	}
}

func (c *Client) handshake(ctx context.Context, network, addr string, cfg *tls.Config) (net.Conn, error) {
	d := net.Dialer{Timeout: c.cfg.Timeout}
	raw, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	conn := tls.Client(raw, cfg)
	// A stalled handshake costs at most the timeout (R7).
	_ = raw.SetDeadline(time.Now().Add(c.cfg.Timeout))
	if err := conn.HandshakeContext(ctx); err != nil {
		_ = raw.Close()
		return nil, err
	}
	_ = raw.SetDeadline(time.Time{})
	return conn, nil
}

// certName is a name the pinned certificate holds, to verify it by: its
// first DNS name, else its first IP address, else host. The pin is the
// identity; the name only has to be one the certificate claims.
func certName(cert *x509.Certificate, host string) string {
	if len(cert.DNSNames) > 0 {
		return cert.DNSNames[0]
	}
	if len(cert.IPAddresses) > 0 {
		return cert.IPAddresses[0].String()
	}
	return host
}
