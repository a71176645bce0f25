package inventory

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// labCatalog is the catalog of config/fleetd.example.yaml.
func labCatalog() Catalog {
	return Catalog{
		Sites: []Site{
			{Name: "amer", Region: "us", Timezone: "America/New_York", HostKeyPolicy: "strict"},
			{Name: "apjc", Region: "apj", Timezone: "Asia/Singapore", HostKeyPolicy: "strict"},
			{Name: "emea", Region: "eu", Timezone: "Europe/Amsterdam", HostKeyPolicy: "strict"},
		},
		Credentials: []CredentialRef{{Name: "lab", Username: "admin", Methods: []string{"password_env"}}},
	}
}

func problemsOf(t *testing.T, err error) []string {
	t.Helper()
	var ve *ValidationError
	require.True(t, errors.As(err, &ve), "want *ValidationError, got %v", err)
	out := make([]string, len(ve.Problems))
	for i, p := range ve.Problems {
		out[i] = p.String()
	}
	return out
}

func TestParseExampleFiles(t *testing.T) {
	t.Parallel()
	csvData, err := os.ReadFile("../../config/inventory.example.csv")
	require.NoError(t, err)
	yamlData, err := os.ReadFile("../../config/inventory.example.yaml")
	require.NoError(t, err)

	fromCSV, err := Parse("inventory.example.csv", csvData, labCatalog())
	require.NoError(t, err)
	fromYAML, err := Parse("inventory.example.yaml", yamlData, labCatalog())
	require.NoError(t, err)

	require.Len(t, fromCSV, 9)
	require.Equal(t, Row{Line: 7, HasTags: true, HasManagedBy: true, Device: Device{
		Name: "fmc-emea-01", Kind: KindFMC, Site: "emea", Address: "127.1.0.1", Credential: "lab",
		Tags: map[string]string{"env": "lab", "role": "manager"},
	}}, fromCSV[0])
	require.Equal(t, "fmc-emea-01", fromCSV[1].Device.ManagedBy)

	// Both files describe the same devices.
	require.Len(t, fromYAML, len(fromCSV))
	for i := range fromCSV {
		require.Equal(t, fromCSV[i].Device, fromYAML[i].Device, "row %d", i)
	}
	require.Equal(t, 5, fromYAML[0].Line, "YAML rows carry the line of their mapping")
	require.False(t, fromYAML[0].HasManagedBy, "fmc rows of the YAML omit managed_by")
}

func TestParseReportsEveryBadRowWithItsLine(t *testing.T) {
	t.Parallel()
	data := strings.Join([]string{
		"name,kind,site,address,credential,tags,managed_by", // 1
		"ftd-ok-01,ftd,emea,127.1.0.1,lab,,",                // 2 fine
		"ftd-bad-kind,asa,emea,127.1.0.2,lab,,",             // 3
		"ftd-bad-site,ftd,emae,127.1.0.3,lab,,",             // 4
		"ftd;reboot,ftd,emea,127.1.0.4,lab,,",               // 5
		"ftd-bad-addr,ftd,emea,127.1.0.5:99999,lab,,",       // 6
		"ftd-bad-cred,ftd,emea,127.1.0.6,root,,",            // 7
		"ftd-ok-01,ftd,amer,127.1.0.7,lab,,",                // 8 duplicate of line 2
		"ftd-bad-tags,ftd,emea,127.1.0.8,lab,env=$(id),",    // 9
		"ftd-short,ftd,emea",                                // 10
		"# a comment line is skipped",                       // 11
		"-flag,FMC,amer,host name,lab,role,",                // 12 several problems in one row
		"",
	}, "\n")
	_, err := Parse("fleet.csv", []byte(data), labCatalog())
	require.Equal(t, []string{
		`line 3: kind: unknown kind "asa" (want fmc or ftd)`,
		`line 4: site: unknown site "emae" (known: amer, apjc, emea)`,
		`line 5: name: bad name "ftd;reboot" (1-63 letters, digits, '.', '_', '-'; starting with a letter or digit)`,
		`line 6: address: bad port "99999" in "127.1.0.5:99999" (want 1-65535)`,
		`line 7: credential: unknown credential "root" (known: lab)`,
		`line 8: name: duplicate name "ftd-ok-01" (first on line 2)`,
		`line 9: tags: bad value "$(id)" for tag "env" (1-63 letters, digits, '.', '_', '-')`,
		`line 10: 3 fields, the header has 7`,
		`line 12: name: bad name "-flag" (1-63 letters, digits, '.', '_', '-'; starting with a letter or digit)`,
		`line 12: address: not an IP address or host name: "host name"`,
		`line 12: tags: "role" is not key=value`,
	}, problemsOf(t, err))
	require.True(t, strings.HasPrefix(err.Error(), "fleet.csv: 11 problems:\n  line 3: kind:"), err.Error())
}

func TestParseYAMLProblemsUseNodeLines(t *testing.T) {
	t.Parallel()
	data := `devices:
  - name: ftd-1
    kind: ftd
    site: emea
    address: 127.1.0.1
    credential: lab
  - name: ftd-2
    kind: ftd
    site: mars
    adress: 127.1.0.2
    credential: lab
    tags:
      env: [a, b]
  - just a string
  - name: ftd-1
    kind: ftd
    site: emea
    address: 127.1.0.3
    credential: lab
    name: again
`
	_, err := Parse("fleet.yaml", []byte(data), labCatalog())
	require.Equal(t, []string{
		`line 7: address: required`,
		`line 9: site: unknown site "mars" (known: amer, apjc, emea)`,
		`line 10: adress: unknown key "adress" (keys: name, kind, site, address, credential, tags, managed_by, api_address)`,
		`line 13: tags: tag "env" must be a single value`,
		`line 14: a device must be a mapping (name: ..., kind: ...)`,
		`line 15: name: duplicate name "ftd-1" (first on line 2)`,
		`line 20: name: "name" given twice`,
	}, problemsOf(t, err))
}

func TestParseFileLevelProblems(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, file, data string
		want             []string
	}{
		{"empty", "x.csv", "", []string{`line 1: empty file (want a header: name,kind,site,address,credential,tags,managed_by,api_address)`}},
		{"header only", "x.csv", "name,kind,site,address,credential\n", []string{"line 1: no devices in file"}},
		{"no header", "x.csv", "ftd-1,ftd,emea,127.1.0.1,lab\n", []string{
			`line 1: name: missing required column "name"`,
			`line 1: kind: missing required column "kind"`,
			`line 1: site: missing required column "site"`,
			`line 1: address: missing required column "address"`,
			`line 1: credential: missing required column "credential"`,
			`line 1: ftd-1: unknown column "ftd-1" (columns: name, kind, site, address, credential, tags, managed_by, api_address; the first line must be the header)`,
			`line 1: ftd: unknown column "ftd" (columns: name, kind, site, address, credential, tags, managed_by, api_address; the first line must be the header)`,
			`line 1: emea: unknown column "emea" (columns: name, kind, site, address, credential, tags, managed_by, api_address; the first line must be the header)`,
			`line 1: 127.1.0.1: unknown column "127.1.0.1" (columns: name, kind, site, address, credential, tags, managed_by, api_address; the first line must be the header)`,
			`line 1: lab: unknown column "lab" (columns: name, kind, site, address, credential, tags, managed_by, api_address; the first line must be the header)`,
		}},
		{"unknown and duplicate columns", "x.csv", "name,kind,site,address,credential,owner,kind\n", []string{
			`line 1: kind: column "kind" given twice`,
			`line 1: owner: unknown column "owner" (columns: name, kind, site, address, credential, tags, managed_by, api_address; the first line must be the header)`,
		}},
		{"bad quoting stops reading", "x.csv", "name,kind,site,address,credential\nftd-1,ftd,emea,127.1.0.1,lab\nftd-\"2,ftd,emea,127.1.0.2,lab\n", []string{
			`line 3: CSV syntax: bare " in non-quoted-field`,
		}},
		{"yaml syntax", "x.yaml", "devices:\n  - name: [\n", []string{"line 2: YAML syntax: did not find expected node content"}},
		{"yaml unknown top key", "x.yaml", "hosts:\n  - name: a\n", []string{`line 1: hosts: unknown key "hosts" (want a list of devices, or devices: [...])`}},
		{"yaml not a list", "x.yaml", "devices: 3\n", []string{"line 1: want a list of devices (or devices: [...])"}},
		{"yaml empty", "x.yaml", "# nothing\n", []string{"line 1: no devices in file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse(tt.file, []byte(tt.data), labCatalog())
			require.Equal(t, tt.want, problemsOf(t, err))
		})
	}
}

func TestParseCSVDetails(t *testing.T) {
	t.Parallel()
	// Excel's BOM, CRLF, reordered and upper-case header, spaces, a quoted
	// multi-line field, absent optional columns, upper-case kind.
	data := "\xEF\xBB\xBFSite, Name ,KIND,address,credential\r\n" +
		"emea, ftd-a ,FTD,127.1.0.1:2222,lab\r\n" +
		"amer,\"ftd-b\",fmc,\"[2001:db8::1]:22\",lab\r\n"
	rows, err := Parse("upload", []byte(data), labCatalog())
	require.NoError(t, err)
	require.Equal(t, []Row{
		{Line: 2, Device: Device{Name: "ftd-a", Kind: KindFTD, Site: "emea", Address: "127.1.0.1:2222", Credential: "lab", Tags: map[string]string{}}},
		{Line: 3, Device: Device{Name: "ftd-b", Kind: KindFMC, Site: "amer", Address: "[2001:db8::1]:22", Credential: "lab", Tags: map[string]string{}}},
	}, rows)

	// A quoted field spanning lines: the error names the line the record starts on.
	data = "name,kind,site,address,credential,tags\nftd-1,ftd,emea,127.1.0.1,lab,\"a=b;\nc=d\"\nftd-2,ftd,nowhere,127.1.0.2,lab,\n"
	_, err = Parse("x.csv", []byte(data), labCatalog())
	require.Equal(t, []string{`line 4: site: unknown site "nowhere" (known: amer, apjc, emea)`}, problemsOf(t, err))
}

func TestDetectFormat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file, data string
		want       Format
	}{
		{"a.csv", "devices:\n", FormatCSV},
		{"a.YAML", "name,kind\n", FormatYAML},
		{"a.yml", "", FormatYAML},
		{"a.json", "[]", FormatYAML},
		{"upload", "name,kind,site,address,credential\n", FormatCSV},
		{"upload", "# comment\n\nname,kind,site,address,credential\n", FormatCSV},
		{"upload", "devices:\n  - name: a\n", FormatYAML},
		{"upload", "---\n- name: a\n", FormatYAML},
		{"upload", "[{\"name\": \"a\", \"kind\": \"ftd\"}]", FormatYAML},
		{"upload", "\xEF\xBB\xBFname,kind\n", FormatCSV},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, DetectFormat(tt.file, []byte(tt.data)), "%s %q", tt.file, tt.data)
	}
}

func TestParseJSONAndTagStrings(t *testing.T) {
	t.Parallel()
	data := `[{"name": "ftd-1", "kind": "ftd", "site": "emea", "address": "ftd-1.example.net", "credential": "lab", "tags": "b=2;a=1", "managed_by": null}]`
	rows, err := Parse("fleet.json", []byte(data), labCatalog())
	require.NoError(t, err)
	require.Equal(t, map[string]string{"a": "1", "b": "2"}, rows[0].Device.Tags)
	require.True(t, rows[0].HasManagedBy)
	require.Equal(t, "", rows[0].Device.ManagedBy)
}

func TestValidateDevice(t *testing.T) {
	t.Parallel()
	good := Device{Name: "ftd-1", Kind: KindFTD, Site: "emea", Address: "127.1.0.1", Credential: "lab"}
	require.NoError(t, ValidateDevice(good, labCatalog()))
	bad := good
	bad.Kind, bad.Credential, bad.Tags = "", "", map[string]string{"k": "v v"}
	require.Equal(t, []string{
		`kind: unknown kind "" (want fmc or ftd)`,
		`credential: required`,
		`tags: bad value "v v" for tag "k" (1-63 letters, digits, '.', '_', '-')`,
	}, problemsOf(t, ValidateDevice(bad, labCatalog())))
}

func TestTags(t *testing.T) {
	t.Parallel()
	tags, err := ParseTags(" env = lab ; role=edge;")
	require.NoError(t, err)
	require.Equal(t, map[string]string{"env": "lab", "role": "edge"}, tags)
	require.Equal(t, "env=lab;role=edge", FormatTags(tags))
	for in, want := range map[string]string{
		"a=1;a=2":                      `tag "a" given twice`,
		"a":                            `"a" is not key=value`,
		"=v":                           `bad tag key ""`,
		"a=":                           `bad value "" for tag "a"`,
		"a=b c":                        `bad value "b c"`,
		"a|b=c":                        `bad tag key "a|b"`,
		"a=`id`":                       "bad value \"`id`\"",
		"k=" + strings.Repeat("v", 64): "bad value",
	} {
		_, err := ParseTags(in)
		require.ErrorContains(t, err, want, in)
	}
}

func TestSSHAddr(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"127.1.0.7":        "127.1.0.7:22",
		"127.1.0.7:2222":   "127.1.0.7:2222",
		"ftd.example.net":  "ftd.example.net:22",
		"2001:db8::1":      "[2001:db8::1]:22",
		"[2001:db8::1]:23": "[2001:db8::1]:23",
	} {
		require.Equal(t, want, Device{Address: in}.SSHAddr(), in)
	}
}

func TestParseChecksJumpTagAgainstConfiguredChains(t *testing.T) {
	t.Parallel()
	cat := labCatalog()
	cat.JumpChains = []string{"dmz"}
	data := strings.Join([]string{
		"name,kind,site,address,credential,tags",
		"ftd-a,ftd,emea,127.1.0.1,lab,jump=dmz",
		"ftd-b,ftd,emea,127.1.0.2,lab,jump=none;role=edge",
		"ftd-c,ftd,emea,127.1.0.3,lab,jump=nowhere",
	}, "\n")
	_, err := Parse("fleet.csv", []byte(data), cat)
	var ve *ValidationError
	require.ErrorAs(t, err, &ve)
	require.Len(t, ve.Problems, 1)
	require.Equal(t, 4, ve.Problems[0].Line)
	require.Contains(t, ve.Problems[0].Message, "jump=nowhere names no chain in jump_chains (known: none, dmz)")
}
