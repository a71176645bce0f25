package sim

import (
	"fmt"
	"strings"
	"time"
)

// Kind is what sort of box a simulated device is; it decides where a login
// lands and which prompts follow (docs/firepower.md §4).
type Kind string

// The kinds of device the simulator plays.
const (
	// KindFTD is an FTD on a 1000/2100/3100 appliance or a virtual FTD:
	// login lands in clish ">".
	KindFTD Kind = "ftd"
	// KindFMC7 is an FMC 7.x: login lands in clish ">" like an FTD.
	KindFMC7 Kind = "fmc7"
	// KindFMC6 is an FMC 6.x: login lands directly in bash (admin@host:~$).
	KindFMC6 Kind = "fmc6"
	// KindFXOS is an FTD on a 4100/9300 chassis: login lands at the FXOS
	// prompt "host#"; "connect module 1 console" gives "Firepower-module1>"
	// and "connect ftd" gives the FTD clish ">".
	KindFXOS Kind = "fxos"
)

// ParseKind accepts ftd, fmc7, fmc6, fxos (and fmc as fmc7).
func ParseKind(s string) (Kind, error) {
	switch k := Kind(strings.ToLower(strings.TrimSpace(s))); k {
	case KindFTD, KindFMC7, KindFMC6, KindFXOS:
		return k, nil
	case "fmc":
		return KindFMC7, nil
	}
	return "", fmt.Errorf("unknown device kind %q (want ftd, fmc7, fmc6 or fxos)", s)
}

// InventoryKind is the kind column of the inventory import format: fmc or ftd.
func (k Kind) InventoryKind() string {
	if k == KindFMC6 || k == KindFMC7 {
		return "fmc"
	}
	return "ftd"
}

// Region is one row of the SSE endpoint table (docs/firepower.md §2).
type Region struct {
	Name, API, EST, MX, DEX, Eventing string
}

// Regions is the default region table, as in contracts-internal.md.
var Regions = map[string]Region{
	"us":  {"us", "api-sse.cisco.com", "est.sco.cisco.com", "mx01.sse.itd.cisco.com", "dex.sse.itd.cisco.com", "eventing-ingest.sse.itd.cisco.com"},
	"eu":  {"eu", "api.eu.sse.itd.cisco.com", "est.sco.cisco.com", "mx01.eu.sse.itd.cisco.com", "dex.eu.sse.itd.cisco.com", "eventing-ingest.eu.sse.itd.cisco.com"},
	"apj": {"apj", "api.apj.sse.itd.cisco.com", "est.sco.cisco.com", "mx01.apj.sse.itd.cisco.com", "dex.apj.sse.itd.cisco.com", "eventing-ingest.apj.sse.itd.cisco.com"},
}

// SiteRegion maps a lab site to its SSE region: emea → eu, amer → us,
// apjc → apj, anything else → us.
func SiteRegion(site string) string {
	switch strings.ToLower(site) {
	case "emea":
		return "eu"
	case "apjc":
		return "apj"
	}
	return "us"
}

// otherRegion is where a region-mismatch device points its connector.
func otherRegion(r string) string {
	if r == "us" {
		return "eu"
	}
	return "us"
}

// The device clocks' zones, made once: time.FixedZone allocates, and
// connector.log converts every line's timestamp (issue 15).
var (
	zoneCET = time.FixedZone("CET", 3600)
	zoneSGT = time.FixedZone("SGT", 8*3600)
	zoneCDT = time.FixedZone("CDT", -5*3600)
)

// siteZone is the device clock's zone per site; connector.log is written in
// local time like the seed's "-05:00".
func siteZone(site string) *time.Location {
	switch strings.ToLower(site) {
	case "emea":
		return zoneCET
	case "apjc":
		return zoneSGT
	}
	return zoneCDT
}

// hostAddr is what DNS gives for the SSE hosts on the simulated network,
// and the reverse name lsof prints for the eventing peer. The us eventing
// values are the seed's (docs/firepower.md §3).
type hostAddr struct {
	ip   string
	name string // lsof reverse name
}

var sseHosts = map[string]hostAddr{
	"api-sse.cisco.com":                     {"52.4.85.66", "ec2-52-4-85-66.compute-1.amazonaws.com"},
	"est.sco.cisco.com":                     {"146.112.59.25", "est.sco.cisco.com"},
	"mx01.sse.itd.cisco.com":                {"3.225.164.101", "ec2-3-225-164-101.compute-1.amazonaws.com"},
	"dex.sse.itd.cisco.com":                 {"34.198.53.19", "ec2-34-198-53-19.compute-1.amazonaws.com"},
	"eventing-ingest.sse.itd.cisco.com":     {"18.205.49.246", "ec2-35-172-147-246.compute-1.amazonaws.com"},
	"api.eu.sse.itd.cisco.com":              {"3.121.6.180", "ec2-3-121-6-180.eu-central-1.compute.amazonaws.com"},
	"mx01.eu.sse.itd.cisco.com":             {"18.156.145.62", "ec2-18-156-145-62.eu-central-1.compute.amazonaws.com"},
	"dex.eu.sse.itd.cisco.com":              {"3.120.43.19", "ec2-3-120-43-19.eu-central-1.compute.amazonaws.com"},
	"eventing-ingest.eu.sse.itd.cisco.com":  {"18.184.211.36", "ec2-18-184-211-36.eu-central-1.compute.amazonaws.com"},
	"api.apj.sse.itd.cisco.com":             {"13.230.44.140", "ec2-13-230-44-140.ap-northeast-1.compute.amazonaws.com"},
	"mx01.apj.sse.itd.cisco.com":            {"52.192.58.93", "ec2-52-192-58-93.ap-northeast-1.compute.amazonaws.com"},
	"dex.apj.sse.itd.cisco.com":             {"54.65.12.201", "ec2-54-65-12-201.ap-northeast-1.compute.amazonaws.com"},
	"eventing-ingest.apj.sse.itd.cisco.com": {"13.113.2.77", "ec2-13-113-2-77.ap-northeast-1.compute.amazonaws.com"},
}

// synSentPeer is the peer an egress-blocked connector is stuck dialling in
// lsof; for us it is the seed's line verbatim.
func synSentPeer(region string) string {
	switch region {
	case "eu":
		return "ec2-18-184-211-36.eu-central-1.compute.amazonaws.com"
	case "apj":
		return "ec2-13-113-2-77.ap-northeast-1.compute.amazonaws.com"
	}
	return "ec2-100-25-93-234.compute-1.amazonaws.com"
}

// model is a hardware/virtual platform.
type model struct {
	tag      string // inventory tag model=<tag>
	name     string // as in the login banner, e.g. "Cisco Firepower 1120 Threat Defense"
	code     int    // the number in brackets in "show version"
	virtual  bool   // virtual platforms show "Cisco Fire Linux OS" in the banner
	chassis  bool   // 4100/9300
	fmcModel bool
}

var (
	ftdModels = []model{
		{tag: "1120", name: "Cisco Firepower 1120 Threat Defense", code: 77},
		{tag: "1010", name: "Cisco Firepower 1010 Threat Defense", code: 78},
		{tag: "2130", name: "Cisco Firepower 2130 Threat Defense", code: 76},
		{tag: "3110", name: "Cisco Secure Firewall 3110 Threat Defense", code: 80},
		{tag: "ftdv", name: "Cisco Firepower Threat Defense for VMWare", code: 75, virtual: true},
	}
	fxosModels = []model{
		{tag: "4110", name: "Cisco Firepower 4110 Threat Defense", code: 76, chassis: true},
		{tag: "9300", name: "Cisco Firepower 9000 Series SM-40 Threat Defense", code: 76, chassis: true},
	}
	fmc7Models = []model{
		{tag: "fmcv300", name: "Cisco Secure Firewall Management Center for VMWare 300", code: 66, virtual: true, fmcModel: true},
		{tag: "fmc1600", name: "Cisco Secure Firewall Management Center 1600", code: 66, fmcModel: true},
	}
	fmc6Models = []model{
		{tag: "fmcv", name: "Cisco Firepower Management Center for VMWare", code: 66, virtual: true, fmcModel: true},
		{tag: "fmc1600", name: "Cisco Firepower Management Center 1600", code: 66, fmcModel: true},
	}
)

func modelsFor(k Kind) []model {
	switch k {
	case KindFXOS:
		return fxosModels
	case KindFMC7:
		return fmc7Models
	case KindFMC6:
		return fmc6Models
	}
	return ftdModels
}

// release is a software version with the numbers that appear with it.
type release struct {
	version  string // 6.4.0.9
	build    int    // 62
	osBuild  int    // Fire Linux OS build
	fxos     string // FX-OS shipped with it on 1000/2100/3100
	curl     string // curl version on that release
	vdb      int
	rulesVer string
}

var releases = []release{
	{"6.4.0", 102, 2, "2.6.1 (build 131)", "7.58.0", 309, "2019-03-14-001-vrt"},
	{"6.4.0.9", 62, 2, "2.6.1 (build 131)", "7.58.0", 322, "2020-03-03-001-vrt"},
	{"6.5.0.4", 57, 3, "2.7.1 (build 106)", "7.58.0", 325, "2020-04-21-001-vrt"},
	{"6.6.5", 81, 3, "2.8.1 (build 125)", "7.65.1", 346, "2021-08-09-001-vrt"},
	{"6.7.0.3", 105, 4, "2.9.1 (build 131)", "7.65.1", 338, "2021-02-15-001-vrt"},
	{"7.0.1", 84, 6, "2.10.1 (build 159)", "7.69.1", 346, "2021-09-08-001-vrt"},
	{"7.0.6", 236, 6, "2.10.1 (build 208)", "7.69.1", 365, "2023-05-03-001-vrt"},
	{"7.1.0.3", 108, 7, "2.11.1 (build 154)", "7.69.1", 358, "2022-11-07-001-vrt"},
	{"7.2.5", 208, 9, "2.12.0 (build 499)", "7.79.1", 365, "2023-07-12-001-vrt"},
	{"7.3.1", 19, 9, "2.13.0 (build 198)", "7.79.1", 362, "2023-02-27-001-vrt"},
	{"7.4.1", 172, 12, "2.14.1 (build 131)", "7.88.1", 370, "2024-01-10-001-vrt"},
	{"7.4.2", 172, 12, "2.14.1 (build 167)", "7.88.1", 376, "2024-08-21-001-vrt"},
}

// releasesFor lists the releases a kind can run in a region: FMC 6.x only
// 6.x, FMC 7.x only 7.x, and 6.4 only in the US cloud (the others need 6.5+).
func releasesFor(k Kind, region string) []*release {
	var out []*release
	for i := range releases {
		r := &releases[i]
		major := r.version[0]
		if k == KindFMC6 && major != '6' || k == KindFMC7 && major != '7' {
			continue
		}
		if region != "us" && strings.HasPrefix(r.version, "6.4") {
			continue
		}
		out = append(out, r)
	}
	return out
}

func findRelease(v string) *release {
	for i := range releases {
		if releases[i].version == v {
			return &releases[i]
		}
	}
	return nil
}

func findModel(k Kind, tag string) *model {
	ms := modelsFor(k)
	for i := range ms {
		if ms[i].tag == tag {
			return &ms[i]
		}
	}
	return nil
}
