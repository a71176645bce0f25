package sim

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// devSnap is a consistent view of the device for one command's output.
type devSnap struct {
	conn                             connStatus
	ehBroken, enrolled               bool
	egress, mismatch                 bool
	pmPID, childPID, ehPID           int
	ehListenIno, ehConnIno, lsListen int64
	bootedAt, enrolledAt             time.Time
}

func (s devSnap) ehPMPID() int { return s.ehPID + 9712 } // pmtool's EventHandler wrapper

func (d *Device) snap() devSnap {
	// The FMC's lock is taken before, never inside, the device's.
	fmcOff, fmcRegion := d.fmcBlocks()
	d.mu.Lock()
	defer d.mu.Unlock()
	return devSnap{
		conn:     d.connectorStatusLocked(time.Now()),
		ehBroken: d.ehBroken, enrolled: d.enrolled && !fmcOff,
		egress: d.flags.has(FaultEgressBlocked), mismatch: d.flags.has(FaultRegionMismatch) || fmcRegion,
		pmPID: int(d.pmPID), childPID: int(d.childPID), ehPID: int(d.ehPID),
		ehListenIno: d.ehListenIno, ehConnIno: d.ehConnIno, lsListen: d.lsListenIno,
		bootedAt: d.bootedAt, enrolledAt: d.enrolledAt,
	}
}

// uuid is the device UUID, stable from the seed and the name.
func (d *Device) uuid() string {
	a := devRand(d.fleet.cfg.Seed, d.name, "uuid-a")
	b := devRand(d.fleet.cfg.Seed, d.name, "uuid-b")
	return fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x", uint32(a>>32), uint16(a>>16), uint16(a)&0xfff,
		uint16(b>>48)&0x3fff|0x8000, b&0xffffffffffff)
}

// pmtoolStatus is "pmtool status" (Cisco tech note 225776 captures): the
// seed's lines appear in the seed's order.
func (d *Device) pmtoolStatus() string {
	s := d.snap()
	var b strings.Builder
	proc := func(name, typ string, pid int, detail ...string) {
		fmt.Fprintf(&b, "%s (%s) - Running %d\n", name, typ, pid)
		for _, l := range detail {
			b.WriteString(l + "\n")
		}
	}
	pidFiles := func(name string) []string {
		return []string{"PID File: /ngfw/var/sf/run/" + name + ".pid", "Enable File: /ngfw/etc/sf/" + name + ".run"}
	}
	base := 1000 + (d.index*37)%800
	proc("sfmbservice", "system", base+3382, pidFiles("sfmbservice")...)
	proc("ngfwManager", "system", base+5115, pidFiles("ngfwManager")...)
	switch s.conn.state {
	case "running":
		fmt.Fprintf(&b, "SSEConnector (system) - Running %d\n", s.conn.pid)
	case "waiting":
		b.WriteString("SSEConnector (system) - Waiting\n")
	default:
		b.WriteString("SSEConnector (system) - User Disabled\n")
	}
	b.WriteString("Required by: ngfwManager,ASAConfig,tomcat,SSEConnector,...\n")
	proc("EventHandler", "normal", s.ehPMPID(), pidFiles("EventHandler")...)
	b.WriteString("adi (normal) - User Disabled\n")
	b.WriteString("PID File: /ngfw/var/sf/run/adi.pid\nEnable File: /ngfw/etc/sf/adi.run\n")
	proc("SFDataCorrelator", "normal", base+6021, pidFiles("SFDataCorrelator")...)
	proc("sftunnel", "system", base+2214, pidFiles("sftunnel")...)
	return b.String()
}

// netstat is "netstat -anlp". The seed's EventHandler lines are printed
// with single spaces exactly as docs/firepower.md gives them.
func (d *Device) netstat(root bool) string {
	s := d.snap()
	pid := func(p int, name string) string {
		if !root {
			return "-"
		}
		return fmt.Sprintf("%d/%s", p, name)
	}
	sshdPID := 1893 + d.index%500
	evIP := sseHosts[Regions[d.connectorRegionSnap(s)].Eventing].ip
	var b strings.Builder
	b.WriteString("Active Internet connections (servers and established)\n")
	b.WriteString("Proto Recv-Q Send-Q Local Address Foreign Address State PID/Program name\n")
	fmt.Fprintf(&b, "tcp 0 0 0.0.0.0:22 0.0.0.0:* LISTEN %s\n", pid(sshdPID, "sshd"))
	if s.conn.running {
		fmt.Fprintf(&b, "tcp 0 0 127.0.0.1:8989 0.0.0.0:* LISTEN %s\n", pid(s.childPID, "connector"))
		switch {
		case s.egress:
			fmt.Fprintf(&b, "tcp 0 1 %s:53426 %s:443 SYN_SENT %s\n", d.mgmtIP, evIP, pid(s.childPID, "connector"))
		case s.enrolled:
			fmt.Fprintf(&b, "tcp 0 0 %s:56495 %s:443 ESTABLISHED %s\n", d.mgmtIP, evIP, pid(s.childPID, "connector"))
		}
	}
	fmt.Fprintf(&b, "tcp 0 52 %s:22 10.10.0.5:51234 ESTABLISHED %s\n", d.mgmtIP, pid(sshdPID+20311, "sshd: admin [p"))
	fmt.Fprintf(&b, "tcp6 0 0 :::22 :::* LISTEN %s\n", pid(sshdPID, "sshd"))
	b.WriteString("Active UNIX domain sockets (servers and established)\n")
	b.WriteString("Proto RefCnt Flags Type State I-Node PID/Program name Path\n")
	fmt.Fprintf(&b, "unix 2 [ ACC ] STREAM LISTENING 14321 %s /run/systemd/private\n", pid(1, "init"))
	fmt.Fprintf(&b, "unix 2 [ ACC ] STREAM LISTENING %d %s %s\n", s.ehListenIno, pid(s.ehPID, "EventHandler"), ehSocket)
	if s.conn.running && !s.ehBroken {
		fmt.Fprintf(&b, "unix 3 [ ] STREAM CONNECTED %d %s %s\n", s.ehConnIno, pid(s.ehPID, "EventHandler"), ehSocket)
		fmt.Fprintf(&b, "unix 3 [ ] STREAM CONNECTED %d %s\n", s.ehConnIno-1, pid(s.childPID, "connector"))
	}
	fmt.Fprintf(&b, "unix 2 [ ACC ] STREAM LISTENING 16077 %s /ngfw/var/sf/run/sfmb.sock\n", pid(1000+(d.index*37)%800+3382, "sfmbservice"))
	fmt.Fprintf(&b, "unix 2 [ ] DGRAM 12931 %s /dev/log\n", pid(1120, "syslog-ng"))
	return b.String()
}

func (d *Device) connectorRegionSnap(s devSnap) string {
	if s.mismatch {
		return otherRegion(d.region)
	}
	return d.region
}

// lsof is "lsof -i" as root: the seed's connector lines, per state.
func (d *Device) lsof() string {
	s := d.snap()
	sshdPID := 1893 + d.index%500
	reg := Regions[d.connectorRegionSnap(s)]
	var b strings.Builder
	b.WriteString("COMMAND PID USER FD TYPE DEVICE SIZE/OFF NODE NAME\n")
	fmt.Fprintf(&b, "sshd %d root 3u IPv4 15531 0t0 TCP *:ssh (LISTEN)\n", sshdPID)
	fmt.Fprintf(&b, "sshd %d root 4u IPv6 15533 0t0 TCP *:ssh (LISTEN)\n", sshdPID)
	if s.conn.running {
		fmt.Fprintf(&b, "connector %d www 10u IPv4 %d 0t0 TCP localhost:8989 (LISTEN)\n", s.childPID, s.lsListen)
		switch {
		case s.egress:
			fmt.Fprintf(&b, "connector %d www 12u IPv4 %d 0t0 TCP %s:53426->%s:https (SYN_SENT)\n",
				s.childPID, synSentInode(s.lsListen), d.fqdn(), synSentPeer(reg.Name))
		case s.enrolled:
			fmt.Fprintf(&b, "connector %d www 19u IPv4 %d 0t0 TCP %s:56495->%s:https (ESTABLISHED)\n",
				s.childPID, s.lsListen+106, d.mgmtIP, sseHosts[reg.Eventing].name)
		}
	}
	fmt.Fprintf(&b, "sshd %d root 3u IPv4 %d 0t0 TCP %s:ssh->10.10.0.5:51234 (ESTABLISHED)\n", sshdPID+20311, 2301877+d.index, d.mgmtIP)
	return b.String()
}

// ps is "ps -ef"/"ps aux" with the processes that matter here.
func (d *Device) ps() string {
	s := d.snap()
	var b strings.Builder
	b.WriteString("UID PID PPID C STIME TTY TIME CMD\n")
	b.WriteString("root 1 0 0 " + s.bootedAt.Format("Jan02") + " ? 00:00:12 init [3]\n")
	fmt.Fprintf(&b, "root %d 1 0 %s ? 00:00:00 /usr/sbin/sshd\n", 1893+d.index%500, s.bootedAt.Format("Jan02"))
	fmt.Fprintf(&b, "root %d 1 2 %s ? 03:11:45 /ngfw/usr/local/sf/bin/EventHandler\n", s.ehPID, s.bootedAt.Format("Jan02"))
	if s.conn.running {
		fmt.Fprintf(&b, "root %d 1 0 %s ? 00:00:00 /usr/local/sf/bin/sfmon SSEConnector\n", s.pmPID, s.bootedAt.Format("Jan02"))
		fmt.Fprintf(&b, "www %d %d 0 %s ? 00:04:31 /ngfw/usr/local/sf/bin/connector\n", s.childPID, s.pmPID, s.bootedAt.Format("Jan02"))
	}
	return b.String()
}

// localAPI is the connector's answer to GET /v1/contexts/default.
func (d *Device) localAPI(s devSnap) string {
	type clientInfo struct {
		Name    string `json:"name"`
		GUID    string `json:"guid"`
		Version string `json:"version"`
		Type    string `json:"type"`
		IP      string `json:"ip"`
	}
	type registration struct {
		RefreshInterval int `json:"refreshInterval"`
	}
	type exchange struct {
		FQDN         string        `json:"fqdn"`
		Registration *registration `json:"registration,omitempty"`
	}
	type settings struct {
		Exchange exchange `json:"exchange"`
	}
	type status struct {
		State  string `json:"state"`
		Since  string `json:"since,omitempty"`
		Reason string `json:"reason,omitempty"`
	}
	body := struct {
		ClientInfo clientInfo `json:"clientInfo"`
		Settings   settings   `json:"settings"`
		Status     status     `json:"status"`
	}{
		ClientInfo: clientInfo{Name: d.hostname, GUID: d.uuid(), Version: d.rel.version,
			Type: strings.ToUpper(d.kind.InventoryKind()), IP: d.mgmtIP},
		Settings: settings{Exchange: exchange{FQDN: Regions[d.connectorRegionSnap(s)].API}},
	}
	if s.enrolled {
		body.Settings.Exchange.Registration = &registration{RefreshInterval: 180}
		body.Status = status{State: "Enrolled", Since: s.enrolledAt.Format(time.RFC3339)}
	} else {
		body.Status = status{State: "Not Enrolled", Reason: "no registration token"}
	}
	out, _ := json.Marshal(body)
	return string(out) + "\n"
}

// synSentInode keeps the seed's pair (LISTEN 3022789647, SYN_SENT
// 110237499) for devices that started egress-blocked.
func synSentInode(listen int64) int64 {
	const seedListen, seedSyn = 3022789647, 110237499
	if listen >= seedListen {
		return seedSyn + (listen - seedListen)
	}
	return listen + 84
}
