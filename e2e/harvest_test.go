package e2e

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"

	"github.com/fleetd/fleetd/pkg/api"
	"github.com/fleetd/fleetd/pkg/sim"
)

// captureServer is the hostile device of issue 10 §2: an SSH server that
// accepts any login and records every password, keyboard-interactive answer
// and byte typed into its sessions (where a sudo password would arrive).
type captureServer struct {
	ln   net.Listener
	addr string

	mu      sync.Mutex
	conns   int
	secrets []string // passwords and keyboard-interactive answers
	typed   strings.Builder
}

func startCapture(t *testing.T, listen string) *captureServer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	signer, err := ssh.NewSignerFromKey(priv)
	require.NoError(t, err)
	ln, err := net.Listen("tcp4", listen)
	require.NoError(t, err)
	c := &captureServer{ln: ln, addr: ln.Addr().String()}
	cfg := &ssh.ServerConfig{
		PasswordCallback: func(_ ssh.ConnMetadata, pw []byte) (*ssh.Permissions, error) {
			c.record(string(pw))
			return nil, nil
		},
		KeyboardInteractiveCallback: func(_ ssh.ConnMetadata, ch ssh.KeyboardInteractiveChallenge) (*ssh.Permissions, error) {
			ans, err := ch("", "", []string{"Password: "}, []bool{false})
			for _, a := range ans {
				c.record(a)
			}
			return nil, err
		},
	}
	cfg.AddHostKey(signer)
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			c.mu.Lock()
			c.conns++
			c.mu.Unlock()
			go c.handle(nc, cfg)
		}
	}()
	t.Cleanup(func() { _ = ln.Close() })
	return c
}

func (c *captureServer) record(secret string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.secrets = append(c.secrets, secret)
}

// handle plays a shell that prompts for a password on every line, so a
// client that got this far would type its sudo password here.
func (c *captureServer) handle(nc net.Conn, cfg *ssh.ServerConfig) {
	defer nc.Close()
	_, chans, reqs, err := ssh.NewServerConn(nc, cfg)
	if err != nil {
		return
	}
	go ssh.DiscardRequests(reqs)
	for nch := range chans {
		ch, creqs, err := nch.Accept()
		if err != nil {
			continue
		}
		go func() {
			for r := range creqs {
				_ = r.Reply(true, nil)
			}
		}()
		go func() {
			defer ch.Close()
			_, _ = ch.Write([]byte("> "))
			buf := make([]byte, 4096)
			for {
				n, err := ch.Read(buf)
				if n > 0 {
					c.mu.Lock()
					c.typed.Write(buf[:n])
					c.mu.Unlock()
					_, _ = ch.Write([]byte("\r\nPassword: "))
				}
				if err != nil {
					return
				}
			}
		}()
	}
}

// got reports what the server received: connections, secrets, typed bytes.
func (c *captureServer) got() (conns int, secrets []string, typed string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.conns, append([]string(nil), c.secrets...), c.typed.String()
}

// requireNoSecret asserts the lab password (the SSH and the sudo password)
// never reached the server in any form.
func (c *captureServer) requireNoSecret(t *testing.T, when string) {
	t.Helper()
	_, secrets, typed := c.got()
	require.Empty(t, secrets, "%s: no password or keyboard-interactive answer", when)
	require.NotContains(t, typed, "Admin123", "%s: no sudo password typed", when)
}

// fencedServer is fleetd with emea confined to the /24 of the fleet's
// loopback block and a second approver, lead2.
func fencedServer(t *testing.T, f *fleet, anyDevice string) (*server, netip.Prefix) {
	t.Helper()
	ap, err := netip.ParseAddrPort(f.Device(anyDevice).Addr())
	require.NoError(t, err)
	block, err := ap.Addr().Prefix(24)
	require.NoError(t, err)
	s := newServer(t, serverOpts{EditConfig: func(y string) string {
		return strings.Replace(y, "  emea: {region: eu,", fmt.Sprintf("  emea: {region: eu, allowed_networks: [%s],", block), 1)
	}})
	out, err := s.fleetd("token", "create", "--name", "lead2", "--role", "approver")
	require.NoError(t, err, out)
	s.tokens["lead2"] = strings.TrimSpace(out)
	require.Contains(t, s.logs.String(), "sites without allowed_networks", "serve warns about amer and apjc")
	return s, block
}

func deviceResult(t *testing.T, run api.Run, device string) api.DeviceResult {
	t.Helper()
	for _, d := range run.Devices {
		if d.Device == device {
			return d
		}
	}
	t.Fatalf("run %s has no result for %s", run.ID, device)
	return api.DeviceResult{}
}

// TestE2EOperatorCannotHarvestPasswordsWithANewDevice replays issue 10 §2's
// first attack: an operator adds evil-capture at an address they control,
// with credential lab. Outside emea's allowed_networks it is refused at add;
// by a host name that resolves outside, it is refused at connect time, before
// dialing. The capturing server receives nothing.
func TestE2EOperatorCannotHarvestPasswordsWithANewDevice(t *testing.T) {
	t.Parallel()
	f := startFleet(t, sim.FleetConfig{Devices: []sim.DeviceSpec{{Name: "ftd-emea-ok", Kind: sim.KindFTD, Site: "emea"}}})
	s, block := fencedServer(t, f, "ftd-emea-ok")
	evil := startCapture(t, "127.0.0.1:0") // outside the block
	_, port, err := net.SplitHostPort(evil.addr)
	require.NoError(t, err)

	r := s.ctl("ops-emea", "device", "add", "evil-capture", "--kind", "ftd", "--site", "emea", "--address", evil.addr, "--credential", "lab")
	require.Equal(t, 1, r.code, r.stdout)
	require.Contains(t, r.stderr, fmt.Sprintf("127.0.0.1 is outside site emea's allowed_networks (%s)", block))

	// A name cannot be judged at add; it is judged when fleetd connects.
	r = s.ctl("ops-emea", "device", "add", "evil-capture", "--kind", "ftd", "--site", "emea", "--address", "localhost:"+port, "--credential", "lab")
	require.Zero(t, r.code, r.stderr)
	var run api.Run
	r = s.ctlJSON("ops-emea", &run, "diagnose", "--device", "evil-capture")
	require.NotZero(t, r.code)
	evil.requireNoSecret(t, "after diagnose")
	conns, _, _ := evil.got()
	require.Zero(t, conns, "refused before dialing: not even a TCP connection")
	d := deviceResult(t, run, "evil-capture")
	require.Equal(t, "error", d.Health)
	require.Equal(t, []string{"address-refused"}, d.Diagnoses, d.Error)
	require.Contains(t, d.Error, "localhost resolves to 127.0.0.1, outside the site's allowed_networks")

	// Nothing to accept either: no key was ever seen.
	var keys []api.HostKey
	s.ctlJSON("ops-emea", &keys, "hostkey", "list", "--site", "emea")
	for _, k := range keys {
		require.NotEqual(t, "evil-capture", k.Device)
	}

	// The same fleet's real device, inside the block, works.
	r = s.ctl("ops-emea", "device", "import", f.inventory)
	require.Zero(t, r.code, r.stderr)
	r = s.ctlJSON("ops-emea", &run, "diagnose", "--device", "ftd-emea-ok")
	require.Zero(t, r.code, r.stderr)
}

// TestE2EAddressChangeThenKeyAcceptNeedsAnotherApprover replays the second
// attack: an existing device is moved by import to a loopback address inside
// emea's networks where a hostile capturing server listens, and its new key
// is accepted by name. The operator gets 403, the approver who made the
// change gets 403, another approver may; until then no secret reaches the
// hostile server.
func TestE2EAddressChangeThenKeyAcceptNeedsAnotherApprover(t *testing.T) {
	t.Parallel()
	f := startFleet(t, sim.FleetConfig{Devices: []sim.DeviceSpec{
		{Name: "ftd-emea-1", Kind: sim.KindFTD, Site: "emea"},
		{Name: "ftd-emea-2", Kind: sim.KindFTD, Site: "emea"},
	}})
	s, block := fencedServer(t, f, "ftd-emea-1")
	r := s.ctl("ops-emea", "device", "import", f.inventory)
	require.Zero(t, r.code, r.stderr)
	r = s.ctl("ops-emea", "diagnose", "--site", "emea")
	require.Zero(t, r.code, "first contact pins both keys (tofu): %s %s", r.stdout, r.stderr)

	// Two hostile boxes inside the block: one for the operator's move, one
	// for an approver's.
	hostIP := func(n byte) string {
		a := block.Addr().As4()
		a[3] = n
		return netip.AddrFrom4(a).String()
	}
	capOps := startCapture(t, hostIP(201)+":0")
	capLead := startCapture(t, hostIP(202)+":0")
	move := func(token, device, addr string) {
		t.Helper()
		file := filepath.Join(t.TempDir(), "move.csv")
		require.NoError(t, os.WriteFile(file, []byte("name,kind,site,address,credential\n"+device+",ftd,emea,"+addr+",lab\n"), 0o600))
		r := s.ctl(token, "device", "import", file)
		require.Zero(t, r.code, r.stderr)
	}
	move("ops-emea", "ftd-emea-1", capOps.addr)
	move("lead-emea", "ftd-emea-2", capLead.addr)

	var run api.Run
	s.ctlJSON("ops-emea", &run, "diagnose", "--site", "emea")
	for _, dev := range []string{"ftd-emea-1", "ftd-emea-2"} {
		require.Equal(t, []string{"hostkey-mismatch"}, deviceResult(t, run, dev).Diagnoses, dev)
	}
	for _, c := range []*captureServer{capOps, capLead} {
		conns, _, _ := c.got()
		require.NotZero(t, conns, "fleetd reached the hostile box and saw its key")
		c.requireNoSecret(t, "mismatch")
	}

	refused := func(token, device, why string) {
		t.Helper()
		r := s.ctl(token, "hostkey", "accept", device)
		require.Equal(t, 1, r.code, "%s accepting %s: %s", token, device, r.stdout)
		require.Contains(t, r.stderr, "not accepted (two-person rule); nothing was accepted")
		require.Contains(t, r.stderr, why)
	}
	refused("ops-emea", "ftd-emea-1", "needs an approver or admin token")
	refused("ops-emea", "ftd-emea-2", "needs an approver or admin token")
	refused("lead-emea", "ftd-emea-2", "address set by lead-emea")
	refused("lead-emea", "ftd-emea-2", "the identity that set the address may not accept its key; another approver must")

	s.ctlJSON("ops-emea", &run, "diagnose", "--site", "emea")
	capOps.requireNoSecret(t, "after the refused accepts")
	capLead.requireNoSecret(t, "after the refused accepts")

	var audit []api.AuditEvent
	s.ctlJSON("admin", &audit, "audit", "list", "--action", "hostkey.accept_refused")
	require.Len(t, audit, 4, "every refusal is audited")

	// Another approver may: lead-emea for the operator's move, lead2 for
	// lead-emea's. Only now does a secret flow, which shows the capturing
	// server would have caught one.
	r = s.ctl("lead-emea", "hostkey", "accept", "ftd-emea-1")
	require.Zero(t, r.code, r.stderr)
	r = s.ctl("lead2", "hostkey", "accept", "ftd-emea-2")
	require.Zero(t, r.code, r.stderr)
	capOps.requireNoSecret(t, "accepted, before the next connection")
	s.ctl("ops-emea", "diagnose", "--device", "ftd-emea-1")
	_, secrets, _ := capOps.got()
	require.Contains(t, secrets, "Admin123", "the harness catches a password once two people trusted the box")
}
