package sim

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/stretchr/testify/require"
)

// TestOpenSSHClientReachesRoot logs into a simulated FTD with the system
// OpenSSH client through a real PTY, pinning the device's key in a
// known_hosts file, and walks to the root prompt like a person would.
func TestOpenSSHClientReachesRoot(t *testing.T) {
	t.Parallel()
	sshBin, err := exec.LookPath("ssh")
	if err != nil {
		t.Skip("the OpenSSH client (ssh) is not installed: apt-get install openssh-client")
	}
	f := startFleet(t, FleetConfig{Devices: []DeviceSpec{{Name: "ftd-lab-01", Hostname: "firepower",
		Faults: []Fault{FaultEventHandlerDisconnected}}}})
	d := f.Devices()[0]
	dir := t.TempDir()
	kh := filepath.Join(dir, "known_hosts")
	var b bytes.Buffer
	require.NoError(t, f.WriteKnownHosts(&b))
	require.NoError(t, os.WriteFile(kh, b.Bytes(), 0o600))

	cmd := exec.Command(sshBin, "-F", "/dev/null", "-tt",
		"-o", "UserKnownHostsFile="+kh, "-o", "StrictHostKeyChecking=yes", "-o", "GlobalKnownHostsFile=/dev/null",
		"-o", "PubkeyAuthentication=no", "-o", "PreferredAuthentications=keyboard-interactive,password",
		"-o", "ConnectTimeout=5", "-p", strings.Split(d.Addr(), ":")[1], "admin@"+d.IP())
	cmd.Env = append(os.Environ(), "HOME="+dir, "SSH_AUTH_SOCK=")
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 200})
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = ptmx.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	var mu sync.Mutex
	var out bytes.Buffer
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := ptmx.Read(buf)
			mu.Lock()
			out.Write(buf[:n])
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	mark := 0
	wait := func(suffix string) string {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			mu.Lock()
			s := out.String()
			mu.Unlock()
			if strings.HasSuffix(strings.TrimRight(s, " "), strings.TrimRight(suffix, " ")) && len(s) > mark {
				got := s[mark:]
				mark = len(s)
				return got
			}
			if time.Now().After(deadline) {
				t.Fatalf("waiting for %q, got:\n%s", suffix, s[mark:])
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	send := func(s string) {
		_, err := ptmx.Write([]byte(s + "\r"))
		require.NoError(t, err)
	}
	wait("Password: ")
	send("Admin123")
	require.Contains(t, wait("> "), "Cisco Firepower")
	send("expert")
	wait("admin@firepower:~$ ")
	send("sudo su -")
	wait("Password: ")
	send("Admin123")
	wait("root@firepower:~# ")
	send(netstatCmd)
	got := wait("root@firepower:~# ")
	require.Contains(t, got, "STREAM LISTENING 3022791165 11204/EventHandler "+ehSocket)
	require.NotContains(t, got, "CONNECTED")
	send("exit")
	wait("$ ")
	send("exit")
	wait("> ")
	send("exit")
	require.NoError(t, cmd.Wait(), "ssh exits 0 when the CLI session ends")
	require.EqualValues(t, 1, d.Counters().Logins)
	require.EqualValues(t, 2, d.Counters().PasswordsReceived)
}
