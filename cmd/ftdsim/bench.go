package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"
)

// runBench measures what a running fleet can serve with a bare
// x/crypto/ssh client: logins per second, or whole root sessions.
func runBench(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ftdsim bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	inventory := fs.String("inventory", "fleet.csv", "inventory CSV written by ftdsim --inventory-out")
	mode := fs.String("mode", "login", "login (connect+auth), session (PTY to root, one command) or exec (--exec fleets)")
	conc := fs.Int("concurrency", 32, "parallel clients")
	total := fs.Int("n", 2000, "operations to run (devices are used round-robin)")
	user := fs.String("username", "admin", "login user")
	pass := fs.String("password", "Admin123", "login password")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	addrs, err := readAddresses(*inventory)
	if err != nil {
		fmt.Fprintln(stderr, "ftdsim bench:", err)
		return 1
	}
	cfg := &ssh.ClientConfig{User: *user, Auth: []ssh.AuthMethod{ssh.Password(*pass)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 10 * time.Second}
	op := map[string]func(string) error{
		"login":   func(a string) error { return benchLogin(a, cfg) },
		"session": func(a string) error { return benchSession(a, cfg, *pass) },
		"exec":    func(a string) error { return benchExec(a, cfg) },
	}[*mode]
	if op == nil {
		fmt.Fprintf(stderr, "ftdsim bench: unknown --mode %q\n", *mode)
		return 2
	}
	var next atomic.Int64
	var failures atomic.Int64
	lat := make([]time.Duration, *total)
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < *conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= *total {
					return
				}
				t0 := time.Now()
				if err := op(addrs[i%len(addrs)]); err != nil {
					if failures.Add(1) <= 3 {
						fmt.Fprintf(stderr, "%s: %v\n", addrs[i%len(addrs)], err)
					}
				}
				lat[i] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	fmt.Fprintf(stdout, "mode=%s n=%d concurrency=%d devices=%d elapsed=%s rate=%.0f/s p50=%s p99=%s failures=%d\n",
		*mode, *total, *conc, len(addrs), elapsed.Round(time.Millisecond), float64(*total)/elapsed.Seconds(),
		lat[len(lat)/2].Round(time.Microsecond), lat[len(lat)*99/100].Round(time.Microsecond), failures.Load())
	if failures.Load() > 0 {
		return 1
	}
	return 0
}

func readAddresses(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open inventory: %w", err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("read inventory: %w", err)
	}
	var out []string
	for _, r := range rows[1:] {
		if len(r) < 4 {
			continue
		}
		a := r[3]
		if _, _, err := net.SplitHostPort(a); err != nil {
			a = net.JoinHostPort(a, "22")
		}
		out = append(out, a)
	}
	if len(out) == 0 {
		return nil, errors.New("inventory has no devices")
	}
	return out, nil
}

func benchLogin(addr string, cfg *ssh.ClientConfig) error {
	c, err := ssh.Dial("tcp", addr, cfg)
	if err != nil {
		return err
	}
	return c.Close()
}

// withSession dials addr, opens one session and runs f on it.
func withSession(addr string, cfg *ssh.ClientConfig, f func(s *ssh.Session) error) error {
	c, err := ssh.Dial("tcp", addr, cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	s, err := c.NewSession()
	if err != nil {
		return err
	}
	defer s.Close()
	return f(s)
}

func benchExec(addr string, cfg *ssh.ClientConfig) error {
	return withSession(addr, cfg, func(s *ssh.Session) error {
		out, err := s.Output("netstat -anlp | grep EventHandler_SSEConnector.sock")
		if err != nil {
			return err
		}
		if !bytes.Contains(out, []byte("LISTENING")) {
			return fmt.Errorf("unexpected output %q", out)
		}
		return nil
	})
}

// benchSession walks clish → expert → root and runs one check.
func benchSession(addr string, cfg *ssh.ClientConfig, pass string) error {
	return withSession(addr, cfg, func(s *ssh.Session) error { return benchShell(s, pass) })
}

func benchShell(s *ssh.Session, pass string) error {
	in, err := s.StdinPipe()
	if err != nil {
		return err
	}
	out, err := s.StdoutPipe()
	if err != nil {
		return err
	}
	if err := s.RequestPty("xterm", 50, 512, ssh.TerminalModes{}); err != nil {
		return err
	}
	if err := s.Shell(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var buf bytes.Buffer
	chunk := make([]byte, 4096)
	expect := func(suffixes ...string) (string, error) {
		for ctx.Err() == nil {
			text := strings.TrimRight(buf.String(), " ")
			for _, sfx := range suffixes {
				if strings.HasSuffix(text, sfx) {
					buf.Reset()
					return sfx, nil
				}
			}
			n, err := out.Read(chunk)
			buf.Write(chunk[:n])
			if err != nil {
				return "", err
			}
		}
		return "", ctx.Err()
	}
	steps := []struct{ send, want string }{{"", ">"}, {"expert", "$"}, {"sudo su -", ":"}, {pass, "#"},
		{"netstat -anlp | grep EventHandler_SSEConnector.sock", "#"}}
	for _, st := range steps {
		if st.send != "" {
			if _, err := io.WriteString(in, st.send+"\r"); err != nil {
				return err
			}
		}
		got, err := expect(st.want, "#")
		if err != nil {
			return fmt.Errorf("waiting for %q: %w", st.want, err)
		}
		if st.want == ":" && got == "#" {
			continue // sudo did not ask
		}
	}
	return nil
}
