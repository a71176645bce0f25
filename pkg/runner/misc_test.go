package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"golang.org/x/time/rate"
)

func TestCredentialNeverShowsSecrets(t *testing.T) {
	t.Parallel()
	c := Credential{Name: "lab", Username: "admin", Password: "Pw-secret-1", SudoPassword: "Sudo-secret-2",
		PrivateKeyPEM: []byte("-----BEGIN KEY-secret-3"), Passphrase: "Phrase-secret-4"}
	tg := Target{Device: "d", Credential: c, JumpHosts: []JumpHost{{Name: "j", Credential: c}}}
	var logBuf bytes.Buffer
	log := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(&logBuf), zap.DebugLevel))
	log.Info("x", zap.Any("cred", c), zap.Object("cred2", c), zap.Any("target", tg))
	js, err := json.Marshal(tg)
	require.NoError(t, err)
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), fmt.Sprintf("%v", tg),
		fmt.Sprintf("%+v", tg), string(js), logBuf.String()} {
		for _, secret := range []string{"secret-1", "secret-2", "secret-3", "secret-4"} {
			require.NotContains(t, s, secret, s)
		}
	}
	require.Contains(t, fmt.Sprint(c), "admin")
}

func TestConfigDefaultsAndValidate(t *testing.T) {
	t.Parallel()
	cfg := Config{StartRate: DefaultConfig().StartRate}.WithDefaults()
	require.NoError(t, cfg.Validate())
	require.Equal(t, DefaultConfig(), cfg)
	// A zero start rate is unlimited, as runner.start_rate 0 is in the config file.
	require.Zero(t, Config{}.WithDefaults().StartRate)
	r, err := New(Config{}, NewMemoryHostKeyStore(), nil)
	require.NoError(t, err)
	require.Equal(t, rate.Inf, r.limiter.Limit())

	bad := cfg
	bad.MaxConcurrent = -1
	bad.PerSite = map[string]int{"emea": 0}
	bad.CommandTimeout = 10 * time.Minute
	bad.Retry.Attempts = -2
	err = bad.Validate()
	require.Error(t, err)
	for _, want := range []string{"max_concurrent", "per_site[emea]", "command_timeout", "retry.attempts"} {
		require.Contains(t, err.Error(), want)
	}
	_, err = New(bad, NewMemoryHostKeyStore(), nil)
	require.Error(t, err)
	_, err = New(Config{}, nil, nil)
	require.Error(t, err, "no host key store, no runner")
}

func TestClassify(t *testing.T) {
	t.Parallel()
	refused := &dialError{phase: phaseTCP, hop: "d", err: &net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}}
	for _, tc := range []struct {
		err  error
		want ErrorClass
	}{
		{nil, ClassNone},
		{fmt.Errorf("x: %w", ErrHostKeyMismatch), ClassHostKeyMismatch},
		{fmt.Errorf("x: %w", ErrHostKeyUnknown), ClassHostKeyUnknown},
		{fmt.Errorf("x: %w", ErrAuthFailed), ClassAuthFailed},
		{fmt.Errorf("x: %w", ErrTimeout), ClassTimeout},
		{context.DeadlineExceeded, ClassTimeout},
		{os.ErrDeadlineExceeded, ClassTimeout},
		{context.Canceled, ClassCanceled},
		{refused, ClassUnreachable},
		{fmt.Errorf("x: %w: %w", ErrConnectionLost, io.EOF), ClassUnreachable},
		{&dialError{phase: phaseBanner, hop: "d", err: io.EOF}, ClassUnreachable},
		{&dialError{phase: phaseBanner, hop: "d", err: errors.New("ssh: no common algorithm")}, ClassProtocol},
		{fmt.Errorf("x: %w", ErrOutputTruncated), ClassProtocol},
		{errors.New("parser failed"), ClassProtocol},
	} {
		require.Equal(t, tc.want, Classify(tc.err), "%v", tc.err)
	}
	require.True(t, isTransientDialError(refused))
	require.True(t, isTransientDialError(&dialError{phase: phaseBanner, err: io.EOF}))
	require.False(t, isTransientDialError(&dialError{phase: phaseAuth, err: io.EOF}))
	require.False(t, isTransientDialError(&dialError{phase: phaseBanner, err: fmt.Errorf("%w", ErrTimeout)}))
	require.False(t, isTransientDialError(fmt.Errorf("x: %w", ErrHostKeyMismatch)))
}

func TestBackoffIsBoundedWithJitter(t *testing.T) {
	t.Parallel()
	r := newTestRunner(t, Config{Retry: RetryPolicy{Attempts: 5, Base: 100 * time.Millisecond, Max: 300 * time.Millisecond}}, nil)
	seen := map[time.Duration]bool{}
	for range 200 {
		for a := 1; a <= 4; a++ {
			d := r.backoff(a)
			base := min(100*time.Millisecond<<(a-1), 300*time.Millisecond)
			require.GreaterOrEqual(t, d, base/2)
			require.LessOrEqual(t, d, base)
			seen[d] = true
		}
	}
	require.Greater(t, len(seen), 50, "jitter varies the delay")
}

func TestWithDefaultPort(t *testing.T) {
	t.Parallel()
	require.Equal(t, "127.0.0.1:22", withDefaultPort("127.0.0.1"))
	require.Equal(t, "127.0.0.1:2222", withDefaultPort("127.0.0.1:2222"))
	require.Equal(t, "ftd.example:22", withDefaultPort("ftd.example"))
	require.Equal(t, "[::1]:22", withDefaultPort("::1"))
	require.Equal(t, "[::1]:22", withDefaultPort("[::1]"))
}
