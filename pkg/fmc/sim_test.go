package fmc_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/fleetd/fleetd/pkg/diagnose"
	"github.com/fleetd/fleetd/pkg/fmc"
	"github.com/fleetd/fleetd/pkg/sim"
)

// memPins is a pin store in memory: strict (first contact recorded as
// pending) or trust on first use.
type memPins struct {
	mu        sync.Mutex
	pinned    []byte
	presented [][]byte
	tofu      bool
}

func (p *memPins) Pinned(context.Context) ([]byte, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pinned, nil
}

func (p *memPins) Presented(_ context.Context, der []byte, _ string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.presented = append(p.presented, der)
	switch {
	case p.pinned != nil:
		return fmt.Errorf("presented %s: %w", fmc.Fingerprint(der), fmc.ErrCertificateMismatch)
	case p.tofu:
		p.pinned = der
		return nil
	}
	return fmt.Errorf("presented %s: %w", fmc.Fingerprint(der), fmc.ErrCertificateUnknown)
}

// lab is one simulated FMC managing ftds FTDs, on its own loopback /24.
type lab struct {
	fleet *sim.Fleet
	fmc   *sim.Device
}

func startLab(t *testing.T, net int, ftds int, mod func(*sim.FleetConfig)) lab {
	t.Helper()
	cfg := sim.FleetConfig{
		Listen:    fmt.Sprintf("127.12.%d.1", net),
		Devices:   []sim.DeviceSpec{{Name: "fmc-emea-01", Kind: sim.KindFMC7, Site: "emea"}},
		Count:     ftds,
		Sites:     []string{"emea"},
		TimeScale: 1,
	}
	if mod != nil {
		mod(&cfg)
	}
	f, err := sim.NewFleet(cfg, zaptest.NewLogger(t))
	require.NoError(t, err)
	require.NoError(t, f.Start(context.Background()))
	t.Cleanup(func() { _ = f.Close() })
	return lab{fleet: f, fmc: f.Device("fmc-emea-01")}
}

// sleeps records the client's backoff waits instead of sleeping.
type sleeps struct {
	mu    sync.Mutex
	waits []time.Duration
	on    func(n int)
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.waits = append(s.waits, d)
	n := len(s.waits)
	s.mu.Unlock()
	if s.on != nil {
		s.on(n)
	}
	return ctx.Err()
}

func (l lab) client(t *testing.T, mod func(*fmc.Config)) (*fmc.Client, *sleeps, *memPins) {
	t.Helper()
	pins := &memPins{pinned: l.fmc.APICertificate()}
	sl := &sleeps{}
	cfg := fmc.Config{Address: l.fmc.APIAddr(), Username: "admin", Password: "Admin123",
		TLS: fmc.TLS{Pin: pins}, RateLimit: 100_000, Timeout: 10 * time.Second, Sleep: sl.sleep}
	if mod != nil {
		mod(&cfg)
	}
	c, err := fmc.New(cfg)
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c, sl, pins
}

func TestChecksOfAHealthyFMC(t *testing.T) {
	t.Parallel()
	l := startLab(t, 1, 2, nil)
	c, _, _ := l.client(t, nil)
	res := fmc.RunChecks(context.Background(), c, fmc.Site{Region: "eu", APIHost: "api.eu.sse.itd.cisco.com"}, nil)
	verdicts := map[string]diagnose.Verdict{}
	for _, r := range res {
		verdicts[r.ID] = r.Verdict
	}
	require.Equal(t, map[string]diagnose.Verdict{diagnose.CheckFMCCloudEvents: diagnose.VerdictPass,
		diagnose.CheckFMCCloudRegion: diagnose.VerdictPass, diagnose.CheckFMCSmartLicense: diagnose.VerdictPass,
		diagnose.CheckFMCSmartSatellite: diagnose.VerdictSkip}, verdicts)
	require.Contains(t, res[3].Summary, "verify by hand")
	require.Equal(t, "EUROPE (api.eu.sse.itd.cisco.com)", res[1].Evidence["current"])
	require.Equal(t, diagnose.HealthHealthy, diagnose.Assess(res).Health)
	require.Equal(t, 1, c.Stats().Logins)
	require.EqualValues(t, 1, l.fmc.APICounters().Logins)
}

func TestChecksOfEachSettingsFault(t *testing.T) {
	t.Parallel()
	l := startLab(t, 2, 1, nil)
	site := fmc.Site{Region: "eu", APIHost: "api.eu.sse.itd.cisco.com"}
	for _, tc := range []struct {
		fault sim.Fault
		check string
		code  diagnose.Diagnosis
	}{
		{sim.FaultCloudEventsOff, diagnose.CheckFMCCloudEvents, diagnose.DiagCloudServicesOff},
		{sim.FaultLicenseEvaluation, diagnose.CheckFMCSmartLicense, diagnose.DiagCloudServicesOff},
		{sim.FaultLicenseUnregistered, diagnose.CheckFMCSmartLicense, diagnose.DiagCloudServicesOff},
		{sim.FaultCloudRegionOther, diagnose.CheckFMCCloudRegion, diagnose.DiagRegionMismatch},
	} {
		l.fmc.ClearFaults()
		l.fmc.SetFault(tc.fault)
		c, _, _ := l.client(t, nil)
		res := fmc.RunChecks(context.Background(), c, site, nil)
		for _, r := range res {
			if r.ID == tc.check {
				require.Equal(t, diagnose.VerdictFail, r.Verdict, tc.fault)
				require.Equal(t, []diagnose.Diagnosis{tc.code}, r.Diagnoses, tc.fault)
				require.NotEmpty(t, r.Evidence["fix"], tc.fault)
			} else if r.ID != diagnose.CheckFMCSmartSatellite {
				require.Equal(t, diagnose.VerdictPass, r.Verdict, "%s: %s", tc.fault, r.ID)
			}
		}
		a := diagnose.Assess(res)
		require.Equal(t, []diagnose.Diagnosis{tc.code}, a.Diagnoses, tc.fault)
	}
}

func TestFTDsFollowTheirFMC(t *testing.T) {
	t.Parallel()
	l := startLab(t, 3, 2, nil)
	ftd := l.fleet.Devices()[1]
	require.Equal(t, "fmc-emea-01", ftd.ManagedBy())
	require.True(t, ftd.State().Enrolled)
	l.fmc.SetFault(sim.FaultCloudEventsOff)
	require.False(t, ftd.State().Enrolled, "an FMC with cloud events off keeps its FTDs from enrolling")
	l.fmc.ClearFaults()
	require.True(t, ftd.State().Enrolled)
}

func TestRefreshThreeTimesThenLogIn(t *testing.T) {
	t.Parallel()
	l := startLab(t, 4, 1, nil)
	var mu sync.Mutex
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c, _, _ := l.client(t, func(cfg *fmc.Config) {
		cfg.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	})
	ctx := context.Background()
	for i := 0; i < 5; i++ {
		_, err := c.SmartLicense(ctx)
		require.NoError(t, err)
		mu.Lock()
		now = now.Add(31 * time.Minute) // past the token's life: refresh next time
		mu.Unlock()
	}
	// 1 login, 3 refreshes, then a new login, then its first refresh.
	st := c.Stats()
	require.Equal(t, 2, st.Logins)
	require.Equal(t, 3, st.Refreshes)
	api := l.fmc.APICounters()
	require.EqualValues(t, 2, api.Logins)
	require.EqualValues(t, 3, api.Refreshes)
}

func TestExpiredTokenIsRefreshed(t *testing.T) {
	t.Parallel()
	l := startLab(t, 5, 1, func(c *sim.FleetConfig) { c.APIShortTokenLife = 300 * time.Millisecond })
	l.fmc.SetFault(sim.FaultTokenExpiry)
	c, _, _ := l.client(t, nil)
	ctx := context.Background()
	_, err := c.SmartLicense(ctx)
	require.NoError(t, err)
	time.Sleep(400 * time.Millisecond) // the FMC forgets the token; the client does not know yet
	_, err = c.SmartLicense(ctx)
	require.NoError(t, err, "401 Access token invalid is answered by a refresh and the request made again")
	require.Equal(t, 1, c.Stats().Refreshes)
	require.Equal(t, 1, c.Stats().Logins)
}

func TestRateLimitedAnswersBackOff(t *testing.T) {
	t.Parallel()
	l := startLab(t, 6, 1, func(c *sim.FleetConfig) { c.APIRateLimit = 2 })
	l.fmc.SetFault(sim.FaultAPIRateLimit)
	c, sl, _ := l.client(t, nil)
	// The FMC relents during the first backoff.
	sl.on = func(int) { l.fmc.RemoveFault(sim.FaultAPIRateLimit) }
	ctx := context.Background()
	_, err := c.CloudRegions(ctx) // login + 1 request: within 2 a minute
	require.NoError(t, err)
	_, err = c.SmartLicense(ctx) // the 3rd request: 429, a backoff, then served
	require.NoError(t, err)
	require.Equal(t, []time.Duration{time.Second}, sl.waits, "the 429's Retry-After: 1")
	require.Equal(t, 1, c.Stats().RateLimited)

	// Still limited after every attempt: a capped number of tries, then an error.
	l.fmc.SetFault(sim.FaultAPIRateLimit)
	sl.on, sl.waits = nil, nil
	_, err = c.SmartLicense(ctx)
	require.ErrorContains(t, err, "gave up after 4 attempts")
	require.ErrorContains(t, err, "HTTP 429")
	require.Equal(t, []time.Duration{time.Second, time.Second, time.Second}, sl.waits)
}

func TestServerErrorsRetriedUpToTheCap(t *testing.T) {
	t.Parallel()
	l := startLab(t, 7, 1, nil)
	l.fmc.SetFault(sim.FaultAPIDown)
	c, sl, _ := l.client(t, nil)
	_, err := c.Domain(context.Background())
	require.ErrorContains(t, err, "gave up after 4 attempts")
	require.ErrorContains(t, err, "HTTP 503")
	require.Equal(t, []time.Duration{time.Second, time.Second, time.Second}, sl.waits, "the 503's Retry-After: 1")
	require.EqualValues(t, 4, l.fmc.APICounters().Requests)
	require.Equal(t, 4, c.Stats().ServerErrors)
}

func TestPagingOver2345Devices(t *testing.T) {
	t.Parallel()
	l := startLab(t, 100, 2345, func(c *sim.FleetConfig) { c.TimeScale = 1e-6 })
	c, _, _ := l.client(t, nil)
	recs, err := c.DeviceRecords(context.Background())
	require.NoError(t, err)
	require.Len(t, recs, 2345)
	names := map[string]bool{}
	for _, r := range recs {
		names[r.Name] = true
		require.NotEmpty(t, r.HostName)
		require.NotEmpty(t, r.SWVersion)
		require.NotEmpty(t, r.Model)
	}
	require.Len(t, names, 2345)
	// A login and three pages of 1000.
	require.EqualValues(t, 4, l.fmc.APICounters().Requests)
}

func TestWrongCertificateRefused(t *testing.T) {
	t.Parallel()
	l := startLab(t, 8, 1, func(c *sim.FleetConfig) {
		c.Devices = append(c.Devices, sim.DeviceSpec{Name: "fmc-emea-02", Kind: sim.KindFMC7, Site: "emea"})
	})
	other := l.fleet.Device("fmc-emea-02")
	ctx := context.Background()

	// Pinned: another FMC's certificate. Nothing is sent.
	c, _, pins := l.client(t, func(cfg *fmc.Config) { cfg.TLS = fmc.TLS{Pin: &memPins{pinned: other.APICertificate()}} })
	_ = pins
	_, err := c.Domain(ctx)
	require.ErrorIs(t, err, fmc.ErrCertificateMismatch)
	require.EqualValues(t, 0, l.fmc.APICounters().Requests)

	// A CA pool without the FMC's certificate.
	pool := x509.NewCertPool()
	cert, err := x509.ParseCertificate(other.APICertificate())
	require.NoError(t, err)
	pool.AddCert(cert)
	c, _, _ = l.client(t, func(cfg *fmc.Config) { cfg.TLS = fmc.TLS{CAs: pool} })
	_, err = c.Domain(ctx)
	require.ErrorContains(t, err, "certificate")
	require.EqualValues(t, 0, l.fmc.APICounters().Requests)

	// First contact, nothing pinned: recorded, refused until accepted.
	strict := &memPins{}
	c, _, _ = l.client(t, func(cfg *fmc.Config) { cfg.TLS = fmc.TLS{Pin: strict} })
	_, err = c.Domain(ctx)
	require.ErrorIs(t, err, fmc.ErrCertificateUnknown)
	require.Len(t, strict.presented, 1)
	require.Equal(t, l.fmc.APIFingerprint(), fmc.Fingerprint(strict.presented[0]))
	require.EqualValues(t, 0, l.fmc.APICounters().Requests)
	strict.pinned = strict.presented[0] // fleetctl hostkey accept
	_, err = c.Domain(ctx)
	require.NoError(t, err)

	// Trust on first use pins and goes on.
	tofu := &memPins{tofu: true}
	c, _, _ = l.client(t, func(cfg *fmc.Config) { cfg.TLS = fmc.TLS{Pin: tofu} })
	_, err = c.Domain(ctx)
	require.NoError(t, err)
	require.True(t, bytes.Equal(tofu.pinned, l.fmc.APICertificate()))

	// The CA form with the FMC's own (self-signed) certificate as the CA.
	pool = x509.NewCertPool()
	own, err := x509.ParseCertificate(l.fmc.APICertificate())
	require.NoError(t, err)
	pool.AddCert(own)
	c, _, _ = l.client(t, func(cfg *fmc.Config) { cfg.TLS = fmc.TLS{CAs: pool} })
	_, err = c.Domain(ctx)
	require.NoError(t, err)
}

func TestBodyOverTheCapRefused(t *testing.T) {
	t.Parallel()
	l := startLab(t, 9, 20, func(c *sim.FleetConfig) { c.TimeScale = 1e-6 })
	c, sl, _ := l.client(t, func(cfg *fmc.Config) { cfg.MaxBodyBytes = 2000 })
	_, err := c.DeviceRecords(context.Background())
	require.ErrorIs(t, err, fmc.ErrBodyTooLarge)
	require.Empty(t, sl.waits, "not retried")
}

func TestSlowAnswerTimesOut(t *testing.T) {
	t.Parallel()
	l := startLab(t, 10, 1, nil)
	l.fmc.SetFault(sim.FaultAPISlow)
	c, _, _ := l.client(t, func(cfg *fmc.Config) { cfg.Timeout = 200 * time.Millisecond; cfg.MaxAttempts = 2 })
	_, err := c.Domain(context.Background())
	require.Error(t, err)
	require.True(t, errors.Is(err, context.DeadlineExceeded) || bytes.Contains([]byte(err.Error()), []byte("timeout")), err)
}

func TestBadLoginIsNotRetried(t *testing.T) {
	t.Parallel()
	l := startLab(t, 11, 1, nil)
	c, sl, _ := l.client(t, func(cfg *fmc.Config) { cfg.Password = "wrong" })
	_, err := c.Domain(context.Background())
	require.ErrorIs(t, err, fmc.ErrLoginFailed)
	require.Empty(t, sl.waits)
	require.NotContains(t, err.Error(), "wrong")
}

// An FMC that refuses connections is tried MaxAttempts times, with a
// backoff between tries.
func TestUnreachableFMCRetriedUpToTheCap(t *testing.T) {
	t.Parallel()
	n := 0
	c, err := fmc.New(fmc.Config{Address: "127.12.200.1:1", Username: "u", TLS: fmc.TLS{Pin: &memPins{}},
		MaxAttempts: 3,
		Sleep:       func(context.Context, time.Duration) error { n++; return nil }})
	require.NoError(t, err)
	_, err = c.Domain(context.Background())
	require.Error(t, err, "nothing listens there")
	require.Equal(t, 2, n, "connection refused is retried with backoff, up to the cap")
}

// R7: an FMC that accepts TCP and never completes the TLS handshake costs
// the request timeout, and the timed-out request is not retried.
func TestStalledHandshakeIsBounded(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.12.202.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	accepted := make(chan net.Conn, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c // held open, silent
		}
	}()
	t.Cleanup(func() {
		for len(accepted) > 0 {
			_ = (<-accepted).Close()
		}
	})
	sl := &sleeps{}
	c, err := fmc.New(fmc.Config{Address: ln.Addr().String(), Username: "u", TLS: fmc.TLS{Pin: &memPins{}},
		Timeout: 200 * time.Millisecond, Sleep: sl.sleep})
	require.NoError(t, err)
	_, err = c.Domain(context.Background())
	require.Error(t, err)
	require.Empty(t, sl.waits, "a timed-out request is not retried")
	require.Len(t, accepted, 1)
}

// The trace a transcript is made of names every exchange and never a
// token nor the password, through login, refreshes and a re-login.
func TestTraceCarriesNoSecret(t *testing.T) {
	t.Parallel()
	l := startLab(t, 12, 1, nil)
	var mu sync.Mutex
	var lines []string
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c, _, _ := l.client(t, func(cfg *fmc.Config) {
		cfg.Password = "S3cret-API-pw"
		cfg.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
		cfg.Trace = func(s string) { mu.Lock(); lines = append(lines, s); mu.Unlock() }
	})
	// The simulator's password is Admin123: this login fails, and says so without the password.
	_, err := c.Domain(context.Background())
	require.ErrorIs(t, err, fmc.ErrLoginFailed)
	require.NotContains(t, err.Error(), "S3cret-API-pw")

	c, _, _ = l.client(t, func(cfg *fmc.Config) {
		cfg.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
		cfg.Trace = func(s string) { mu.Lock(); lines = append(lines, s); mu.Unlock() }
	})
	for i := 0; i < 5; i++ {
		res := fmc.RunChecks(context.Background(), c, fmc.Site{Region: "eu", APIHost: "api.eu.sse.itd.cisco.com"}, nil)
		require.Equal(t, diagnose.VerdictPass, res[0].Verdict)
		mu.Lock()
		now = now.Add(31 * time.Minute)
		mu.Unlock()
	}
	all := strings.Join(lines, "\n")
	require.Contains(t, all, "POST /api/fmc_platform/v1/auth/generatetoken -> 204")
	require.Contains(t, all, "POST /api/fmc_platform/v1/auth/refreshtoken -> 204")
	tokens := l.fmc.APITokensIssued()
	require.NotEmpty(t, tokens)
	for _, s := range append(tokens, "Admin123", "S3cret-API-pw") {
		require.NotContains(t, all, s)
	}
}
