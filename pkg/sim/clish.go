package sim

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"
)

// The Firepower CLI (clish) and the FXOS chassis CLI.

func copyrightYear(r *release) int {
	switch {
	case strings.HasPrefix(r.version, "6.4"), strings.HasPrefix(r.version, "6.5"):
		return 2019
	case strings.HasPrefix(r.version, "6."):
		return 2020
	case strings.HasPrefix(r.version, "7.0"):
		return 2021
	case strings.HasPrefix(r.version, "7.1"), strings.HasPrefix(r.version, "7.2"):
		return 2022
	case strings.HasPrefix(r.version, "7.3"):
		return 2023
	}
	return 2024
}

// platformLine is the first line of the login banner: Fire Linux on
// virtual platforms and FMCs, FX-OS on the firewall appliances.
func (d *Device) platformLine() string {
	if d.model.virtual || d.model.fmcModel {
		return fmt.Sprintf("Cisco Fire Linux OS v%s (build %d)", baseVersion(d.rel.version), d.rel.osBuild)
	}
	return fmt.Sprintf("Cisco Firepower Extensible Operating System (FX-OS) v%s", d.rel.fxos)
}

// productLine is "Cisco Firepower 1120 Threat Defense v6.4.0.9 (build 62)".
func (d *Device) productLine() string {
	return fmt.Sprintf("%s v%s (build %d)", d.model.name, d.rel.version, d.rel.build)
}

func baseVersion(v string) string {
	parts := strings.Split(v, ".")
	if len(parts) > 3 {
		parts = parts[:3]
	}
	return strings.Join(parts, ".")
}

func (d *Device) loginBanner() string {
	if d.kind == KindFXOS && !d.fleet.cfg.Exec {
		return ""
	}
	extra := ""
	if d.banner != "" {
		extra = d.banner + "\n\n"
	}
	return fmt.Sprintf("\nCopyright 2004-%d, Cisco and/or its affiliates. All rights reserved.\n"+
		"Cisco is a registered trademark of Cisco Systems, Inc.\n"+
		"All other trademarks are property of their respective owners.\n\n%s\n%s\n\n%s",
		copyrightYear(d.rel), d.platformLine(), d.productLine(), extra)
}

const fxosBanner = `Cisco Firepower Extensible Operating System (FX-OS) Software
TAC support: http://www.cisco.com/tac
Copyright (c) 2009-2019, Cisco Systems, Inc. All rights reserved.

The copyrights to certain works contained in this software are
owned by other third parties and used and distributed under
license. Certain components of this software are licensed under
the GNU General Public License (GPL) version 2.0 or the GNU
Lesser General Public License (LGPL) Version 2.1.

`

const expertNotice = `*************************** NOTICE ***************************
Shell access will be deprecated in future releases and will be
replaced with a separate expert mode CLI.
**************************************************************
`

// clishWords are the top-level commands of the FTD CLI; abbreviations
// resolve against all of them (so "ex" is ambiguous, as on a device).
var clishWords = []string{
	"capture", "capture-traffic", "clear", "configure", "cpu", "exit", "expert", "help", "history",
	"logout", "packet-tracer", "ping", "reboot", "restart", "show", "shutdown", "system", "traceroute", "upgrade",
}

var clishShowWords = []string{
	"access-control-config", "arp", "clock", "configuration", "cpu", "disk", "interface", "managers",
	"memory", "network", "running-config", "summary", "version",
}

// resolveWord completes an abbreviation against words: "" and a message
// when it is unknown or ambiguous.
func resolveWord(w string, words []string) (string, string) {
	var hits []string
	for _, c := range words {
		if c == w {
			return c, ""
		}
		if strings.HasPrefix(c, w) {
			hits = append(hits, c)
		}
	}
	switch len(hits) {
	case 0:
		return "", "Illegal command line"
	case 1:
		return hits[0], ""
	}
	return "", "Ambiguous command"
}

func (s *shell) clishSyntax(out io.Writer, msg string) int {
	// The CLI rings the bell on a rejected line.
	fmt.Fprintf(out, "\x07Syntax error: %s\n", msg)
	return 1
}

func (s *shell) clishCommand(ctx context.Context, line string, out io.Writer) int {
	words := strings.Fields(line)
	cmd, msg := resolveWord(strings.ToLower(words[0]), clishWords)
	if msg != "" {
		return s.clishSyntax(out, msg)
	}
	args := words[1:]
	switch cmd {
	case "exit", "logout":
		if len(args) > 0 {
			return s.clishSyntax(out, "Illegal parameter")
		}
		s.frames = s.frames[:len(s.frames)-1]
		return 0
	case "expert":
		if len(args) > 0 {
			return s.clishSyntax(out, "Illegal parameter")
		}
		if !s.latency(ctx, 200*time.Millisecond) {
			return 130
		}
		fmt.Fprint(out, expertNotice)
		s.frames = append(s.frames, frame{lv: lvExpert, cwd: adminHome, login: true})
		return 0
	case "help":
		fmt.Fprintln(out, "  capture-traffic  Display traffic or save to specified files\n"+
			"  clear            Clear ...\n  configure        Change to Configuration mode\n"+
			"  exit             Exit this CLI session\n  expert           Invoke a shell\n"+
			"  logout           Logout of the current CLI session\n  reboot           Reboot the sensor\n"+
			"  show             Show system information\n  system           System commands")
		return 0
	case "show":
		return s.clishShow(ctx, args, out)
	case "reboot":
		if len(args) > 0 {
			return s.clishSyntax(out, "Illegal parameter")
		}
		return s.confirmReboot(ctx, out)
	}
	if len(args) == 0 {
		return s.clishSyntax(out, "Incomplete command")
	}
	fmt.Fprintf(out, "%% '%s' is not simulated by ftdsim\n", cmd)
	return 1
}

func (s *shell) clishShow(ctx context.Context, args []string, out io.Writer) int {
	if len(args) == 0 {
		return s.clishSyntax(out, "Incomplete command")
	}
	what, msg := resolveWord(strings.ToLower(args[0]), clishShowWords)
	if msg != "" {
		if msg == "Illegal command line" {
			msg = "Illegal parameter"
		}
		return s.clishSyntax(out, msg)
	}
	if !s.latency(ctx, 150*time.Millisecond) {
		return 130
	}
	switch what {
	case "version":
		fmt.Fprint(out, s.d.showVersion())
	case "clock":
		fmt.Fprintln(out, s.d.now().Format("Mon Jan 2 15:04:05 MST 2006"))
	case "managers":
		if s.d.kind.InventoryKind() == "fmc" {
			fmt.Fprintln(out, "No managers configured.")
		} else {
			fmt.Fprintf(out, "Type                      : Manager\nHost                      : fmc-%s\nRegistration              : Completed\n\n", s.d.site)
		}
	default:
		fmt.Fprintf(out, "%% 'show %s' is not simulated by ftdsim\n", what)
		return 1
	}
	return 0
}

// showVersion is the clish "show version" block.
func (d *Device) showVersion() string {
	title := fmt.Sprintf("[ %s ]", d.hostname)
	dash := max(2, 52-len(title))
	head := strings.Repeat("-", dash/2) + title + strings.Repeat("-", dash-dash/2)
	product := d.model.name
	return fmt.Sprintf("%s\nModel                     : %s (%d) Version %s (Build %d)\n"+
		"UUID                      : %s\nRules update version      : %s\nVDB version               : %d\n%s\n",
		head, product, d.model.code, d.rel.version, d.rel.build, d.uuid(), d.rel.rulesVer, d.rel.vdb,
		strings.Repeat("-", len(head)))
}

// confirmReboot is clish "reboot" with its YES/NO question.
func (s *shell) confirmReboot(ctx context.Context, out io.Writer) int {
	fmt.Fprint(out, "This command will reboot the system.  Continue?\n")
	for {
		fmt.Fprint(out, "Please enter 'YES' or 'NO': ")
		ans, err := s.readLine(true)
		if err != nil {
			return 1
		}
		ans = strings.TrimSpace(ans)
		if ans != "" && !s.cs.noteCommand(ans) {
			return 1
		}
		switch strings.ToUpper(ans) {
		case "YES":
			s.rebootNow(out)
			return 0
		case "NO":
			return 0
		}
	}
}

// rebootNow prints what init prints, then the device goes down and takes
// this session with it.
func (s *shell) rebootNow(out io.Writer) {
	fmt.Fprintf(out, "\nBroadcast message from root@%s (pts/0) (%s):\n\nThe system is going down for reboot NOW!\n",
		s.d.hostname, s.d.now().Format("Mon Jan  2 15:04:05 2006"))
	s.d.Reboot()
	s.waitDrop()
	s.frames = nil
}

// fxosCommand is the FXOS chassis prompt "host#".
func (s *shell) fxosCommand(ctx context.Context, line string, out io.Writer) int {
	words := strings.Fields(strings.ToLower(line))
	switch {
	case words[0] == "exit" || words[0] == "logout" || words[0] == "end":
		s.frames = s.frames[:len(s.frames)-1]
		return 0
	case len(words) >= 2 && words[0] == "connect" && words[1] == "ftd":
		return s.connectFTD(ctx, out)
	case len(words) >= 3 && words[0] == "connect" && words[1] == "module":
		if !s.latency(ctx, 500*time.Millisecond) {
			return 130
		}
		fmt.Fprintf(out, "Telnet escape character is '~'.\nTrying 127.5.%s.1...\nConnected to 127.5.%s.1.\n"+
			"Escape character is '~'.\n\nCISCO Serial Over LAN:\nClose Network Connection to Exit\n\n", words[2], words[2])
		s.frames = append(s.frames, frame{lv: lvModule})
		return 0
	case len(words) >= 2 && words[0] == "show" && words[1] == "version":
		fmt.Fprintf(out, "Version: %s\nStartup-Vers: %s\n", strings.SplitN(s.d.rel.fxos, " ", 2)[0], strings.SplitN(s.d.rel.fxos, " ", 2)[0])
		return 0
	}
	fmt.Fprint(out, "                 ^\n% Invalid Command at '^' marker.\n")
	return 1
}

// moduleCommand is the security module's "Firepower-module1>" prompt.
// docs/firepower.md treats it as a clish prompt, so expert and show version
// work here too.
func (s *shell) moduleCommand(ctx context.Context, line string, out io.Writer) int {
	words := strings.Fields(strings.ToLower(line))
	if len(words) >= 2 && words[0] == "connect" && words[1] == "ftd" {
		return s.connectFTD(ctx, out)
	}
	return s.clishCommand(ctx, line, out)
}

func (s *shell) connectFTD(ctx context.Context, out io.Writer) int {
	if !s.latency(ctx, 300*time.Millisecond) {
		return 130
	}
	fmt.Fprint(out, "Connecting to ftd() console... enter exit to return to bootCLI\n")
	s.frames = append(s.frames, frame{lv: lvClish})
	return 0
}
