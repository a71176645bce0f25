package inventory

import (
	"sort"
	"strings"

	"github.com/fleetd/fleetd/internal/config"
)

// Site is a site as the database knows it (synced from config).
type Site struct {
	Name          string `json:"name"`
	Region        string `json:"region"`
	Timezone      string `json:"timezone"`
	HostKeyPolicy string `json:"hostkey_policy"`
	Devices       int    `json:"devices"` // filled by ListSites
}

// CredentialRef is a credential's name and where its secrets come from —
// never a secret.
type CredentialRef struct {
	Name     string   `json:"name"`
	Username string   `json:"username"`
	Methods  []string `json:"methods"` // config key names, e.g. ["password_env"]
}

// Catalog is what inventory rows may name: the sites and credentials of
// fleetd's config.
type Catalog struct {
	Sites       []Site
	Credentials []CredentialRef
	// JumpChains are the chain names a device's jump=NAME tag may name
	// (besides "none").
	JumpChains []string
}

// CatalogFromConfig lists the configured sites and credentials, sorted by name.
func CatalogFromConfig(cfg config.Config) Catalog {
	var cat Catalog
	for _, name := range cfg.SiteNames() {
		s := cfg.Sites[name]
		cat.Sites = append(cat.Sites, Site{Name: name, Region: s.Region, Timezone: s.Timezone, HostKeyPolicy: s.HostKeyPolicy})
	}
	for _, name := range cfg.CredentialNames() {
		c := cfg.Credentials[name]
		cat.Credentials = append(cat.Credentials, CredentialRef{Name: name, Username: c.Username, Methods: c.Methods()})
	}
	for name := range cfg.JumpChains {
		cat.JumpChains = append(cat.JumpChains, name)
	}
	sort.Strings(cat.JumpChains)
	return cat
}

// catIndex answers "is this name configured" for every row of a large file.
type catIndex struct {
	sites, creds, jumps            map[string]bool
	siteList, credsList, jumpsList string
}

func (c Catalog) index() catIndex {
	ix := catIndex{sites: map[string]bool{}, creds: map[string]bool{}}
	var sn, cn []string
	for _, s := range c.Sites {
		ix.sites[s.Name] = true
		sn = append(sn, s.Name)
	}
	for _, cr := range c.Credentials {
		ix.creds[cr.Name] = true
		cn = append(cn, cr.Name)
	}
	ix.siteList, ix.credsList = joinOrNone(sn), joinOrNone(cn)
	ix.jumps = map[string]bool{config.JumpNone: true}
	for _, j := range c.JumpChains {
		ix.jumps[j] = true
	}
	ix.jumpsList = strings.Join(append([]string{config.JumpNone}, c.JumpChains...), ", ")
	return ix
}

func joinOrNone(names []string) string {
	if len(names) == 0 {
		return "none configured"
	}
	return strings.Join(names, ", ")
}
