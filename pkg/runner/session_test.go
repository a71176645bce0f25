package runner

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestSessionReachesEveryLevel(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		cfg     fakeConfig
		landing string
		clish   bool
	}{
		{"ftd clish", fakeConfig{}, "clish", true},
		{"ftd clish with ANSI and BEL noise", fakeConfig{noise: true}, "clish", true},
		{"fmc6 lands in bash", fakeConfig{landing: "bash", hostname: "fmc"}, "expert", false},
		{"fxos chassis", fakeConfig{landing: "fxos"}, "fxos", true},
		{"no echo", fakeConfig{noEcho: true}, "clish", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dev := startFake(t, tc.cfg)
			store := NewMemoryHostKeyStore()
			r := newTestRunner(t, testConfig(), store)
			res := r.Session(ctxT(t), targetFor(dev, store, "dev"), func(ctx context.Context, s *Session) error {
				out, err := s.Run(ctx, LevelRoot, "echo hello world")
				require.NoError(t, err)
				require.Equal(t, "hello world\n", out)
				require.Equal(t, LevelRoot, s.Level())

				out, err = s.Run(ctx, LevelRoot, "lines 3")
				require.NoError(t, err)
				require.Equal(t, "line 1 of 3\nline 2 of 3\nline 3 of 3\n", out)

				out, err = s.Run(ctx, LevelRoot, "printf no-newline")
				require.NoError(t, err)
				require.Equal(t, "no-newline", out)

				out, err = s.Run(ctx, LevelRoot, "curlv")
				require.NoError(t, err)
				require.Contains(t, out, "> GET / HTTP/1.1\n> Host: x\n> \n< HTTP/1.1 403")

				out, err = s.Run(ctx, LevelExpert, "whoami")
				require.NoError(t, err)
				require.Equal(t, "root\n", out) // the fake's whoami is constant; what matters is the level change below
				require.Equal(t, LevelExpert, s.Level())

				out, err = s.Run(ctx, LevelClish, "show version")
				if !tc.clish {
					require.ErrorIs(t, err, ErrLevelUnavailable)
					return nil
				}
				require.NoError(t, err)
				require.Contains(t, out, "Model                     : Cisco Firepower 1120")
				require.NotContains(t, out, "show version")
				require.NotContains(t, out, ">")
				return nil
			})
			require.NoError(t, res.Err)
			require.Equal(t, tc.landing, res.Landing)
			require.Equal(t, ClassNone, res.Class)
			require.Contains(t, res.Transcript, "hello world")
			require.NotContains(t, res.Transcript, "Admin123")
			require.NotContains(t, res.Transcript, "\x1b")
			require.NotContains(t, res.Transcript, "\a")

			log := dev.commandLog()
			require.Equal(t, "exit", log[len(log)-1], "clean exit: %q", log)
			require.Equal(t, int64(2), dev.passwords.Load(), "one login password, one sudo password")
		})
	}
}

func TestSessionExecMode(t *testing.T) {
	t.Parallel()
	store := NewMemoryHostKeyStore()
	r := newTestRunner(t, testConfig(), store)

	t.Run("device accepts exec", func(t *testing.T) {
		t.Parallel()
		dev := startFake(t, fakeConfig{exec: true})
		tg := targetFor(dev, store, "exec-ok")
		tg.Exec = true
		res := r.Session(ctxT(t), tg, func(ctx context.Context, s *Session) error {
			for range 3 {
				out, err := s.Run(ctx, LevelRoot, "echo one two")
				require.NoError(t, err)
				require.Equal(t, "one two\n", out)
			}
			require.True(t, s.Exec())
			return nil
		})
		require.NoError(t, res.Err)
		require.Equal(t, "exec", res.Landing)
		require.Equal(t, []string{"echo one two", "echo one two", "echo one two"}, dev.commandLog())
		require.Contains(t, res.Transcript, "[fleetd] exec: echo one two\none two\n")
	})

	t.Run("FTD refuses exec, session falls back to the shell", func(t *testing.T) {
		t.Parallel()
		dev := startFake(t, fakeConfig{exec: false})
		tg := targetFor(dev, store, "exec-refused")
		tg.Exec = true
		res := r.Session(ctxT(t), tg, func(ctx context.Context, s *Session) error {
			out, err := s.Run(ctx, LevelRoot, "echo fallback")
			require.NoError(t, err)
			require.Equal(t, "fallback\n", out)
			require.False(t, s.Exec())
			return nil
		})
		require.NoError(t, res.Err)
		require.Equal(t, "clish", res.Landing)
	})
}

func TestSessionRedactsSecrets(t *testing.T) {
	t.Parallel()
	dev := startFake(t, fakeConfig{})
	store := NewMemoryHostKeyStore()
	r := newTestRunner(t, testConfig(), store)
	res := r.Session(ctxT(t), targetFor(dev, store, "dev"), func(ctx context.Context, s *Session) error {
		out, err := s.Run(ctx, LevelRoot, "echo the password is Admin123 ok")
		require.NoError(t, err)
		require.Equal(t, "the password is [REDACTED] ok\n", out)
		return errors.New("check failed on Admin123")
	})
	require.Error(t, res.Err)
	require.NotContains(t, res.Err.Error(), "Admin123")
	require.NotContains(t, res.Transcript, "Admin123")
	require.Contains(t, res.Transcript, "[REDACTED]")
}

func TestSessionOutputCap(t *testing.T) {
	t.Parallel()
	dev := startFake(t, fakeConfig{})
	store := NewMemoryHostKeyStore()
	cfg := testConfig()
	cfg.MaxOutputPerCommand = 64 << 10
	cfg.MaxTranscript = 32 << 10
	r := newTestRunner(t, cfg, store)
	res := r.Session(ctxT(t), targetFor(dev, store, "dev"), func(ctx context.Context, s *Session) error {
		out, err := s.Run(ctx, LevelRoot, "big 3000000")
		require.ErrorIs(t, err, ErrOutputTruncated)
		// The cap counts what the device sent, echo included.
		require.LessOrEqual(t, len(out), 64<<10)
		require.Greater(t, len(out), 64<<10-len("big 3000000\n")-1)
		require.True(t, strings.HasPrefix(out, "0123456789abcdef"))
		// The driver kept reading to the prompt: the session is in sync.
		out, err = s.Run(ctx, LevelRoot, "echo after")
		require.NoError(t, err)
		require.Equal(t, "after\n", out)
		return nil
	})
	require.NoError(t, res.Err)
	require.True(t, res.TranscriptTruncated)
	require.LessOrEqual(t, len(res.Transcript), 32<<10)
}

func TestSessionRejectsCommandsWithControlCharacters(t *testing.T) {
	t.Parallel()
	dev := startFake(t, fakeConfig{})
	store := NewMemoryHostKeyStore()
	r := newTestRunner(t, testConfig(), store)
	res := r.Session(ctxT(t), targetFor(dev, store, "dev"), func(ctx context.Context, s *Session) error {
		for _, cmd := range []string{"echo a\nreboot", "echo a\rb", "", "x\x03"} {
			_, err := s.Run(ctx, LevelRoot, cmd)
			require.ErrorIs(t, err, ErrInvalidCommand, "%q", cmd)
		}
		return nil
	})
	require.NoError(t, res.Err)
	for _, c := range dev.commandLog() {
		require.NotContains(t, c, "reboot")
	}
}

func TestSessionReboot(t *testing.T) {
	t.Parallel()
	dev := startFake(t, fakeConfig{})
	store := NewMemoryHostKeyStore()
	r := newTestRunner(t, testConfig(), store)
	res := r.Session(ctxT(t), targetFor(dev, store, "dev"), func(ctx context.Context, s *Session) error {
		return s.Reboot(ctx)
	})
	require.NoError(t, res.Err)
	require.Equal(t, []string{"reboot", "YES"}, dev.commandLog())
}

func TestSessionWrongSudoPasswordStopsAtOnce(t *testing.T) {
	t.Parallel()
	dev := startFake(t, fakeConfig{sudoPassword: "other"})
	store := NewMemoryHostKeyStore()
	r := newTestRunner(t, testConfig(), store)
	start := time.Now()
	res := r.Session(ctxT(t), targetFor(dev, store, "dev"), func(ctx context.Context, s *Session) error {
		_, err := s.Run(ctx, LevelRoot, "echo never")
		require.ErrorIs(t, err, ErrAuthFailed)
		// The session is still usable at expert level.
		out, err := s.Run(ctx, LevelExpert, "echo still here")
		require.NoError(t, err)
		require.Equal(t, "still here\n", out)
		_, err = s.Run(ctx, LevelRoot, "echo never")
		return err
	})
	require.Equal(t, ClassAuthFailed, res.Class)
	require.Less(t, time.Since(start), 3*time.Second)
	// Login + one sudo answer per attempt: never a second guess within sudo.
	require.Equal(t, int64(3), dev.passwords.Load())
	require.NotContains(t, dev.commandLog(), "echo never")
	require.NotContains(t, res.Err.Error(), "Admin123")
	require.NotContains(t, res.Transcript, "Admin123")
}

func TestSessionCommandTimeoutAndDeadline(t *testing.T) {
	t.Parallel()
	t.Run("command beyond CommandTimeout", func(t *testing.T) {
		t.Parallel()
		dev := startFake(t, fakeConfig{})
		store := NewMemoryHostKeyStore()
		cfg := testConfig()
		cfg.CommandTimeout = 300 * time.Millisecond
		r := newTestRunner(t, cfg, store)
		start := time.Now()
		res := r.Session(ctxT(t), targetFor(dev, store, "dev"), func(ctx context.Context, s *Session) error {
			_, err := s.Run(ctx, LevelRoot, "sleep 1s")
			require.ErrorIs(t, err, ErrTimeout)
			_, err2 := s.Run(ctx, LevelRoot, "echo x")
			require.ErrorIs(t, err2, ErrSessionBroken)
			return err
		})
		require.Equal(t, ClassTimeout, res.Class)
		require.Less(t, time.Since(start), 2*time.Second)
		require.Contains(t, res.Transcript, "no answer within 300ms")
	})
	t.Run("slow device beyond the session deadline", func(t *testing.T) {
		t.Parallel()
		dev := startFake(t, fakeConfig{slow: 400 * time.Millisecond})
		store := NewMemoryHostKeyStore()
		cfg := testConfig()
		cfg.SessionTimeout = time.Second
		cfg.CommandTimeout = time.Second
		r := newTestRunner(t, cfg, store)
		start := time.Now()
		res := r.Session(ctxT(t), targetFor(dev, store, "dev"), func(ctx context.Context, s *Session) error {
			for range 10 {
				if _, err := s.Run(ctx, LevelRoot, "echo x"); err != nil {
					return err
				}
			}
			return nil
		})
		require.Equal(t, ClassTimeout, res.Class, "%v", res.Err)
		require.Less(t, time.Since(start), 1800*time.Millisecond)
	})
}

func TestSessionDropMidSession(t *testing.T) {
	t.Parallel()
	dev := startFake(t, fakeConfig{dropAfter: 3})
	store := NewMemoryHostKeyStore()
	r := newTestRunner(t, testConfig(), store)
	res := r.Session(ctxT(t), targetFor(dev, store, "dev"), func(ctx context.Context, s *Session) error {
		_, err := s.Run(ctx, LevelExpert, "echo first") // expert, echo: 2 commands
		require.NoError(t, err)
		_, err = s.Run(ctx, LevelExpert, "echo dropped")
		require.ErrorIs(t, err, ErrConnectionLost)
		return err
	})
	require.Equal(t, ClassUnreachable, res.Class)
	require.Contains(t, res.Err.Error(), "device closed the session")
}

// TestSessionLongestCommand: Timings.Longest is the longest single command
// (what runs.longestFirst ranks devices by), not the sum of them.
func TestSessionLongestCommand(t *testing.T) {
	t.Parallel()
	dev := startFake(t, fakeConfig{})
	store := NewMemoryHostKeyStore()
	r := newTestRunner(t, testConfig(), store)
	res := r.Session(ctxT(t), targetFor(dev, store, "dev"), func(ctx context.Context, s *Session) error {
		for _, cmd := range []string{"echo a", "sleep 300ms", "echo b"} {
			if _, err := s.Run(ctx, LevelRoot, cmd); err != nil {
				return err
			}
		}
		return nil
	})
	require.NoError(t, res.Err)
	require.GreaterOrEqual(t, res.Timings.Longest, 300*time.Millisecond)
	require.Less(t, res.Timings.Longest, res.Timings.Commands, "one command, not all of them")
}
