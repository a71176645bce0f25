package remediate

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

var (
	goldenID = uuid.MustParse("11111111-2222-3333-4444-555555555555")
	goldenA  = Device{ID: uuid.MustParse("aaaaaaaa-0000-0000-0000-000000000001"), Name: "ftd-a", Site: "emea", Kind: "ftd",
		Address: "127.0.1.11:22", Credential: "lab", HostKey: "SHA256:aaa"}
	goldenB = Device{ID: uuid.MustParse("aaaaaaaa-0000-0000-0000-000000000002"), Name: "ftd-b", Site: "emea", Kind: "ftd",
		Address: "127.0.1.12:22", Credential: "lab", HostKey: "SHA256:bbb"}
	goldenAt = time.Date(2031, 3, 9, 2, 30, 0, 0, time.UTC)
)

// TestParamsV1StaysComputable pins the version-1 hashes as the code before
// frozen identities computed them: a request approved then must still
// verify (and is then refused by name, not as tampered).
func TestParamsV1StaysComputable(t *testing.T) {
	h := paramsHash(paramsVersionLegacy, goldenID, ActionRestartConnector, "ops1", "INC-1",
		Selector{Devices: []string{"ftd-a", "ftd-b"}}, []Device{goldenA, goldenB}, ScheduleAt, &goldenAt, 10, 0)
	require.Equal(t, "637f7e64be2f73b30dca792d41abfebe036b666825b2a9e6ac6f28cdf9940797", h)
	h = paramsHash(paramsVersionLegacy, goldenID, ActionReboot, "ops1", "", Selector{Site: "emea"},
		[]Device{goldenA}, ScheduleWindow, nil, 5, 2)
	require.Equal(t, "69be2855783b959220515226039bd854cd77340706eaac66753ede24277fa836", h)
}

// TestParamsV2CoversIdentity: every frozen identity field is in the hash.
func TestParamsV2CoversIdentity(t *testing.T) {
	hash := func(d Device) string {
		return paramsHash(paramsVersion, goldenID, ActionRestartConnector, "ops1", "INC-1",
			Selector{Devices: []string{"ftd-a"}}, []Device{d}, ScheduleAt, &goldenAt, 10, 0)
	}
	base := hash(goldenA)
	require.NotEqual(t, base, paramsHash(paramsVersionLegacy, goldenID, ActionRestartConnector, "ops1", "INC-1",
		Selector{Devices: []string{"ftd-a"}}, []Device{goldenA}, ScheduleAt, &goldenAt, 10, 0))
	for name, change := range map[string]func(d *Device){
		"id":         func(d *Device) { d.ID = uuid.MustParse("bbbbbbbb-0000-0000-0000-000000000001") },
		"address":    func(d *Device) { d.Address = "127.0.1.99:22" },
		"credential": func(d *Device) { d.Credential = "other" },
		"host key":   func(d *Device) { d.HostKey = "SHA256:zzz" },
		"kind":       func(d *Device) { d.Kind = "fmc" },
	} {
		d := goldenA
		change(&d)
		require.NotEqual(t, base, hash(d), name)
	}
}

func TestIdentityChangesInWords(t *testing.T) {
	live := LiveDevice{ID: goldenA.ID, Name: goldenA.Name, Site: goldenA.Site, Kind: goldenA.Kind,
		Address: goldenA.Address, Credential: goldenA.Credential, HostKey: goldenA.HostKey}
	require.Empty(t, identityChanges(goldenA, &live))
	require.Equal(t, []string{"deleted from the inventory (id aaaaaaaa…)"}, identityChanges(goldenA, nil))
	readded := live
	readded.ID, readded.Address, readded.HostKey = uuid.MustParse("bbbbbbbb-0000-0000-0000-000000000001"), "127.0.1.99:22", "SHA256:bbb"
	require.Equal(t, []string{"id aaaaaaaa… → bbbbbbbb… (deleted and re-added)", "address 127.0.1.11:22 → 127.0.1.99:22",
		"host key SHA256:aaa → SHA256:bbb"}, identityChanges(goldenA, &readded))
	unpinned := live
	unpinned.HostKey = ""
	require.Equal(t, []string{"host key SHA256:aaa → (none)"}, identityChanges(goldenA, &unpinned))
}
