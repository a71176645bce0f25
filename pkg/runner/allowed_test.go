package runner

import (
	"net"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"
)

// A device's address outside its site's networks is refused before any
// connection: a literal IP, and a host name whatever it resolves to, checked
// before dialing (and the checked IP is what is dialled). Nothing reaches the
// server there: no TCP connection, no password, no sudo password.
func TestAllowedNetworksRefuseBeforeDialing(t *testing.T) {
	t.Parallel()
	dev := startFake(t, fakeConfig{})
	_, port, err := net.SplitHostPort(dev.addr)
	require.NoError(t, err)
	store := NewMemoryHostKeyStore()
	r := newTestRunner(t, testConfig(), store)
	elsewhere := []netip.Prefix{netip.MustParsePrefix("127.0.1.0/24")}

	for _, tc := range []struct{ name, addr, want string }{
		{"literal IP", dev.addr, "127.0.0.1 is outside the site's allowed_networks (127.0.1.0/24); nothing sent"},
		{"host name", net.JoinHostPort("localhost", port), "localhost resolves to 127.0.0.1, outside the site's allowed_networks (127.0.1.0/24)"},
	} {
		tg := targetFor(dev, store, "evil-capture")
		tg.Addr, tg.AllowedNetworks = tc.addr, elsewhere
		res := r.Session(ctxT(t), tg, runEcho)
		require.Equal(t, ClassAddressRefused, res.Class, "%s: %v", tc.name, res.Err)
		require.ErrorIs(t, res.Err, ErrAddressRefused)
		require.ErrorContains(t, res.Err, tc.want)
		require.Equal(t, 1, res.Attempts, "%s: never retried", tc.name)
	}
	require.Zero(t, dev.conns.Load(), "no connection reached the address")
	require.Zero(t, dev.passwords.Load())
	require.Zero(t, dev.logins.Load())

	// Behind a jump host the device address is checked too, before the
	// bastion is even contacted.
	jump := startFake(t, fakeConfig{forward: true, user: "jump", password: "JumpPass1"})
	store.Pin("bastion", jump.cfg.hostKey.PublicKey())
	tg := targetFor(dev, store, "behind")
	tg.AllowedNetworks = elsewhere
	tg.JumpHosts = []JumpHost{{Name: "bastion", Addr: jump.addr, Credential: Credential{Username: "jump", Password: "JumpPass1"}}}
	res := r.Session(ctxT(t), tg, runEcho)
	require.Equal(t, ClassAddressRefused, res.Class, "%v", res.Err)
	require.Zero(t, jump.conns.Load())
	require.Zero(t, dev.conns.Load())

	// Inside the networks: a name is resolved, checked and its IP dialled.
	inside := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	for _, addr := range []string{dev.addr, net.JoinHostPort("localhost", port)} {
		tg := targetFor(dev, store, "ok")
		tg.Addr, tg.AllowedNetworks = addr, inside
		res := r.Session(ctxT(t), tg, runEcho)
		require.NoError(t, res.Err, addr)
	}
	tg.AllowedNetworks = inside // the "behind" target, now allowed
	require.NoError(t, r.Session(ctxT(t), tg, runEcho).Err, "through the bastion, to the checked IP")
	require.Equal(t, int64(3), dev.logins.Load())
}

func TestCheckedAddrs(t *testing.T) {
	t.Parallel()
	nets := []netip.Prefix{netip.MustParsePrefix("10.20.0.0/16"), netip.MustParsePrefix("2001:db8::/32")}
	got, err := checkedAddrs(ctxT(t), "10.20.1.2:22", nets)
	require.NoError(t, err)
	require.Equal(t, []string{"10.20.1.2:22"}, got)
	got, err = checkedAddrs(ctxT(t), "[2001:db8::5]:2222", nets)
	require.NoError(t, err)
	require.Equal(t, []string{"[2001:db8::5]:2222"}, got)
	got, err = checkedAddrs(ctxT(t), "[::ffff:10.20.1.2]:22", nets)
	require.NoError(t, err, "IPv4-mapped compares as IPv4")
	require.Equal(t, []string{"10.20.1.2:22"}, got)
	_, err = checkedAddrs(ctxT(t), "10.21.0.1:22", nets)
	require.ErrorIs(t, err, ErrAddressRefused)
	require.Equal(t, ClassAddressRefused, Classify(&dialError{phase: phaseTCP, hop: "d", err: err}), "not 'unreachable': never retried")
	require.False(t, isTransientDialError(&dialError{phase: phaseTCP, hop: "d", err: err}))
}
