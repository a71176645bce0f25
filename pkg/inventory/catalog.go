package inventory

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
)

// Site is a site as the database knows it (synced from config).
type Site struct {
	Name          string `json:"name"`
	Region        string `json:"region"`
	Timezone      string `json:"timezone"`
	HostKeyPolicy string `json:"hostkey_policy"`
	Devices       int    `json:"devices"` // filled by ListSites
	// AllowedNetworks: an address outside them is refused (empty: anywhere).
	AllowedNetworks []netip.Prefix `json:"-"`
}

// CredentialRef is a credential's name and where its secrets come from —
// never a secret.
type CredentialRef struct {
	Name     string   `json:"name"`
	Username string   `json:"username"`
	Methods  []string `json:"methods"` // config key names, e.g. ["password_env"]
	// Sites that may use the credential (empty: every site).
	Sites []string `json:"-"`
}

// Catalog is what inventory rows may name: the sites and credentials of
// fleetd's config (internal/app.InventoryCatalog translates it).
type Catalog struct {
	Sites       []Site
	Credentials []CredentialRef
	// JumpChains are the chain names a device's jump=NAME tag may name
	// (besides "none").
	JumpChains []string
}

// catIndex answers "is this name configured" for every row of a large file.
type catIndex struct {
	sites, creds, jumps            map[string]bool
	siteList, credsList, jumpsList string
	nets                           map[string][]netip.Prefix // site -> allowed networks (absent: anywhere)
	credSites                      map[string][]string       // credential -> sites that may use it (absent: any)
}

func (c Catalog) index() catIndex {
	ix := catIndex{sites: map[string]bool{}, creds: map[string]bool{}}
	var sn, cn []string
	ix.nets, ix.credSites = map[string][]netip.Prefix{}, map[string][]string{}
	for _, s := range c.Sites {
		ix.sites[s.Name] = true
		sn = append(sn, s.Name)
		if len(s.AllowedNetworks) > 0 {
			ix.nets[s.Name] = s.AllowedNetworks
		}
	}
	for _, cr := range c.Credentials {
		ix.creds[cr.Name] = true
		cn = append(cn, cr.Name)
		if len(cr.Sites) > 0 {
			ix.credSites[cr.Name] = cr.Sites
		}
	}
	ix.siteList, ix.credsList = joinOrNone(sn), joinOrNone(cn)
	ix.jumps = map[string]bool{JumpNone: true}
	for _, j := range c.JumpChains {
		ix.jumps[j] = true
	}
	ix.jumpsList = strings.Join(append([]string{JumpNone}, c.JumpChains...), ", ")
	return ix
}

func joinOrNone(names []string) string {
	if len(names) == 0 {
		return "none configured"
	}
	return strings.Join(names, ", ")
}

// checkNetworks refuses a literal IP outside the site's allowed networks. A
// host name cannot be judged here: the runner resolves it at connect time
// and checks every address before dialing.
func (ix catIndex) checkNetworks(site, address string) error {
	nets, ok := ix.nets[site]
	if !ok {
		return nil
	}
	host, _, err := net.SplitHostPort(Device{Address: address}.SSHAddr())
	if err != nil {
		return nil // CheckAddress reports it
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return nil // a host name
	}
	ip = ip.Unmap()
	for _, n := range nets {
		if n.Contains(ip) {
			return nil
		}
	}
	return fmt.Errorf("%s is outside site %s's allowed_networks (%s)", ip, site, prefixList(nets))
}

// checkCredentialSite refuses a credential the device's site may not use.
func (ix catIndex) checkCredentialSite(cred, site string) error {
	sites, ok := ix.credSites[cred]
	if !ok || slices.Contains(sites, site) {
		return nil
	}
	return fmt.Errorf("credential %q may not be used by site %q (credentials.%s.sites: %s)", cred, site, cred, strings.Join(sites, ", "))
}

func prefixList(nets []netip.Prefix) string {
	s := make([]string, len(nets))
	for i, n := range nets {
		s[i] = n.String()
	}
	return strings.Join(s, ", ")
}
