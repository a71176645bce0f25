package sim

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"
)

func oneDevice(t *testing.T, cfg FleetConfig, spec DeviceSpec) (*Fleet, *Device) {
	t.Helper()
	if spec.Name == "" {
		spec.Name = "dut"
	}
	cfg.Devices = append(cfg.Devices, spec)
	f := startFleet(t, cfg)
	return f, f.Device(spec.Name)
}

// waitUntil polls cond (what a remediation does with pmtool status).
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

const (
	netstatCmd = "netstat -anlp | grep EventHandler_SSEConnector.sock"
	statusCmd  = "pmtool status | grep -E '^SSEConnector '"
	logCmd     = "tail -n 3 /ngfw/var/log/connector/connector.log"
)

func TestRestartCuresEventHandlerDisconnected(t *testing.T) {
	t.Parallel()
	for _, cure := range []string{"disable+enable", "restartbyid"} {
		t.Run(cure, func(t *testing.T) {
			t.Parallel()
			// A real clock: the cure must stop the error lines from then on.
			_, d := oneDevice(t, FleetConfig{TimeScale: 0.01, Clock: realClock{}},
				DeviceSpec{Faults: []Fault{FaultEventHandlerDisconnected}})
			tm := openTerm(t, dial(t, d), 500)
			toRoot(tm, KindFTD)

			before := tm.run(netstatCmd, "# ")
			require.Contains(t, before, "STREAM LISTENING")
			require.NotContains(t, before, "CONNECTED")
			require.Contains(t, tm.run(logCmd, "# "), "failed to connect to ZeroMQ PUSH endpoint")

			if cure == "disable+enable" {
				tm.run("pmtool disablebyid SSEConnector", "# ")
				waitUntil(t, "User Disabled", func() bool {
					return strings.Contains(tm.run(statusCmd, "# "), "SSEConnector (system) - User Disabled")
				})
				require.Equal(t, []Fault{FaultEventHandlerDisconnected, FaultConnectorStopped}, d.Faults())
				tm.run("pmtool enablebyid SSEConnector", "# ")
			} else {
				tm.run("pmtool restartbyid SSEConnector", "# ")
			}
			waitUntil(t, "Running", func() bool {
				return strings.Contains(tm.run(statusCmd, "# "), "SSEConnector (system) - Running ")
			})
			after := tm.run(netstatCmd, "# ")
			require.Contains(t, after, "unix 3 [ ] STREAM CONNECTED ")
			require.Contains(t, after, "/EventHandler "+ehSocket)
			tail := tm.run(logCmd, "# ")
			require.NotContains(t, tail, "failed to connect to ZeroMQ PUSH endpoint")
			require.Contains(t, tail, "connected to ZeroMQ PUSH endpoint")
			require.Empty(t, d.Faults())
			require.EqualValues(t, 1, d.Counters().ConnectorRestarts)
			// The connector got a new process id, as a real restart gives.
			require.NotContains(t, tm.run(statusCmd, "# "), "Running 20697")
		})
	}
}

func TestEnableCuresConnectorStopped(t *testing.T) {
	t.Parallel()
	_, d := oneDevice(t, FleetConfig{}, DeviceSpec{Faults: []Fault{FaultConnectorStopped}})
	tm := openTerm(t, dial(t, d), 500)
	toRoot(tm, KindFTD)
	require.Contains(t, tm.run(statusCmd, "# "), "SSEConnector (system) - User Disabled")
	require.Equal(t, "lsof -i | grep connector\r\nroot@dut:~# ", tm.run("lsof -i | grep connector", "# "))
	require.Contains(t, tm.run("curl -s localhost:8989/v1/contexts/default", "# "),
		"curl: (7) Failed to connect to localhost port 8989: Connection refused")
	tm.run("pmtool enablebyid SSEConnector", "# ")
	waitUntil(t, "Running", func() bool { return strings.Contains(tm.run(statusCmd, "# "), "Running") })
	require.Contains(t, tm.run("curl -s localhost:8989/v1/contexts/default", "# "), `"state":"Enrolled"`)
	require.Empty(t, d.Faults())
}

func TestRebootDropsRefusesAndComesBack(t *testing.T) {
	t.Parallel()
	// 5 minutes of downtime at 1/1000 scale: 300 ms refused.
	_, d := oneDevice(t, FleetConfig{TimeScale: 0.001},
		DeviceSpec{Faults: []Fault{FaultEventHandlerDisconnected, FaultEgressBlocked, FaultRegionMismatch, FaultSlow}})
	tm := openTerm(t, dial(t, d), 500)
	tm.waitFor("> ")
	out := tm.run("reboot", "Please enter 'YES' or 'NO': ")
	require.Contains(t, out, "This command will reboot the system.  Continue?")
	tm.run("maybe", "Please enter 'YES' or 'NO': ")
	_, err := tm.in.Write([]byte("YES\r"))
	require.NoError(t, err)
	rest, err := tm.waitEnd()
	require.Contains(t, rest, "The system is going down for reboot NOW!")
	var exitErr *ssh.ExitMissingError
	require.True(t, err == nil || errors.As(err, &exitErr) || errors.Is(err, io.EOF), "session dropped: %v", err)

	waitUntil(t, "refused", func() bool { return dialRefused(d.Addr()) })
	require.Equal(t, "rebooting", d.State().Phase)
	waitUntil(t, "back", func() bool { return !dialRefused(d.Addr()) })
	require.Equal(t, "up", d.State().Phase)
	require.Equal(t, []Fault{FaultEgressBlocked, FaultRegionMismatch}, d.Faults())
	c := d.Counters()
	require.EqualValues(t, 1, c.Reboots)
	// reboot, the wrong answer and YES were typed.
	require.EqualValues(t, 3, c.Commands)
	require.Equal(t, []string{"reboot", "maybe", "YES"}, d.CommandLog())

	tm2 := openTerm(t, dial(t, d), 500)
	toRoot(tm2, KindFTD)
	require.Contains(t, tm2.run(netstatCmd, "# "), "CONNECTED")
}

func TestRootRebootAndShutdown(t *testing.T) {
	t.Parallel()
	for _, cmd := range []string{"reboot", "shutdown -r now", "shutdown -r"} {
		t.Run(cmd, func(t *testing.T) {
			t.Parallel()
			_, d := oneDevice(t, FleetConfig{TimeScale: 0.001}, DeviceSpec{})
			tm := openTerm(t, dial(t, d), 500)
			toRoot(tm, KindFTD)
			_, _ = tm.in.Write([]byte(cmd + "\r"))
			rest, _ := tm.waitEnd()
			require.Contains(t, rest, "going down for reboot")
			waitUntil(t, "counted", func() bool { return d.Counters().Reboots == 1 })
		})
	}
}

func TestCountersAndCommandLog(t *testing.T) {
	t.Parallel()
	_, d := oneDevice(t, FleetConfig{}, DeviceSpec{})
	tm := openTerm(t, dial(t, d), 500)
	tm.waitFor("> ")
	tm.run("expert", "$ ")
	tm.run("sudo su -", "Password: ")
	tm.run("wrong", "Password: ")
	tm.run("Admin123", "# ")
	tm.run("", "# ")
	tm.run("pmtool status | grep -E '^(SSEConnector|EventHandler) '", "# ")
	c := d.Counters()
	require.EqualValues(t, 1, c.Connections)
	require.EqualValues(t, 1, c.Logins)
	require.EqualValues(t, 1, c.AuthAttempts)
	require.EqualValues(t, 3, c.PasswordsReceived, "login + two sudo passwords")
	require.EqualValues(t, 3, c.Commands)
	require.Equal(t, []string{"expert", "sudo su -", "pmtool status | grep -E '^(SSEConnector|EventHandler) '"}, d.CommandLog())
	for _, l := range d.CommandLog() {
		require.NotContains(t, l, "Admin123")
	}
}

func TestCommandLogIsCapped(t *testing.T) {
	t.Parallel()
	_, d := oneDevice(t, FleetConfig{CommandLogSize: 5}, DeviceSpec{})
	tm := openTerm(t, dial(t, d), 500)
	tm.waitFor("> ")
	for _, c := range []string{"show version", "show clock", "help", "show version", "show clock", "help", "show managers"} {
		tm.run(c, "> ")
	}
	require.Equal(t, []string{"help", "show version", "show clock", "help", "show managers"}, d.CommandLog())
	require.EqualValues(t, 7, d.Counters().Commands)
}

func TestAuthMethods(t *testing.T) {
	t.Parallel()
	signer := signerFromSeed(bytes.Repeat([]byte{7}, 32))
	_, d := oneDevice(t, FleetConfig{AuthorizedKeys: []ssh.PublicKey{signer.PublicKey()}}, DeviceSpec{})
	kbd := ssh.KeyboardInteractive(func(name, instr string, qs []string, echos []bool) ([]string, error) {
		require.Equal(t, []string{"Password: "}, qs)
		return []string{"Admin123"}, nil
	})
	for _, m := range []ssh.AuthMethod{ssh.Password("Admin123"), kbd, ssh.PublicKeys(signer)} {
		c := dial(t, d, m)
		_ = c.Close()
	}
	// The server counts a login when its side of the handshake returns,
	// a moment after the client's.
	waitUntil(t, "3 logins", func() bool { return d.Counters().Logins == 3 })
	c := d.Counters()
	require.EqualValues(t, 1, c.PublicKeyAttempts)
	require.EqualValues(t, 2, c.PasswordsReceived)

	_, err := ssh.Dial("tcp", d.Addr(), clientConfig(d, ssh.Password("nope")))
	require.ErrorContains(t, err, "unable to authenticate")
}

func TestTransportFaults(t *testing.T) {
	t.Parallel()
	t.Run("auth-failure", func(t *testing.T) {
		t.Parallel()
		_, d := oneDevice(t, FleetConfig{}, DeviceSpec{Faults: []Fault{FaultAuthFailure}})
		_, err := ssh.Dial("tcp", d.Addr(), clientConfig(d))
		require.ErrorContains(t, err, "unable to authenticate")
		require.EqualValues(t, 1, d.Counters().AuthAttempts)
		require.EqualValues(t, 0, d.Counters().Logins)
	})
	t.Run("hostkey-changed", func(t *testing.T) {
		t.Parallel()
		_, d := oneDevice(t, FleetConfig{}, DeviceSpec{Faults: []Fault{FaultHostKeyChanged}})
		require.NotEqual(t, d.HostKey().Marshal(), d.PresentedHostKey().Marshal())
		_, err := ssh.Dial("tcp", d.Addr(), clientConfig(d))
		require.ErrorContains(t, err, "host key mismatch")
		require.EqualValues(t, 0, d.Counters().AuthAttempts, "no credential is offered to a wrong key")
		d.RemoveFault(FaultHostKeyChanged)
		_ = dial(t, d)
	})
	t.Run("hang", func(t *testing.T) {
		t.Parallel()
		_, d := oneDevice(t, FleetConfig{}, DeviceSpec{Faults: []Fault{FaultHang}})
		conn, err := net.Dial("tcp", d.Addr())
		require.NoError(t, err)
		defer conn.Close()
		require.NoError(t, conn.SetReadDeadline(time.Now().Add(200*time.Millisecond)))
		n, err := conn.Read(make([]byte, 64))
		require.Zero(t, n, "a hanging device never sends its banner")
		var ne net.Error
		require.True(t, errors.As(err, &ne) && ne.Timeout(), "read: %v", err)
		waitUntil(t, "counted", func() bool { return d.Counters().Connections == 1 })
	})
	t.Run("slow", func(t *testing.T) {
		t.Parallel()
		_, d := oneDevice(t, FleetConfig{TimeScale: 0.05, SlowLatency: 4 * time.Second},
			DeviceSpec{Faults: []Fault{FaultSlow}})
		tm := openTerm(t, dial(t, d), 500)
		tm.waitFor("> ")
		start := time.Now()
		tm.run("show clock", "> ")
		require.GreaterOrEqual(t, time.Since(start), 200*time.Millisecond)
	})
	t.Run("drop", func(t *testing.T) {
		t.Parallel()
		_, d := oneDevice(t, FleetConfig{}, DeviceSpec{Faults: []Fault{FaultDrop}})
		tm := openTerm(t, dial(t, d), 500)
		tm.waitFor("> ")
		require.Contains(t, tm.run("show version", "> "), "Model")
		_, _ = tm.in.Write([]byte("expert\r"))
		rest, err := tm.waitEnd()
		require.Error(t, err, "the connection was closed under the session")
		require.NotContains(t, rest, "NOTICE")
	})
	t.Run("flapping", func(t *testing.T) {
		t.Parallel()
		_, d := oneDevice(t, FleetConfig{TimeScale: 0.002}, DeviceSpec{})
		d.SetFault(FaultFlapping) // up 80 ms, down 40 ms
		waitUntil(t, "down", func() bool { return dialRefused(d.Addr()) })
		waitUntil(t, "up", func() bool { return !dialRefused(d.Addr()) })
		waitUntil(t, "down again", func() bool { return dialRefused(d.Addr()) })
		d.RemoveFault(FaultFlapping) // ends the outage at once
		for i := 0; i < 5; i++ {
			require.False(t, dialRefused(d.Addr()), "stays up once the fault is cleared")
			time.Sleep(30 * time.Millisecond)
		}
	})
}

func TestCtrlCInterruptsCurl(t *testing.T) {
	t.Parallel()
	_, d := oneDevice(t, FleetConfig{TimeScale: 1}, DeviceSpec{Version: "6.4.0.9", Faults: []Fault{FaultEgressBlocked}})
	tm := openTerm(t, dial(t, d), 500)
	tm.waitFor("> ")
	tm.run("expert", "$ ")
	tm.run("sudo su -", "Password: ")
	tm.run("Admin123", "# ")
	_, _ = tm.in.Write([]byte("curl -v https://api-sse.cisco.com --cacert /ngfw/etc/ssl/connectorCA.pem --max-time 60\r"))
	tm.waitFor("* TCP_NODELAY set\r\n")
	start := time.Now()
	_, _ = tm.in.Write([]byte{0x03})
	out := tm.waitFor("# ")
	require.Less(t, time.Since(start), 5*time.Second)
	require.Contains(t, out, "^C")
	require.Contains(t, tm.run("echo $?", "# "), "130")
}

func TestExec(t *testing.T) {
	t.Parallel()
	run := func(t *testing.T, c *ssh.Client, cmd string) (string, string, int) {
		s, err := c.NewSession()
		require.NoError(t, err)
		defer s.Close()
		var out, errb bytes.Buffer
		s.Stdout, s.Stderr = &out, &errb
		err = s.Run(cmd)
		code := 0
		var ee *ssh.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitStatus()
		} else {
			require.NoError(t, err)
		}
		return out.String(), errb.String(), code
	}
	t.Run("clish refuses", func(t *testing.T) {
		t.Parallel()
		_, d := oneDevice(t, FleetConfig{}, DeviceSpec{})
		out, errs, code := run(t, dial(t, d), "show version")
		require.Empty(t, out)
		require.Equal(t, "Syntax error on line stdin:1 \"show version\": Unknown command\n", errs)
		require.Equal(t, 255, code)
		require.EqualValues(t, 1, d.Counters().Commands)
	})
	t.Run("exec mode", func(t *testing.T) {
		t.Parallel()
		_, d := oneDevice(t, FleetConfig{Exec: true}, DeviceSpec{Faults: []Fault{FaultEventHandlerDisconnected}})
		c := dial(t, d)
		out, _, code := run(t, c, "netstat -anlp | grep EventHandler_SSEConnector.sock")
		require.Zero(t, code)
		require.Equal(t, "unix 2 [ ACC ] STREAM LISTENING 3022791165 11204/EventHandler "+ehSocket+"\n", out)
		out, _, code = run(t, c, "pmtool status | grep -E '^(SSEConnector|EventHandler) '")
		require.Zero(t, code)
		require.Equal(t, "SSEConnector (system) - Running 20697\nEventHandler (normal) - Running 20916\n", out)
		_, _, code = run(t, c, "netstat -anlp | grep -c CONNECTED.*EventHandler")
		require.Equal(t, 1, code, "grep finds nothing: exit 1")
		_, errs, code := run(t, c, "nosuch")
		require.Equal(t, 127, code)
		require.Equal(t, "-bash: nosuch: command not found\n", errs)
		out, errs, code = run(t, c, "curl -v https://est.sco.cisco.com --cacert /ngfw/etc/ssl/connectorCA.pem --max-time 5")
		require.Zero(t, code)
		require.Equal(t, `{"status":"ok"}`, out)
		require.Contains(t, errs, "* Connection #0 to host est.sco.cisco.com left intact")
		out, _, _ = run(t, c, "/bin/sh -c 'cat /ngfw/etc/sf/connector.properties | grep fqdn'")
		require.Equal(t, "connector_fqdn=api-sse.cisco.com\n", out)
	})
	t.Run("fmc6 exec as admin", func(t *testing.T) {
		t.Parallel()
		_, d := oneDevice(t, FleetConfig{}, DeviceSpec{Kind: KindFMC6})
		c := dial(t, d)
		out, _, code := run(t, c, "whoami")
		require.Zero(t, code)
		require.Equal(t, "admin\n", out)
		_, errs, code := run(t, c, "sudo pmtool status")
		require.Equal(t, 1, code)
		require.Contains(t, errs, "no tty present")
	})
}

// TestLongLinesWrapAtPTYWidth: a narrow PTY breaks lsof lines hard at its
// width, as the seed's captures show; the joined text is the real line.
func TestLongLinesWrapAtPTYWidth(t *testing.T) {
	t.Parallel()
	_, d := oneDevice(t, FleetConfig{}, DeviceSpec{})
	tm := openTerm(t, dial(t, d), 80)
	toRoot(tm, KindFTD)
	out := tm.run("lsof -i | grep connector", "# ")
	lines := strings.Split(strings.TrimSuffix(out, "root@dut:~# "), "\r\n")
	for _, l := range lines {
		require.LessOrEqual(t, len(l), 80, "line %q", l)
	}
	joined := strings.Join(lines, "")
	require.Contains(t, joined, "TCP localhost:8989 (LISTEN)connector 13277")
	require.Contains(t, joined, "->ec2-35-172-147-246.compute-1.amazonaws.com:https (ESTABLISHED)")
	// stty cols widens it, as a driver would.
	tm.run("stty cols 500", "# ")
	out = tm.run("lsof -i | grep connector", "# ")
	require.Len(t, strings.Split(strings.TrimSuffix(out, "root@dut:~# "), "\r\n"), 4) // echo, 2 lines, ""
}

func TestClishAndBashErrors(t *testing.T) {
	t.Parallel()
	_, d := oneDevice(t, FleetConfig{}, DeviceSpec{Hostname: "firepower"})
	tm := openTerm(t, dial(t, d), 500)
	tm.waitFor("> ")
	require.Contains(t, tm.run("foo", "> "), "\aSyntax error: Illegal command line")
	require.Contains(t, tm.run("show", "> "), "Syntax error: Incomplete command")
	require.Contains(t, tm.run("show ver", "> "), "Model                     : Cisco")
	require.Contains(t, tm.run("sh ver", "> "), "Syntax error: Ambiguous command") // show or shutdown
	tm.run("expert", "$ ")
	require.Contains(t, tm.run("pmtool status", "$ "), "pmtool: must be run as root")
	require.Contains(t, tm.run("tail -n 5 /ngfw/var/log/connector/connector.log", "$ "), "Permission denied")
	tm.run("sudo su", "Password: ")
	tm.run("x", "Password: ")
	tm.run("y", "Password: ")
	require.Contains(t, tm.run("z", "$ "), "sudo: 3 incorrect password attempts")
	// Within the session sudo remembers a success: no second password.
	tm.run("sudo su", "Password: ")
	require.Contains(t, tm.run("Admin123", "# "), "root@firepower:/Volume/home/admin# ")
	require.Contains(t, tm.run("cd /etc/sf", "# "), "root@firepower:/etc/sf# ")
	require.Contains(t, tm.run("exit", "$ "), "exit\r\n")
	require.Contains(t, tm.run("sudo su -", "# "), "root@firepower:~# ")
	require.Contains(t, tm.run("echo 'a|b' \"$USER\" > /tmp/x; cat /tmp/x && false || echo $?", "# "), "a|b root\r\n1\r\n")
	require.Contains(t, tm.run("ls |", "# "), "-bash: syntax error: unexpected end of file")
}

func TestFXOSAndFMC6Prompts(t *testing.T) {
	t.Parallel()
	f := startFleet(t, FleetConfig{Devices: []DeviceSpec{
		{Name: "chassis", Kind: KindFXOS, Hostname: "firepower"},
		{Name: "fmc", Kind: KindFMC6, Hostname: "fmc"},
	}})
	tm := openTerm(t, dial(t, f.Device("chassis")), 500)
	tm.waitFor("firepower# ")
	require.Contains(t, tm.run("connect ftd", "\n> "), "Connecting to ftd() console... enter exit to return to bootCLI")
	tm.run("exit", "firepower# ")
	tm2 := openTerm(t, dial(t, f.Device("fmc")), 500)
	tm2.waitFor("admin@fmc:~$ ")
	_, _ = tm2.in.Write([]byte{0x04}) // ^D leaves the login shell
	rest, err := tm2.waitEnd()
	require.NoError(t, err)
	require.Contains(t, rest, "logout")
}

// TestEventHandlerStuckLooksDisconnected: the stuck fault prints, command
// for command, what eventhandler-disconnected prints on every kind.
func TestEventHandlerStuckLooksDisconnected(t *testing.T) {
	t.Parallel()
	for _, kind := range transcriptKinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			want := diagnoseTranscript(t, kind, FaultEventHandlerDisconnected)
			got := diagnoseTranscript(t, kind, FaultEventHandlerStuck)
			require.Equal(t, want, got)
		})
	}
}

// TestRestartDoesNotCureEventHandlerStuck: pmtool disable+enable and
// restartbyid run (and are counted) but the socket stays unconnected; a
// reboot cures it.
func TestRestartDoesNotCureEventHandlerStuck(t *testing.T) {
	t.Parallel()
	_, d := oneDevice(t, FleetConfig{TimeScale: 0.001, Clock: realClock{}},
		DeviceSpec{Faults: []Fault{FaultEventHandlerStuck}})
	require.Equal(t, []Fault{FaultEventHandlerStuck}, d.Faults())
	tm := openTerm(t, dial(t, d), 500)
	toRoot(tm, KindFTD)
	stillBroken := func(what string) {
		t.Helper()
		waitUntil(t, "Running after "+what, func() bool {
			return strings.Contains(tm.run(statusCmd, "# "), "SSEConnector (system) - Running ")
		})
		out := tm.run(netstatCmd, "# ")
		require.Contains(t, out, "STREAM LISTENING", what)
		require.NotContains(t, out, "CONNECTED", what)
		require.NotContains(t, tm.run(logCmd, "# "), "connected to ZeroMQ PUSH endpoint", what)
		require.Equal(t, []Fault{FaultEventHandlerStuck}, d.Faults(), what)
		require.False(t, d.State().EventHandlerConnected, what)
	}

	tm.run("pmtool disablebyid SSEConnector", "# ")
	waitUntil(t, "User Disabled", func() bool {
		return strings.Contains(tm.run(statusCmd, "# "), "SSEConnector (system) - User Disabled")
	})
	require.Equal(t, []Fault{FaultConnectorStopped, FaultEventHandlerStuck}, d.Faults())
	tm.run("pmtool enablebyid SSEConnector", "# ")
	stillBroken("disable+enable")
	tm.run("pmtool restartbyid SSEConnector", "# ")
	stillBroken("restartbyid")
	c := d.Counters()
	require.EqualValues(t, 2, c.ConnectorRestarts, "both restarts counted")
	require.EqualValues(t, 1, c.ConnectorDisables)
	require.EqualValues(t, 1, c.ConnectorEnables)

	d.Reboot()
	waitUntil(t, "back from reboot", func() bool { return d.State().Phase == phaseUp && !dialRefused(d.Addr()) })
	require.Empty(t, d.Faults())
	tm2 := openTerm(t, dial(t, d), 500)
	toRoot(tm2, KindFTD)
	require.Contains(t, tm2.run(netstatCmd, "# "), "unix 3 [ ] STREAM CONNECTED ")
	require.EqualValues(t, 1, d.Counters().Reboots)
}

// TestConnectorCommandCounters: every disablebyid/enablebyid of
// SSEConnector is counted as received, even one that changes nothing.
func TestConnectorCommandCounters(t *testing.T) {
	t.Parallel()
	_, d := oneDevice(t, FleetConfig{}, DeviceSpec{})
	tm := openTerm(t, dial(t, d), 500)
	toRoot(tm, KindFTD)
	for _, c := range []string{"pmtool disablebyid SSEConnector", "pmtool disablebyid sseconnector",
		"pmtool enablebyid SSEConnector", "pmtool enablebyid SSEConnector", "pmtool enablebyid SSEConnector",
		"pmtool disablebyid EventHandler"} {
		tm.run(c, "# ")
	}
	c := d.Counters()
	require.EqualValues(t, 2, c.ConnectorDisables)
	require.EqualValues(t, 3, c.ConnectorEnables)
	require.EqualValues(t, 1, c.ConnectorRestarts, "only the first enable restarted it")
}

// TestCtrlCAtSudoPassword: Ctrl-C at sudo's Password: prompt ends sudo at
// once, as real sudo does: the line is ended, wrong guesses so far are
// reported, no ^C (echo is off), status 1, back at the expert prompt.
func TestCtrlCAtSudoPassword(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		guesses []string
		want    string
	}{
		{"at the first prompt", nil, "\r\nadmin@dut:~$ "},
		{"after one wrong guess", []string{"wrong"},
			"\r\nsudo: 1 incorrect password attempt\r\nadmin@dut:~$ "},
		{"after two wrong guesses", []string{"wrong", "again"},
			"\r\nsudo: 2 incorrect password attempts\r\nadmin@dut:~$ "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, d := oneDevice(t, FleetConfig{TimeScale: 1}, DeviceSpec{Hostname: "dut"})
			tm := openTerm(t, dial(t, d), 500)
			tm.waitFor("> ")
			tm.run("expert", "$ ")
			tm.run("sudo su -", "Password: ")
			for _, g := range tc.guesses {
				require.Contains(t, tm.run(g, "Password: "), "Sorry, try again.")
			}
			_, _ = tm.in.Write([]byte("half-typed"))
			start := time.Now()
			_, _ = tm.in.Write([]byte{0x03})
			out := tm.waitFor("$ ")
			require.Less(t, time.Since(start), 2*time.Second)
			require.Equal(t, tc.want, out)
			require.Contains(t, tm.run("echo $?", "$ "), "\r\n1\r\n")
			// The session is usable: the right password now works.
			tm.run("sudo su -", "Password: ")
			require.Contains(t, tm.run("Admin123", "# "), "root@dut:~# ")
			require.EqualValues(t, 1+len(tc.guesses)+1, d.Counters().PasswordsReceived,
				"login, the wrong guesses and the right one: the interrupted line is not a password")
		})
	}
}
