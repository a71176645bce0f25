// Package inventory owns the device inventory in PostgreSQL: devices, the
// sites and credential references they point at, and pinned SSH host keys;
// the CSV/YAML importer with its all-or-nothing validation; and the host-key
// store the runner consults before sending anything to a device.
//
// API:
//
//	type Kind string; KindFMC = "fmc", KindFTD = "ftd"
//	type Device struct {ID, Name string; Kind Kind; Site, Address, Credential string;
//	                    Tags map[string]string; ManagedBy string; CreatedAt, UpdatedAt time.Time}
//	  JSON: id,name,kind,site,address,credential,tags,managed_by,created_at,updated_at
//	  (Device) SSHAddr() string   // host:port, port 22 when the address has none
//	type Site struct {Name, Region, Timezone, HostKeyPolicy string; Devices int}   // Devices filled by ListSites
//	type CredentialRef struct {Name, Username string; Methods []string}          // never a secret
//	type Catalog struct {Sites []Site; Credentials []CredentialRef}              // what rows may name
//	(internal/app.InventoryCatalog builds the Catalog from fleetd's config)
//
//	NewStore(pool *pgxpool.Pool, cat Catalog, log *zap.Logger) *Store
//	(*Store) SyncCatalog(ctx) (stale []string, err error)  // upsert sites+credentials from the catalog; call at start
//	                                                       // (writes also do it once lazily); stale = names no longer in
//	                                                       // config but still used by devices
//	(*Store) ListSites(ctx) ([]Site, error)
//	(*Store) List(ctx, f Filter) ([]Device, error)        // Filter{Site string; Kind Kind; Tags map[string]string; Names []string; After string; Limit int}
//	(*Store) Get(ctx, name) (Device, error)                // ErrNotFound
//	(*Store) Add(ctx, actor string, d Device) (Device, error)                   // *ValidationError, ErrExists
//	(*Store) Update(ctx, actor string, d Device) (Device, []FieldChange, error) // *ValidationError, ErrNotFound
//	(*Store) Delete(ctx, actor, name string) error                              // ErrNotFound
//	(*Store) ImportFile(ctx, actor, filename string, data []byte, dryRun bool) (Plan, error)
//	(*Store) Import(ctx, actor string, rows []Row, dryRun bool) (Plan, error)
//
//	Parse(filename string, data []byte, cat Catalog) ([]Row, error)   // pure: every bad row -> *ValidationError
//	DetectFormat(filename string, data []byte) Format                // FormatCSV | FormatYAML (extension, else content)
//	ValidateDevice(d Device, cat Catalog) error                      // *ValidationError with Line 0
//	type Row struct {Line int; Device Device; HasTags, HasManagedBy bool}  // absent optional columns keep stored values
//	type ValidationError struct {File string; Problems []Problem; Total int}    // JSON: {"file","problems","total"}
//	  Problems: the first MaxProblems (100) in file order; Total/Count(): how many were found.
//	Rows are also checked against the catalog's Site.AllowedNetworks (a literal IP outside: address
//	problem; host names are checked by the runner at connect time) and CredentialRef.Sites.
//	type Problem struct {Line int; Field, Message string}            // JSON: {"line","field","message"}
//	type Plan struct {DryRun bool; Added []Device; Changed []Change; Unchanged []string}
//	  JSON: {"dry_run","added","changed","unchanged"}
//	type Change struct {Device string; Fields []FieldChange}         // JSON: {"device","fields"}
//	type FieldChange struct {Field, Old, New string}                 // JSON: {"field","old","new"}; tags as "k=v;k=v"
//
//	Host keys:
//	type HostKeyState string; StatePending, StatePinned, StateMismatch
//	type HostKey struct {Device, Site, KeyType, Fingerprint, PublicKey string; State HostKeyState; Address string;
//	                     SeenCount int64; FirstSeen, LastSeen time.Time; PinnedBy string; PinnedAt *time.Time}
//	  JSON: device,site,key_type,fingerprint,public_key (authorized_keys form),state,address,seen_count,
//	        first_seen,last_seen,pinned_by,pinned_at
//	(*Store) ListHostKeys(ctx, f HostKeyFilter) ([]HostKey, error)   // HostKeyFilter{State HostKeyState; Site, Device string}
//	(*Store) AcceptHostKeys(ctx, by Accepter, sel AcceptSelector) (AcceptResult, error)
//	  Accepter{Name string; Approver bool}   // Approver: role approver or admin
//	  Two-person rule: a mismatch candidate, or a pending one of a device whose address changed after it
//	  was added (devices.address_set_by/at, set by Add, Update and import), needs Approver and a Name other
//	  than address_set_by (strings.EqualFold) -> *AcceptRefusedError{Refused []Skipped} (wraps
//	  ErrTwoPersonRule), nothing accepted, each refusal audited (hostkey.accept_refused).
//	  AllPending skips such devices.
//	  AcceptSelector{Devices []string; AllPending bool; Site string}
//	  AcceptResult{Accepted []HostKey; Skipped []Skipped{Device, Reason}}   JSON: accepted, skipped
//	  Named devices: all-or-nothing (error if a name has no candidate or several different keys pending);
//	  a device's mismatch candidate can be accepted by name (re-imaged device), replacing its pinned key.
//	  AllPending: every device with exactly one pending key (in Site, if given); others are Skipped.
//	(*Store) CheckHostKey(ctx, device, addr string, key ssh.PublicKey, policy string) error   // "strict" | "tofu" | "" (= strict)
//	  pinned+equal -> nil; none pinned + strict -> recorded pending, ErrHostKeyUnknown;
//	  none pinned + tofu -> pinned (audited), nil; pinned+different -> recorded mismatch (audited), ErrHostKeyMismatch.
//	  Safe when several workers see the same key at once. Unknown device -> ErrNotFound.
//	(*Store) PinnedHostKey(ctx, device) (ssh.PublicKey, error)    // nil, nil when none pinned
//	*Store implements runner.PinnedHostKeyLookup; internal/targets adapts CheckHostKey to runner.HostKeyStore.
//	PolicyStrict, PolicyTOFU = "strict", "tofu"
//
// Errors: ErrNotFound, ErrExists, *ValidationError; ErrHostKeyUnknown and
// ErrHostKeyMismatch are runner.ErrHostKeyUnknown / runner.ErrHostKeyMismatch.
package inventory
