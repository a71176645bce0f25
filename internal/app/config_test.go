package app

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fleetd/fleetd/internal/config"
	"github.com/fleetd/fleetd/pkg/inventory"
)

func TestInventoryCatalogOfExampleConfig(t *testing.T) {
	t.Parallel()
	cfg, err := config.Load("../../config/fleetd.example.yaml")
	require.NoError(t, err)
	// The catalog of config/fleetd.example.yaml (pkg/inventory's tests use the same one).
	require.Equal(t, inventory.Catalog{
		Sites: []inventory.Site{
			{Name: "amer", Region: "us", Timezone: "America/New_York", HostKeyPolicy: "strict"},
			{Name: "apjc", Region: "apj", Timezone: "Asia/Singapore", HostKeyPolicy: "strict"},
			{Name: "emea", Region: "eu", Timezone: "Europe/Amsterdam", HostKeyPolicy: "strict"},
		},
		Credentials: []inventory.CredentialRef{{Name: "lab", Username: "admin", Methods: []string{"password_env"}}},
	}, InventoryCatalog(cfg))
}
