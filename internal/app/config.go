package app

import (
	"sort"

	"github.com/fleetd/fleetd/internal/config"
	"github.com/fleetd/fleetd/pkg/inventory"
	"github.com/fleetd/fleetd/pkg/remediate"
)

// This file is the one place where fleetd's config file (internal/config)
// is translated into the packages' own config structs. A package never sees
// config.Config; each setting's default is the file's (config.Default), and
// TestPackageDefaultsMatchFile checks the packages' own defaults agree.

// InventoryCatalog lists the configured sites and credentials, sorted by
// name: what inventory rows may name.
func InventoryCatalog(cfg config.Config) inventory.Catalog {
	var cat inventory.Catalog
	for _, name := range cfg.SiteNames() {
		s := cfg.Sites[name]
		cat.Sites = append(cat.Sites, inventory.Site{Name: name, Region: s.Region, Timezone: s.Timezone,
			HostKeyPolicy: s.HostKeyPolicy, AllowedNetworks: nilIfEmpty(s.AllowedNetworks)})
	}
	for _, name := range cfg.CredentialNames() {
		c := cfg.Credentials[name]
		cat.Credentials = append(cat.Credentials, inventory.CredentialRef{Name: name, Username: c.Username,
			Methods: c.Methods(), Sites: nilIfEmpty(c.Sites)})
	}
	for name := range cfg.JumpChains {
		cat.JumpChains = append(cat.JumpChains, name)
	}
	sort.Strings(cat.JumpChains)
	return cat
}

func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}

// RemediationSites gives remediation each site's time zone, maintenance
// window and reboot timeout.
func RemediationSites(cfg config.Config) map[string]remediate.Site {
	out := make(map[string]remediate.Site, len(cfg.Sites))
	for name, s := range cfg.Sites {
		out[name] = remediate.Site{Location: s.Location(), Window: s.MaintenanceWindow.Window(), RebootTimeout: s.RebootTimeout}
	}
	return out
}

// RemediationConfig is the request settings (remediation.*).
func RemediationConfig(cfg config.Config) remediate.Config {
	r := cfg.Remediation
	return remediate.Config{ApprovalTTL: r.ApprovalTTL, BatchSize: r.BatchSize, FailureThreshold: r.FailureThreshold,
		Sites: RemediationSites(cfg)}
}

// RemediationWorkerConfig is the execution settings: the sites; the rest
// are the package's own.
func RemediationWorkerConfig(cfg config.Config) remediate.WorkerConfig {
	return remediate.WorkerConfig{Sites: RemediationSites(cfg)}
}
