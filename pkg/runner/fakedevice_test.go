package runner

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"
)

// fakeDevice is a small in-test SSH server playing a Firepower CLI, for unit
// tests that must not depend on pkg/sim: exact control of prompts, ANSI noise,
// sudo behaviour, faults and jump-host forwarding.
type fakeDevice struct {
	t    testing.TB
	cfg  fakeConfig
	ln   net.Listener
	addr string

	conns, passwords, commands, logins, pubkeys, keepalives atomic.Int64
	mu                                                      sync.Mutex
	log                                                     []string
	live                                                    sync.WaitGroup
}

type fakeConfig struct {
	landing      string // clish (default), bash, fxos, root
	hostname     string
	user         string
	password     string
	sudoPassword string
	hostKey      ssh.Signer
	noise        bool // BEL and ANSI sequences around prompts and output
	exec         bool // accept exec requests (bash-like, root rights); else FTD's syntax error
	hang         bool // accept TCP, never send a banner
	dropAfter    int  // close the connection when the Nth command arrives
	slow         time.Duration
	authorized   []ssh.PublicKey
	certCA       ssh.PublicKey
	forward      bool // act as a jump host (direct-tcpip)
	stallForward bool // a hostile jump host: never answers a direct-tcpip open (neither accepts nor rejects)
	kbdInteract  bool // offer keyboard-interactive instead of password
	noEcho       bool
	legacyOnly   bool // only what an old appliance offers: dh-group14-sha1, aes128-cbc, hmac-sha1, ssh-rsa
}

func newHostKey(t testing.TB) ssh.Signer {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	s, err := ssh.NewSignerFromKey(priv)
	require.NoError(t, err)
	return s
}

func startFake(t testing.TB, cfg fakeConfig) *fakeDevice {
	t.Helper()
	if cfg.landing == "" {
		cfg.landing = "clish"
	}
	if cfg.hostname == "" {
		cfg.hostname = "lab-ftd-01"
	}
	if cfg.user == "" {
		cfg.user = "admin"
	}
	if cfg.password == "" {
		cfg.password = "Admin123"
	}
	if cfg.sudoPassword == "" {
		cfg.sudoPassword = cfg.password
	}
	if cfg.hostKey == nil {
		cfg.hostKey = newHostKey(t)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	d := &fakeDevice{t: t, cfg: cfg, ln: ln, addr: ln.Addr().String()}
	d.live.Add(1)
	go d.serve()
	t.Cleanup(func() {
		_ = ln.Close()
		d.live.Wait()
	})
	return d
}

func (d *fakeDevice) commandLog() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.log...)
}

func (d *fakeDevice) serve() {
	defer d.live.Done()
	for {
		c, err := d.ln.Accept()
		if err != nil {
			return
		}
		d.conns.Add(1)
		d.live.Add(1)
		go func() {
			defer d.live.Done()
			defer c.Close()
			if d.cfg.hang {
				_, _ = io.Copy(io.Discard, c) // until the client gives up
				return
			}
			d.handle(c)
		}()
	}
}

func (d *fakeDevice) serverConfig() *ssh.ServerConfig {
	sc := &ssh.ServerConfig{}
	checkPw := func(user string, pw []byte) bool {
		d.passwords.Add(1)
		return user == d.cfg.user && string(pw) == d.cfg.password
	}
	if d.cfg.kbdInteract {
		sc.KeyboardInteractiveCallback = func(c ssh.ConnMetadata, ch ssh.KeyboardInteractiveChallenge) (*ssh.Permissions, error) {
			ans, err := ch("", "", []string{"Password: "}, []bool{false})
			if err != nil || len(ans) != 1 || !checkPw(c.User(), []byte(ans[0])) {
				return nil, fmt.Errorf("denied")
			}
			return nil, nil
		}
	} else {
		sc.PasswordCallback = func(c ssh.ConnMetadata, pw []byte) (*ssh.Permissions, error) {
			if !checkPw(c.User(), pw) {
				return nil, fmt.Errorf("denied")
			}
			return nil, nil
		}
	}
	if len(d.cfg.authorized) > 0 || d.cfg.certCA != nil {
		checker := &ssh.CertChecker{
			IsUserAuthority: func(k ssh.PublicKey) bool {
				return d.cfg.certCA != nil && keysEqual(k, d.cfg.certCA)
			},
			UserKeyFallback: func(c ssh.ConnMetadata, k ssh.PublicKey) (*ssh.Permissions, error) {
				for _, a := range d.cfg.authorized {
					if keysEqual(a, k) && c.User() == d.cfg.user {
						return nil, nil
					}
				}
				return nil, fmt.Errorf("unknown key")
			},
		}
		sc.PublicKeyCallback = func(c ssh.ConnMetadata, k ssh.PublicKey) (*ssh.Permissions, error) {
			d.pubkeys.Add(1)
			return checker.Authenticate(c, k)
		}
	}
	sc.AddHostKey(d.cfg.hostKey)
	if d.cfg.legacyOnly {
		sc.KeyExchanges = []string{ssh.InsecureKeyExchangeDH14SHA1}
		sc.Ciphers = []string{ssh.InsecureCipherAES128CBC}
		sc.MACs = []string{ssh.HMACSHA1}
	}
	return sc
}

func (d *fakeDevice) handle(c net.Conn) {
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	sconn, chans, reqs, err := ssh.NewServerConn(c, d.serverConfig())
	if err != nil {
		return
	}
	_ = c.SetDeadline(time.Time{})
	d.logins.Add(1)
	go func() {
		for req := range reqs {
			if req.Type == "keepalive@openssh.com" {
				d.keepalives.Add(1)
			}
			if req.WantReply {
				_ = req.Reply(false, nil)
			}
		}
	}()
	var cmds atomic.Int64
	var wg sync.WaitGroup
	for nc := range chans {
		switch nc.ChannelType() {
		case "session":
			ch, creqs, err := nc.Accept()
			if err != nil {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				d.session(sconn, ch, creqs, &cmds)
			}()
		case "direct-tcpip":
			if d.cfg.stallForward {
				continue // leave the open unanswered; keepalives are still answered
			}
			if !d.cfg.forward {
				_ = nc.Reject(ssh.Prohibited, "no forwarding")
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				d.forward(nc)
			}()
		default:
			_ = nc.Reject(ssh.UnknownChannelType, "no")
		}
	}
	wg.Wait()
}

func (d *fakeDevice) forward(nc ssh.NewChannel) {
	var p struct {
		Host     string
		Port     uint32
		OrigHost string
		OrigPort uint32
	}
	if err := ssh.Unmarshal(nc.ExtraData(), &p); err != nil {
		_ = nc.Reject(ssh.ConnectionFailed, "bad payload")
		return
	}
	if !strings.HasPrefix(p.Host, "127.") {
		_ = nc.Reject(ssh.Prohibited, "loopback only")
		return
	}
	tc, err := net.Dial("tcp", net.JoinHostPort(p.Host, strconv.Itoa(int(p.Port))))
	if err != nil {
		_ = nc.Reject(ssh.ConnectionFailed, err.Error())
		return
	}
	ch, reqs, err := nc.Accept()
	if err != nil {
		_ = tc.Close()
		return
	}
	go ssh.DiscardRequests(reqs)
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(ch, tc); _ = ch.CloseWrite(); done <- struct{}{} }()
	go func() { _, _ = io.Copy(tc, ch); _ = tc.(*net.TCPConn).CloseWrite(); done <- struct{}{} }()
	<-done
	<-done
	_ = ch.Close()
	_ = tc.Close()
}

func (d *fakeDevice) session(sconn *ssh.ServerConn, ch ssh.Channel, reqs <-chan *ssh.Request, cmds *atomic.Int64) {
	defer ch.Close()
	for req := range reqs {
		switch req.Type {
		case "pty-req", "env":
			_ = req.Reply(true, nil)
		case "shell":
			_ = req.Reply(true, nil)
			go ssh.DiscardRequests(reqs)
			d.shell(sconn, ch, cmds)
			return
		case "exec":
			_ = req.Reply(true, nil)
			go ssh.DiscardRequests(reqs)
			var p struct{ Cmd string }
			_ = ssh.Unmarshal(req.Payload, &p)
			d.record(p.Cmd)
			if d.drop(cmds) {
				_ = sconn.Close()
				return
			}
			status := uint32(0)
			if !d.cfg.exec {
				fmt.Fprintf(ch, "Syntax error on line stdin:1 %q: Unknown command\n", p.Cmd)
				status = 255
			} else {
				out, _ := d.output(p.Cmd)
				_, _ = io.WriteString(ch, out)
			}
			_, _ = ch.SendRequest("exit-status", false, binary.BigEndian.AppendUint32(nil, status))
			return
		default:
			_ = req.Reply(false, nil)
		}
	}
}

func (d *fakeDevice) record(cmd string) {
	d.commands.Add(1)
	d.mu.Lock()
	d.log = append(d.log, cmd)
	d.mu.Unlock()
}

func (d *fakeDevice) drop(cmds *atomic.Int64) bool {
	n := cmds.Add(1)
	return d.cfg.dropAfter > 0 && n >= int64(d.cfg.dropAfter)
}

// output is what a Linux-level command prints (with "\n" line ends).
func (d *fakeDevice) output(cmd string) (string, bool) {
	f := strings.Fields(cmd)
	if len(f) == 0 {
		return "", true
	}
	switch f[0] {
	case "echo":
		return strings.Join(f[1:], " ") + "\n", true
	case "printf":
		return strings.Join(f[1:], " "), true
	case "big":
		n, _ := strconv.Atoi(f[1])
		var b strings.Builder
		for b.Len() < n {
			b.WriteString("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n")
		}
		return b.String()[:n], true
	case "lines":
		n, _ := strconv.Atoi(f[1])
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, "line %d of %d\n", i+1, n)
		}
		return b.String(), true
	case "curlv":
		return "* Trying 1.2.3.4:443...\n> GET / HTTP/1.1\n> Host: x\n> \n< HTTP/1.1 403 Forbidden\n* Connection #0 to host x left intact\n", true
	case "whoami":
		return "root\n", true
	case "sleep":
		dur, _ := time.ParseDuration(f[1])
		time.Sleep(dur)
		return "", true
	}
	return "bash: " + f[0] + ": command not found\n", false
}

type fakeTerm struct {
	ch    ssh.Channel
	noise bool
	echo  bool
}

func (t *fakeTerm) write(s string) {
	_, _ = io.WriteString(t.ch, strings.ReplaceAll(s, "\n", "\r\n"))
}

// readLine reads a line the way a PTY in canonical mode delivers it, echoing
// when asked. ok is false on EOF; ctrlC reports an interrupt.
func (t *fakeTerm) readLine(echo bool) (line string, ctrlC, ok bool) {
	var b []byte
	one := make([]byte, 1)
	for {
		if _, err := t.ch.Read(one); err != nil {
			return "", false, false
		}
		switch c := one[0]; c {
		case '\r', '\n':
			if echo {
				t.write("\n")
			}
			return string(b), false, true
		case 0x03:
			t.write("^C\n")
			return "", true, true
		default:
			b = append(b, c)
			if echo {
				_, _ = t.ch.Write(one)
			}
		}
	}
}

func (d *fakeDevice) shell(sconn *ssh.ServerConn, ch ssh.Channel, cmds *atomic.Int64) {
	t := &fakeTerm{ch: ch, noise: d.cfg.noise, echo: !d.cfg.noEcho}
	h := d.cfg.hostname
	prompts := map[string]string{
		"clish":  "> ",
		"expert": d.cfg.user + "@" + h + ":~$ ",
		"root":   "root@" + h + ":~# ",
		"fxos":   "firepower# ",
	}
	prompt := func(st string) {
		p := prompts[st]
		if t.noise {
			p = "\x1b[?2004h\x1b]0;" + h + "\x07" + p
		}
		t.write(p)
	}
	var stack []string
	switch d.cfg.landing {
	case "bash":
		stack = []string{"expert"}
	default:
		stack = []string{d.cfg.landing}
	}
	t.write("Copyright 2004-2020, Cisco and/or its affiliates. All rights reserved.\nCisco Firepower 1120 Threat Defense v6.4.0.9 (build 62)\n\n")
	lectured := false
	for len(stack) > 0 {
		st := stack[len(stack)-1]
		prompt(st)
		line, ctrlC, ok := t.readLine(t.echo)
		if !ok {
			return
		}
		if ctrlC {
			continue
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		d.record(line)
		if d.drop(cmds) {
			_ = sconn.Close()
			return
		}
		if d.cfg.slow > 0 {
			time.Sleep(d.cfg.slow)
		}
		if t.noise {
			t.write("\x1b[?2004l")
		}
		switch {
		case line == "exit":
			if st == "expert" || st == "root" {
				t.write("logout\n")
			}
			stack = stack[:len(stack)-1]
		case st == "fxos" && line == "connect ftd":
			t.write("Connecting to ftd(ftd1) console... enter exit to return to bootCLI\n")
			stack = append(stack, "clish")
		case st == "fxos":
			t.write("% Invalid Command at '^' marker\n")
		case st == "clish" && line == "expert":
			t.write("*************** NOTICE ***************\nExpert mode is deprecated.\n")
			stack = append(stack, "expert")
		case st == "clish" && line == "reboot":
			t.write("This command will reboot the system.  Continue?\nPlease enter 'YES' or 'NO': ")
			ans, _, ok := t.readLine(true)
			if !ok {
				return
			}
			d.record(ans)
			if ans == "YES" {
				t.write("Broadcast message from root: The system is going down for reboot NOW!\n")
				_ = sconn.Close()
				return
			}
		case st == "clish" && line == "show version":
			t.write("-------------------[ " + h + " ]--------------------\nModel                     : Cisco Firepower 1120 Threat Defense (77) Version 6.4.0.9 (Build 62)\n")
		case st == "clish":
			if t.noise {
				t.write("\a")
			}
			t.write("Syntax error: Illegal parameter\n")
		case st == "expert" && (line == "sudo su -" || line == "sudo su"):
			if !lectured {
				t.write("\nWe trust you have received the usual lecture from the local System\nAdministrator.\n\n")
				lectured = true
			}
			for tries := 1; ; tries++ {
				t.write("Password: ")
				pw, ctrlC, ok := t.readLine(false)
				if !ok {
					return
				}
				if ctrlC {
					t.write("sudo: " + strconv.Itoa(tries-1) + " incorrect password attempt\n")
					break
				}
				d.passwords.Add(1)
				t.write("\n")
				if pw == d.cfg.sudoPassword {
					stack = append(stack, "root")
					break
				}
				if tries == 3 {
					t.write("sudo: 3 incorrect password attempts\n")
					break
				}
				t.write("Sorry, try again.\n")
			}
		default:
			out, _ := d.output(line)
			if t.noise {
				out = "\x1b[1m" + out + "\x1b[0m"
			}
			t.write(out)
		}
	}
	_, _ = ch.SendRequest("exit-status", false, binary.BigEndian.AppendUint32(nil, 0))
}
