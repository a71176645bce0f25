package runner

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"net"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

func noop(context.Context, *Session) error { return nil }

func runEcho(ctx context.Context, s *Session) error {
	out, err := s.Run(ctx, LevelRoot, "echo ok")
	if err == nil && out != "ok\n" {
		return errUnexpected(out)
	}
	return err
}

type errUnexpected string

func (e errUnexpected) Error() string { return "unexpected output " + string(e) }

func TestHostKeyPolicy(t *testing.T) {
	t.Parallel()
	t.Run("changed key: closed before any secret or command", func(t *testing.T) {
		t.Parallel()
		dev := startFake(t, fakeConfig{})
		store := NewMemoryHostKeyStore()
		r := newTestRunner(t, testConfig(), store)
		tg := targetFor(dev, store, "dev")
		store.Pin("dev", newHostKey(t).PublicKey()) // the key the device used to have
		res := r.Session(ctxT(t), tg, runEcho)
		require.Equal(t, ClassHostKeyMismatch, res.Class, "%v", res.Err)
		require.Equal(t, 1, res.Attempts, "never retried")
		require.Zero(t, dev.passwords.Load())
		require.Zero(t, dev.pubkeys.Load())
		require.Zero(t, dev.logins.Load())
		require.Zero(t, dev.commands.Load())
		ev := store.Events()
		require.Len(t, ev, 1)
		require.Equal(t, HostKeyMismatch, ev[0].State)
		require.Equal(t, ssh.FingerprintSHA256(dev.cfg.hostKey.PublicKey()), ev[0].Fingerprint)
		require.Equal(t, ev[0].Fingerprint, res.HostKeyFingerprint)
	})
	t.Run("unknown key under strict: pending, nothing sent, accepted later", func(t *testing.T) {
		t.Parallel()
		dev := startFake(t, fakeConfig{})
		store := NewMemoryHostKeyStore()
		r := newTestRunner(t, testConfig(), store)
		tg := Target{Device: "new", Addr: dev.addr, Credential: labCred()}
		res := r.Session(ctxT(t), tg, runEcho)
		require.Equal(t, ClassHostKeyUnknown, res.Class)
		require.Zero(t, dev.passwords.Load())
		require.Zero(t, dev.logins.Load())
		require.True(t, keysEqual(dev.cfg.hostKey.PublicKey(), store.Pending("new")))
		require.Nil(t, store.Pinned("new"))

		require.NoError(t, store.Accept("new"))
		res = r.Session(ctxT(t), tg, runEcho)
		require.NoError(t, res.Err)
	})
	t.Run("unknown key under tofu: pinned on first use", func(t *testing.T) {
		t.Parallel()
		dev := startFake(t, fakeConfig{})
		store := NewMemoryHostKeyStore()
		r := newTestRunner(t, testConfig(), store)
		tg := Target{Device: "tofu", Addr: dev.addr, Credential: labCred(), HostKeyPolicy: HostKeyTOFU}
		res := r.Session(ctxT(t), tg, runEcho)
		require.NoError(t, res.Err)
		require.True(t, keysEqual(dev.cfg.hostKey.PublicKey(), store.Pinned("tofu")))
	})
}

func TestAuthMethods(t *testing.T) {
	t.Parallel()
	_, userPriv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	userSigner, err := ssh.NewSignerFromKey(userPriv)
	require.NoError(t, err)
	block, err := ssh.MarshalPrivateKeyWithPassphrase(userPriv, "test", []byte("key-pass-9"))
	require.NoError(t, err)
	encryptedPEM := pem.EncodeToMemory(block)

	ca := newHostKey(t)
	cert := &ssh.Certificate{Key: userSigner.PublicKey(), CertType: ssh.UserCert, KeyId: "ops", ValidPrincipals: []string{"admin"}, ValidBefore: ssh.CertTimeInfinity}
	require.NoError(t, cert.SignCert(rand.Reader, ca))
	// A second key for the certificate case, so only the certificate can let it in.
	_, certPriv, _ := ed25519.GenerateKey(rand.Reader)
	certSigner, _ := ssh.NewSignerFromKey(certPriv)
	cert2 := &ssh.Certificate{Key: certSigner.PublicKey(), CertType: ssh.UserCert, KeyId: "ops", ValidPrincipals: []string{"admin"}, ValidBefore: ssh.CertTimeInfinity}
	require.NoError(t, cert2.SignCert(rand.Reader, ca))
	certBlock, _ := ssh.MarshalPrivateKey(certPriv, "")
	certPEM := pem.EncodeToMemory(certBlock)

	// An ssh-agent holding the user key, on a socket in the test's directory.
	keyring := agent.NewKeyring()
	require.NoError(t, keyring.Add(agent.AddedKey{PrivateKey: userPriv}))
	sock := filepath.Join(t.TempDir(), "agent.sock")
	ln, err := net.Listen("unix", sock)
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _ = agent.ServeAgent(keyring, c) }()
		}
	}()

	for _, tc := range []struct {
		name  string
		dev   fakeConfig
		cred  Credential
		class ErrorClass
	}{
		{"password", fakeConfig{}, labCred(), ClassNone},
		{"wrong password", fakeConfig{}, Credential{Username: "admin", Password: "nope"}, ClassAuthFailed},
		{"keyboard-interactive", fakeConfig{kbdInteract: true}, labCred(), ClassNone},
		{"wrong keyboard-interactive", fakeConfig{kbdInteract: true}, Credential{Username: "admin", Password: "nope"}, ClassAuthFailed},
		{"encrypted private key", fakeConfig{authorized: []ssh.PublicKey{userSigner.PublicKey()}},
			Credential{Username: "admin", PrivateKeyPEM: encryptedPEM, Passphrase: "key-pass-9", SudoPassword: "Admin123"}, ClassNone},
		{"encrypted key without passphrase", fakeConfig{authorized: []ssh.PublicKey{userSigner.PublicKey()}},
			Credential{Username: "admin", PrivateKeyPEM: encryptedPEM}, ClassAuthFailed},
		{"openssh certificate", fakeConfig{certCA: ca.PublicKey()},
			Credential{Username: "admin", PrivateKeyPEM: certPEM, Certificate: ssh.MarshalAuthorizedKey(cert2), SudoPassword: "Admin123"}, ClassNone},
		{"ssh-agent", fakeConfig{authorized: []ssh.PublicKey{userSigner.PublicKey()}},
			Credential{Username: "admin", UseAgent: true, SudoPassword: "Admin123"}, ClassNone},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dev := startFake(t, tc.dev)
			store := NewMemoryHostKeyStore()
			cfg := testConfig()
			cfg.AgentSocket = sock
			r := newTestRunner(t, cfg, store)
			tg := targetFor(dev, store, "dev")
			tg.Credential = tc.cred
			res := r.Session(ctxT(t), tg, runEcho)
			require.Equal(t, tc.class, res.Class, "%v", res.Err)
			require.Equal(t, 1, res.Attempts, "auth failures are never retried")
			if tc.cred.PrivateKeyPEM != nil || tc.cred.UseAgent {
				// Key auth: the only password the device saw is sudo's.
				require.LessOrEqual(t, dev.passwords.Load(), int64(1))
			}
			if tc.class == ClassAuthFailed {
				require.Zero(t, dev.commands.Load())
				require.NotContains(t, res.Err.Error(), "nope")
				require.NotContains(t, res.Err.Error(), "key-pass-9")
			}
		})
	}
}

func TestLegacyAlgorithms(t *testing.T) {
	t.Parallel()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	rs, err := ssh.NewSignerFromKey(rsaKey)
	require.NoError(t, err)
	// An appliance whose sshd predates rsa-sha2: SHA-1 signatures only.
	legacy, err := ssh.NewSignerWithAlgorithms(rs.(ssh.AlgorithmSigner), []string{ssh.KeyAlgoRSA})
	require.NoError(t, err)
	for _, tc := range []struct {
		name       string
		legacyOnly bool   // dh-group14-sha1, aes128-cbc, hmac-sha1 and an ssh-rsa key
		what       string // the negotiation that fails without the opt-in
	}{
		{"everything legacy", true, "key exchange"},
		{"only the ssh-rsa host key", false, "host key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dev := startFake(t, fakeConfig{legacyOnly: tc.legacyOnly, hostKey: legacy})
			store := NewMemoryHostKeyStore()
			r := newTestRunner(t, testConfig(), store)
			store.Pin("old", rs.PublicKey())
			tg := Target{Device: "old", Site: "emea", Addr: dev.addr, Credential: labCred()}

			// Not offered unless opted in (issue 10 §4): the error names the
			// setting, and nothing (no password) reached the device.
			res := r.Session(ctxT(t), tg, runEcho)
			require.Equal(t, ClassProtocol, res.Class, "%v", res.Err)
			require.ErrorIs(t, res.Err, ErrProtocol)
			require.ErrorContains(t, res.Err, "device old offers only legacy SSH algorithms for "+tc.what)
			require.ErrorContains(t, res.Err, "set sites.emea.legacy_ssh: true or tag legacy_ssh=true")
			require.Equal(t, 1, res.Attempts, "a refusal is not retried")
			require.Zero(t, dev.passwords.Load())
			require.Zero(t, dev.logins.Load())

			tg.LegacySSH = true
			res = r.Session(ctxT(t), tg, runEcho)
			require.NoError(t, res.Err)
			require.Equal(t, int64(1), dev.logins.Load())
		})
	}
}

// The legacy algorithms are offered only with the opt-in.
func TestLegacyAlgorithmsOffered(t *testing.T) {
	t.Parallel()
	insecure := slices.Concat(legacyKex, legacyCiphers, legacyMACs, legacyHostKeys)
	m := algorithmsFor(false)
	for _, alg := range slices.Concat(m.kex, m.ciphers, m.macs, m.hostKeyAlgorithmsFor(nil)) {
		require.NotContains(t, insecure, alg, "offered without legacy_ssh")
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	rs, err := ssh.NewSignerFromKey(rsaKey)
	require.NoError(t, err)
	require.Equal(t, []string{ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSASHA512}, m.hostKeyAlgorithmsFor(rs.PublicKey())[:2])
	require.NotContains(t, m.hostKeyAlgorithmsFor(rs.PublicKey()), ssh.KeyAlgoRSA)
	l := algorithmsFor(true)
	for _, alg := range insecure {
		require.Contains(t, slices.Concat(l.kex, l.ciphers, l.macs, l.hostKeys), alg)
	}
	require.Equal(t, m.kex, l.kex[:len(m.kex)], "the secure algorithms stay preferred")
}

func TestConnectFaults(t *testing.T) {
	t.Parallel()
	t.Run("hang: TCP accepted, no banner", func(t *testing.T) {
		t.Parallel()
		dev := startFake(t, fakeConfig{hang: true})
		store := NewMemoryHostKeyStore()
		cfg := testConfig()
		cfg.HandshakeTimeout = 300 * time.Millisecond
		r := newTestRunner(t, cfg, store)
		start := time.Now()
		res := r.Session(ctxT(t), targetFor(dev, store, "dev"), runEcho)
		require.Equal(t, ClassTimeout, res.Class, "%v", res.Err)
		require.Equal(t, 1, res.Attempts, "a hang is not retried")
		require.Less(t, time.Since(start), time.Second)
		require.GreaterOrEqual(t, res.Timings.Handshake, 300*time.Millisecond)
	})
	t.Run("refused: retried, then unreachable", func(t *testing.T) {
		t.Parallel()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := ln.Addr().String()
		require.NoError(t, ln.Close())
		r := newTestRunner(t, testConfig(), nil)
		res := r.Session(ctxT(t), Target{Device: "gone", Addr: addr, Credential: labCred()}, runEcho)
		require.Equal(t, ClassUnreachable, res.Class, "%v", res.Err)
		require.Equal(t, 3, res.Attempts)
	})
	t.Run("cancellation interrupts the handshake", func(t *testing.T) {
		t.Parallel()
		dev := startFake(t, fakeConfig{hang: true})
		store := NewMemoryHostKeyStore()
		cfg := testConfig()
		cfg.HandshakeTimeout = 10 * time.Second
		r := newTestRunner(t, cfg, store)
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		res := r.Session(ctx, targetFor(dev, store, "dev"), runEcho)
		require.Equal(t, ClassTimeout, res.Class, "%v", res.Err)
		require.Less(t, time.Since(start), 2*time.Second)
	})
}

func TestJumpHosts(t *testing.T) {
	t.Parallel()
	jump1 := startFake(t, fakeConfig{forward: true, user: "jump", password: "JumpPass1"})
	jump2 := startFake(t, fakeConfig{forward: true, user: "jump2", password: "JumpPass2"})
	dev := startFake(t, fakeConfig{})
	store := NewMemoryHostKeyStore()
	r := newTestRunner(t, testConfig(), store)
	store.Pin("bastion-1", jump1.cfg.hostKey.PublicKey())
	store.Pin("bastion-2", jump2.cfg.hostKey.PublicKey())
	hops := []JumpHost{
		{Name: "bastion-1", Addr: jump1.addr, Credential: Credential{Username: "jump", Password: "JumpPass1"}},
		{Name: "bastion-2", Addr: jump2.addr, Credential: Credential{Username: "jump2", Password: "JumpPass2"}},
	}

	t.Run("two-hop chain", func(t *testing.T) {
		tg := targetFor(dev, store, "behind")
		tg.JumpHosts = hops
		res := r.Session(ctxT(t), tg, runEcho)
		require.NoError(t, res.Err)
		require.Equal(t, int64(1), dev.logins.Load())
		require.Zero(t, jump1.commands.Load(), "a jump host only forwards")
	})
	t.Run("jump host with a changed key: the device is never contacted", func(t *testing.T) {
		before := dev.conns.Load()
		jumpPasswords := jump1.passwords.Load()
		store2 := NewMemoryHostKeyStore()
		r2 := newTestRunner(t, testConfig(), store2)
		store2.Pin("bastion-1", newHostKey(t).PublicKey())
		tg := targetFor(dev, store2, "behind")
		tg.JumpHosts = hops
		res := r2.Session(ctxT(t), tg, runEcho)
		require.Equal(t, ClassHostKeyMismatch, res.Class, "%v", res.Err)
		require.Equal(t, jumpPasswords, jump1.passwords.Load(), "no password sent to the jump host")
		require.Equal(t, before, dev.conns.Load())
	})
	t.Run("device behind the jump host refuses", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := ln.Addr().String()
		require.NoError(t, ln.Close())
		store.Pin("gone", dev.cfg.hostKey.PublicKey())
		res := r.Session(ctxT(t), Target{Device: "gone", Addr: addr, Credential: labCred(), JumpHosts: hops[:1]}, runEcho)
		require.Equal(t, ClassUnreachable, res.Class, "%v", res.Err)
		require.Equal(t, 3, res.Attempts)
	})
}

// TestHostileJumpHost: a bastion that logs in but never answers the
// forwarded channel's open costs at most the session deadline (issue 10 §3),
// and the device behind it is never contacted.
func TestHostileJumpHost(t *testing.T) {
	t.Parallel()
	jump := startFake(t, fakeConfig{stallForward: true, user: "jump", password: "JumpPass1"})
	dev := startFake(t, fakeConfig{})
	store := NewMemoryHostKeyStore()
	cfg := testConfig()
	cfg.SessionTimeout = 1500 * time.Millisecond
	cfg.CommandTimeout = time.Second
	cfg.ConnectTimeout = 5 * time.Second // longer than the session: the deadline must cut it
	r := newTestRunner(t, cfg, store)
	store.Pin("bastion-1", jump.cfg.hostKey.PublicKey())
	tg := targetFor(dev, store, "behind")
	tg.JumpHosts = []JumpHost{{Name: "bastion-1", Addr: jump.addr, Credential: Credential{Username: "jump", Password: "JumpPass1"}}}
	start := time.Now()
	res := r.Session(ctxT(t), tg, runEcho)
	took := time.Since(start)
	require.Error(t, res.Err)
	require.Equal(t, ClassTimeout, res.Class, "%v", res.Err)
	require.Less(t, took, cfg.SessionTimeout+time.Second, "bounded by session_timeout")
	require.Zero(t, dev.conns.Load(), "the device behind the bastion was never reached")
}

func TestKeepalive(t *testing.T) {
	t.Parallel()
	dev := startFake(t, fakeConfig{})
	store := NewMemoryHostKeyStore()
	cfg := testConfig()
	cfg.Keepalive = 50 * time.Millisecond
	r := newTestRunner(t, cfg, store)
	res := r.Session(ctxT(t), targetFor(dev, store, "dev"), func(ctx context.Context, s *Session) error {
		time.Sleep(300 * time.Millisecond)
		return runEcho(ctx, s)
	})
	require.NoError(t, res.Err)
	require.GreaterOrEqual(t, dev.keepalives.Load(), int64(3))
}
