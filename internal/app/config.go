package app

import (
	"sort"

	"github.com/fleetd/fleetd/internal/config"
	"github.com/fleetd/fleetd/pkg/inventory"
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
