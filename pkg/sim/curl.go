package sim

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

type curlOpts struct {
	verbose, silent, showErr, insecure, head, include, fail bool
	cacert, output, writeOut, method                        string
	maxTime, connectTimeout                                 float64
	url                                                     string
}

// curl flags that take a value; the others are booleans.
var curlValueOpts = map[string]bool{
	"--cacert": true, "--capath": true, "--max-time": true, "-m": true, "--connect-timeout": true,
	"-o": true, "--output": true, "-X": true, "--request": true, "-H": true, "--header": true, "-d": true,
	"--data": true, "-u": true, "--user": true, "-A": true, "--user-agent": true, "-w": true, "--write-out": true,
	"-E": true, "--cert": true, "--key": true, "-x": true, "--proxy": true, "--resolve": true, "--retry": true,
}

func parseCurlArgs(args []string) (curlOpts, string) {
	o := curlOpts{method: "GET"}
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, val, hasVal := a, "", false
		if strings.HasPrefix(a, "--") {
			if n, v, ok := strings.Cut(a, "="); ok {
				name, val, hasVal = n, v, true
			}
		}
		if curlValueOpts[name] {
			if !hasVal {
				if i+1 >= len(args) {
					return o, fmt.Sprintf("option %s: requires parameter", name)
				}
				val = args[i+1]
				i++
			}
			switch name {
			case "--cacert":
				o.cacert = val
			case "--max-time", "-m", "--connect-timeout":
				f, err := strconv.ParseFloat(val, 64)
				if err != nil || f < 0 {
					return o, fmt.Sprintf("option %s: expected a proper numerical parameter", name)
				}
				if name == "--connect-timeout" {
					o.connectTimeout = f
				} else {
					o.maxTime = f
				}
			case "-o", "--output":
				o.output = val
			case "-w", "--write-out":
				o.writeOut = val
			case "-X", "--request":
				o.method = val
			}
			continue
		}
		switch {
		case name == "--verbose":
			o.verbose = true
		case name == "--silent":
			o.silent = true
		case name == "--show-error":
			o.showErr = true
		case name == "--insecure":
			o.insecure = true
		case name == "--head":
			o.head = true
		case name == "--include":
			o.include = true
		case name == "--fail", name == "--location", name == "--compressed", name == "--no-progress-meter":
			o.fail = o.fail || name == "--fail"
		case strings.HasPrefix(name, "--"):
			return o, fmt.Sprintf("option %s: is unknown", name)
		case strings.HasPrefix(a, "-") && len(a) > 1:
			for j := 1; j < len(a); j++ {
				switch a[j] {
				case 'v':
					o.verbose = true
				case 's':
					o.silent = true
				case 'S':
					o.showErr = true
				case 'k':
					o.insecure = true
				case 'I':
					o.head = true
				case 'i':
					o.include = true
				case 'f':
					o.fail = true
				case 'L':
				case 'm', 'o', 'w', 'X', 'H', 'd', 'u', 'A', 'E', 'x':
					// value glued to the flag: -m10
					v := a[j+1:]
					if v == "" {
						if i+1 >= len(args) {
							return o, fmt.Sprintf("option -%c: requires parameter", a[j])
						}
						i++
						v = args[i]
					}
					sub, msg := parseCurlArgs([]string{"-" + string(a[j]), v})
					if msg != "" {
						return o, msg
					}
					mergeCurl(&o, sub)
					j = len(a)
				default:
					return o, fmt.Sprintf("option -%c: is unknown", a[j])
				}
			}
		default:
			if o.url == "" {
				o.url = a
			}
		}
	}
	if o.url == "" {
		return o, "no URL specified!"
	}
	return o, ""
}

func mergeCurl(o *curlOpts, s curlOpts) {
	if s.maxTime > 0 {
		o.maxTime = s.maxTime
	}
	if s.output != "" {
		o.output = s.output
	}
	if s.writeOut != "" {
		o.writeOut = s.writeOut
	}
	if s.method != "GET" {
		o.method = s.method
	}
}

type curlURL struct {
	scheme, host, path string
	port               int
}

func parseCurlURL(raw string) (curlURL, bool) {
	u := curlURL{scheme: "http", path: "/"}
	rest := raw
	if i := strings.Index(rest, "://"); i >= 0 {
		u.scheme = strings.ToLower(rest[:i])
		rest = rest[i+3:]
	}
	if u.scheme != "http" && u.scheme != "https" {
		return u, false
	}
	hostport := rest
	if i := strings.IndexAny(rest, "/?"); i >= 0 {
		hostport = rest[:i]
		u.path = rest[i:]
		if !strings.HasPrefix(u.path, "/") {
			u.path = "/" + u.path
		}
	}
	u.port = 80
	if u.scheme == "https" {
		u.port = 443
	}
	if h, p, ok := strings.Cut(hostport, ":"); ok {
		n, err := strconv.Atoi(p)
		if err != nil || n <= 0 || n > 65535 {
			return u, false
		}
		hostport, u.port = h, n
	}
	u.host = strings.ToLower(hostport)
	return u, u.host != ""
}

// curlRun carries the output streams and options of one curl.
type curlRun struct {
	p       *proc
	o       curlOpts
	trace   io.Writer // -v lines (stderr)
	body    io.Writer
	version string
	started time.Time
	code    int
}

func (c *curlRun) t(format string, a ...any) {
	if c.o.verbose {
		fmt.Fprintf(c.trace, format, a...)
	}
}

// fail prints curl's closing error line; -s hides it unless -S.
func (c *curlRun) fail(code int, msg string) int {
	c.t("* Closing connection 0\n")
	if !c.o.silent || c.o.showErr {
		fmt.Fprintf(c.p.err, "curl: (%d) %s\n", code, msg)
	}
	return code
}

func (c *curlRun) trying(ip string, port int) {
	if versionLess(c.version, "7.69.0") {
		c.t("*   Trying %s...\n* TCP_NODELAY set\n", ip)
	} else {
		c.t("*   Trying %s:%d...\n", ip, port)
	}
}

func versionLess(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(pa) && i < len(pb); i++ {
		x, _ := strconv.Atoi(pa[i])
		y, _ := strconv.Atoi(pb[i])
		if x != y {
			return x < y
		}
	}
	return len(pa) < len(pb)
}

func cmdCurl(p *proc) int {
	o, msg := parseCurlArgs(p.args[1:])
	if msg != "" {
		p.errf("curl: %s\ncurl: try 'curl --help' or 'curl --manual' for more information\n", msg)
		return 2
	}
	c := &curlRun{p: p, o: o, trace: p.err, body: p.out, version: p.s.d.rel.curl, started: time.Now()}
	if o.output != "" {
		if o.output == "/dev/null" {
			c.body = io.Discard
		} else {
			var b strings.Builder
			c.body = &b
			defer func() { p.s.writeFile(p.s.resolvePath(o.output), b.String(), false) }()
		}
	}
	u, ok := parseCurlURL(o.url)
	if !ok {
		return c.fail(3, "URL using bad/illegal format or missing URL")
	}
	status := c.run(u)
	if o.writeOut != "" && status != 2 {
		w := strings.NewReplacer("%{http_code}", fmt.Sprintf("%03d", c.code),
			"%{time_total}", fmt.Sprintf("%.6f", time.Since(c.started).Seconds()/p.s.d.fleet.cfg.TimeScale),
			`\n`, "\n").Replace(o.writeOut)
		fmt.Fprint(p.out, w)
	}
	return status
}

func (c *curlRun) run(u curlURL) int {
	d := c.p.s.d
	if u.host == "localhost" || u.host == "127.0.0.1" {
		return c.local(u)
	}
	addr, known := sseHosts[u.host]
	if !known {
		if !c.p.s.latency(c.p.ctx, 20*time.Millisecond) {
			return 130
		}
		c.t("* Could not resolve host: %s\n", u.host)
		return c.fail(6, "Could not resolve host: "+u.host)
	}
	if u.scheme == "https" && c.o.cacert != "" {
		if _, msg := c.p.s.readFile(c.o.cacert); msg != "" {
			c.t("* error setting certificate verify locations:\n*   CAfile: %s\n  CApath: none\n", c.o.cacert)
			return c.fail(77, fmt.Sprintf("error setting certificate verify locations:\n  CAfile: %s\n  CApath: none", c.o.cacert))
		}
	}
	snap := d.snap()
	c.trying(addr.ip, u.port)
	if snap.egress {
		return c.timeout(u, addr.ip)
	}
	// Deterministic per device and host: 60-180 ms to connect, 150-300 ms
	// for TLS and the answer.
	r := devRand(d.fleet.cfg.Seed, d.name, u.host)
	connect := time.Duration(60+r%120) * time.Millisecond
	tls := time.Duration(150+(r>>8)%150) * time.Millisecond
	if ms := c.limit(); ms > 0 && connect+tls > ms {
		if !c.p.s.latency(c.p.ctx, ms) {
			return 130
		}
		n := ms.Milliseconds() + 1
		c.t("* Operation timed out after %d milliseconds with 0 out of 0 bytes received\n", n)
		return c.fail(28, fmt.Sprintf("Operation timed out after %d milliseconds with 0 out of 0 bytes received", n))
	}
	if !c.p.s.latency(c.p.ctx, connect) {
		return 130
	}
	c.t("* Connected to %s (%s) port %d (#0)\n", u.host, addr.ip, u.port)
	if u.scheme == "https" {
		if code := c.tls(u, tls); code != 0 {
			return code
		}
	} else if !c.p.s.latency(c.p.ctx, tls/3) {
		return 130
	}
	code, reason, body := sseResponse(u)
	if u.scheme == "http" {
		code, reason, body = 301, "Moved Permanently", ""
	}
	c.respond(u, code, reason, "application/json", body, d.now())
	c.t("* Connection #0 to host %s left intact\n", u.host)
	return 0
}

// limit is the time curl allows before giving up (0: the kernel's).
func (c *curlRun) limit() time.Duration {
	t := c.o.maxTime
	if c.o.connectTimeout > 0 && (t == 0 || c.o.connectTimeout < t) {
		t = c.o.connectTimeout
	}
	return time.Duration(t * float64(time.Second))
}

// timeout is egress-blocked: SYNs go unanswered until --max-time, or the
// kernel gives up after about 127 s.
func (c *curlRun) timeout(u curlURL, ip string) int {
	lim := c.limit()
	if lim <= 0 {
		if !c.p.s.latency(c.p.ctx, 127*time.Second) {
			return 130
		}
		c.t("* connect to %s port %d failed: Connection timed out\n", ip, u.port)
		c.t("* Failed to connect to %s port %d: Connection timed out\n", u.host, u.port)
		return c.fail(7, fmt.Sprintf("Failed to connect to %s port %d: Connection timed out", u.host, u.port))
	}
	if !c.p.s.latency(c.p.ctx, lim) {
		return 130
	}
	ms := lim.Milliseconds() + 1
	c.t("* Connection timed out after %d milliseconds\n", ms)
	return c.fail(28, fmt.Sprintf("Connection timed out after %d milliseconds", ms))
}

func (c *curlRun) tls(u curlURL, lat time.Duration) int {
	c.t("* ALPN, offering h2\n* ALPN, offering http/1.1\n")
	if !c.o.insecure && c.o.cacert == "" {
		c.t("* successfully set certificate verify locations:\n*   CAfile: /etc/ssl/certs/ca-certificates.crt\n  CApath: /etc/ssl/certs\n")
	} else if !c.o.insecure {
		c.t("* successfully set certificate verify locations:\n*   CAfile: %s\n  CApath: none\n", c.o.cacert)
	}
	c.t("* TLSv1.2 (OUT), TLS handshake, Client hello (1):\n")
	if !c.p.s.latency(c.p.ctx, lat/2) {
		return 130
	}
	c.t("* TLSv1.2 (IN), TLS handshake, Server hello (2):\n* TLSv1.2 (IN), TLS handshake, Certificate (11):\n")
	if !c.o.insecure && c.o.cacert == "" {
		// The device's default bundle lacks the SSE issuer: the tech
		// note's --cacert is what makes the check pass.
		c.t("* TLSv1.2 (OUT), TLS alert, unknown CA (560):\n* SSL certificate problem: unable to get local issuer certificate\n")
		return c.fail(60, "SSL certificate problem: unable to get local issuer certificate\nMore details here: https://curl.haxx.se/docs/sslcerts.html\n\n"+
			"curl failed to verify the legitimacy of the server and therefore could not\nestablish a secure connection to it.")
	}
	c.t("* TLSv1.2 (IN), TLS handshake, Server key exchange (12):\n* TLSv1.2 (IN), TLS handshake, Server finished (14):\n" +
		"* TLSv1.2 (OUT), TLS handshake, Client key exchange (16):\n* TLSv1.2 (OUT), TLS change cipher, Change cipher spec (1):\n" +
		"* TLSv1.2 (OUT), TLS handshake, Finished (20):\n* TLSv1.2 (IN), TLS handshake, Finished (20):\n" +
		"* SSL connection using TLSv1.2 / ECDHE-RSA-AES128-GCM-SHA256\n* ALPN, server accepted to use http/1.1\n")
	now := c.p.s.d.now().UTC()
	start := now.AddDate(0, 0, -200).Truncate(24 * time.Hour)
	c.t("* Server certificate:\n*  subject: C=US; ST=California; L=San Jose; O=Cisco Systems, Inc.; CN=%s\n", u.host)
	c.t("*  start date: %s\n*  expire date: %s\n", start.Format("Jan _2 15:04:05 2006 GMT"),
		start.AddDate(1, 0, 0).Add(-time.Second).Format("Jan _2 15:04:05 2006 GMT"))
	c.t("*  subjectAltName: host \"%s\" matched cert's \"%s\"\n", u.host, u.host)
	c.t("*  issuer: C=US; O=IdenTrust; OU=HydrantID Trusted Certificate Service; CN=HydrantID Server CA O1\n*  SSL certificate verify ok.\n")
	if !c.p.s.latency(c.p.ctx, lat/2) {
		return 130
	}
	return 0
}

// sseResponse is what each SSE endpoint answers to a bare GET.
func sseResponse(u curlURL) (int, string, string) {
	switch {
	case strings.HasPrefix(u.host, "api"):
		return 403, "Forbidden", `{"message":"Forbidden"}`
	case strings.HasPrefix(u.host, "est."):
		return 200, "OK", `{"status":"ok"}`
	case strings.HasPrefix(u.host, "mx01."):
		return 403, "Forbidden", `{"message":"Missing Authentication Token"}`
	}
	return 404, "Not Found", `{"error":"not found"}`
}

// respond prints the request and response headers (-v) and the body; the
// body has no newline, so curl's next trace line follows on the same line
// as on a real terminal.
func (c *curlRun) respond(u curlURL, code int, reason, ctype, body string, now time.Time) {
	c.code = code
	method := c.o.method
	if c.o.head {
		method = "HEAD"
	}
	host := u.host
	if (u.scheme == "https" && u.port != 443) || (u.scheme == "http" && u.port != 80) {
		host = fmt.Sprintf("%s:%d", u.host, u.port)
	}
	c.t("> %s %s HTTP/1.1\n> Host: %s\n> User-Agent: curl/%s\n> Accept: */*\n> \n", method, u.path, host, c.version)
	hdr := fmt.Sprintf("HTTP/1.1 %d %s\nDate: %s\nContent-Type: %s\nContent-Length: %d\n",
		code, reason, now.UTC().Format(http.TimeFormat), ctype, len(body))
	if code == 301 {
		hdr += fmt.Sprintf("Location: https://%s%s\n", u.host, u.path)
	}
	for _, l := range splitLines(hdr) {
		c.t("< %s\n", l)
	}
	c.t("< \n")
	if c.o.include || c.o.head {
		fmt.Fprint(c.body, strings.ReplaceAll(hdr, "\n", "\r\n")+"\r\n")
	}
	if !c.o.head {
		fmt.Fprint(c.body, body)
	}
}

// local is the connector's own API on localhost:8989.
func (c *curlRun) local(u curlURL) int {
	d := c.p.s.d
	snap := d.snap()
	if !c.p.s.latency(c.p.ctx, 15*time.Millisecond) {
		return 130
	}
	c.trying("127.0.0.1", u.port)
	if u.port != 8989 || !snap.conn.running {
		c.t("* connect to 127.0.0.1 port %d failed: Connection refused\n", u.port)
		c.t("* Failed to connect to %s port %d: Connection refused\n", u.host, u.port)
		c.t("* Closing connection 0\n")
		// contracts-internal.md: the refusal is printed even under -s,
		// the check reads it.
		fmt.Fprintf(c.p.err, "curl: (7) Failed to connect to %s port %d: Connection refused\n", u.host, u.port)
		return 7
	}
	c.t("* Connected to %s (127.0.0.1) port %d (#0)\n", u.host, u.port)
	if u.scheme == "https" {
		c.t("* ALPN, offering h2\n* ALPN, offering http/1.1\n")
		return c.fail(35, "error:1408F10B:SSL routines:ssl3_get_record:wrong version number")
	}
	if u.path == "/v1/contexts/default" {
		c.respond(u, 200, "OK", "application/json", d.localAPI(snap), d.now())
	} else {
		c.respond(u, 404, "Not Found", "application/json", `{"code":404,"message":"not found"}`+"\n", d.now())
	}
	c.t("* Connection #0 to host %s left intact\n", u.host)
	return 0
}
