package inventory

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"go.uber.org/zap"
	"golang.org/x/crypto/ssh"

	"github.com/fleetd/fleetd/pkg/audit"
	"github.com/fleetd/fleetd/pkg/runner"
)

// HostKeyState is where a device's host key stands.
type HostKeyState string

// Host-key states.
const (
	StatePending  HostKeyState = "pending"  // seen, waiting for `fleetctl hostkey accept`
	StatePinned   HostKeyState = "pinned"   // the device's trusted key
	StateMismatch HostKeyState = "mismatch" // seen while another key is pinned
)

// Host-key policies, as in config (sites.<name>.hostkey_policy) and
// runner.HostKeyPolicy.
const (
	PolicyStrict = string(runner.HostKeyStrict)
	PolicyTOFU   = string(runner.HostKeyTOFU)
)

// PinnedHostKey lets the runner prefer the pinned key type during the handshake.
var _ runner.PinnedHostKeyLookup = (*Store)(nil)

// SystemActor is the audit actor of changes fleetd makes by itself.
const SystemActor = "fleetd"

// Key kinds: a device's SSH host key, or an FMC's REST API certificate,
// pinned and accepted the same way.
const (
	KeyKindSSH = "ssh"
	KeyKindTLS = "tls"
)

// HostKey is one key a device presented.
type HostKey struct {
	Device      string       `json:"device"`
	Site        string       `json:"site"`
	Kind        string       `json:"kind"` // ssh | tls
	KeyType     string       `json:"key_type"`
	Fingerprint string       `json:"fingerprint"`
	PublicKey   string       `json:"public_key"` // authorized_keys form; for a certificate its subject and validity
	State       HostKeyState `json:"state"`
	Address     string       `json:"address"` // where it was last presented
	SeenCount   int64        `json:"seen_count"`
	FirstSeen   time.Time    `json:"first_seen"`
	LastSeen    time.Time    `json:"last_seen"`
	PinnedBy    string       `json:"pinned_by"`
	PinnedAt    *time.Time   `json:"pinned_at"`
}

// HostKeyFilter narrows ListHostKeys.
type HostKeyFilter struct {
	Kind   string // "" = both
	State  HostKeyState
	Site   string
	Device string
}

const hostKeyColumns = `d.name, d.site, h.kind, h.key_type, h.fingerprint, h.public_key, h.state, h.address, h.seen_count,
	h.first_seen, h.last_seen, coalesce(h.pinned_by, ''), h.pinned_at`

func scanHostKey(r pgx.CollectableRow) (HostKey, error) {
	var k HostKey
	var wire []byte
	var state string
	if err := r.Scan(&k.Device, &k.Site, &k.Kind, &k.KeyType, &k.Fingerprint, &wire, &state, &k.Address, &k.SeenCount,
		&k.FirstSeen, &k.LastSeen, &k.PinnedBy, &k.PinnedAt); err != nil {
		return k, err
	}
	k.State = HostKeyState(state)
	if k.Kind == KeyKindTLS {
		k.PublicKey = describeCertificate(wire)
	} else if pk, err := ssh.ParsePublicKey(wire); err == nil {
		k.PublicKey = strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pk)))
	}
	return k, nil
}

// ListHostKeys returns host keys ordered by device, then state.
func (s *Store) ListHostKeys(ctx context.Context, f HostKeyFilter) ([]HostKey, error) {
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if f.State != "" {
		where = append(where, "h.state = "+arg(string(f.State)))
	}
	if f.Kind != "" {
		where = append(where, "h.kind = "+arg(f.Kind))
	}
	if f.Site != "" {
		where = append(where, "d.site = "+arg(f.Site))
	}
	if f.Device != "" {
		where = append(where, "d.name = "+arg(f.Device))
	}
	q := "SELECT " + hostKeyColumns + " FROM host_keys h JOIN devices d ON d.id = h.device_id"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY d.name, h.kind, h.state, h.first_seen"
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("inventory: list host keys: %w", err)
	}
	keys, err := pgx.CollectRows(rows, scanHostKey)
	if err != nil {
		return nil, fmt.Errorf("inventory: list host keys: %w", err)
	}
	return keys, nil
}

// AcceptSelector picks the keys to accept: named devices, or every device
// with a pending key (optionally within one site).
type AcceptSelector struct {
	Devices    []string `json:"devices,omitempty"`
	AllPending bool     `json:"all_pending,omitempty"`
	Site       string   `json:"site,omitempty"`
}

// Skipped is a device AllPending left alone, and why.
type Skipped struct {
	Device string `json:"device"`
	Reason string `json:"reason"`
}

// AcceptResult says what AcceptHostKeys did.
type AcceptResult struct {
	Accepted []HostKey `json:"accepted"`
	Skipped  []Skipped `json:"skipped"`
}

type candidate struct {
	id       int64
	deviceID string
	device   string
	kind     string
	state    string
	fp       string
	pinnedFP string // "" when nothing is pinned
	// Who set the device's current address and when (NULL by: unknown,
	// before migration 007), and whether that was a change after the add.
	addrSetBy      string
	addrSetAt      time.Time
	addrChangedYet bool
}

// Accepter is who accepts host keys: the token's name and whether its role
// is approver or admin. The API fills it from the authenticated identity.
type Accepter struct {
	Name     string
	Approver bool
}

// ErrTwoPersonRule: a host key that only an approver other than the person
// who set the device's address may accept.
var ErrTwoPersonRule = errors.New("host key acceptance needs another approver")

// AcceptRefusedError lists the named devices whose key the caller may not
// accept, and why; nothing was accepted. It wraps ErrTwoPersonRule.
type AcceptRefusedError struct {
	Refused []Skipped
}

func (e *AcceptRefusedError) Error() string {
	parts := make([]string, len(e.Refused))
	for i, r := range e.Refused {
		parts[i] = r.Device + ": " + r.Reason
	}
	return "host key not accepted: " + strings.Join(parts, "; ")
}

func (e *AcceptRefusedError) Unwrap() error { return ErrTwoPersonRule }

// twoPersonReason says why by may not accept c's key, or "" when it may.
//
// A key that replaces a pinned one (mismatch), or the first key of a device
// whose address was changed after it was added, is what an operator who
// moved a device to a host they control would accept: it needs the approver
// role, and not the identity that set the device's current address (names
// compared case-insensitively). First keys of devices at the address they
// were added with stay operator business.
func (c candidate) twoPersonReason(by Accepter) string {
	var why string
	switch {
	case c.pinnedFP != "":
		why = "it replaces the pinned key " + c.pinnedFP
	case c.addrChangedYet:
		why = "the device's address changed since it was added"
	default:
		return ""
	}
	setter := ""
	if c.addrSetBy != "" {
		setter = fmt.Sprintf(" (address set by %s at %s)", c.addrSetBy, c.addrSetAt.UTC().Format(time.RFC3339))
	}
	switch {
	case !by.Approver:
		return why + setter + ": needs an approver or admin token"
	case c.addrSetBy != "" && strings.EqualFold(c.addrSetBy, by.Name):
		return why + setter + ": the identity that set the address may not accept its key; another approver must"
	}
	return ""
}

// AcceptHostKeys pins the candidate key of each selected device.
//
// By name, it is all-or-nothing: every name must be a device with exactly one
// candidate (pending, or mismatch when the device was legitimately re-keyed,
// which replaces its pinned key); otherwise a *ValidationError lists each
// problem and nothing changes. With AllPending, devices with exactly one
// pending key and nothing pinned are accepted and the rest are Skipped.
func (s *Store) AcceptHostKeys(ctx context.Context, by Accepter, sel AcceptSelector) (AcceptResult, error) {
	actor := by.Name
	if (len(sel.Devices) > 0) == sel.AllPending {
		return AcceptResult{}, &ValidationError{Problems: []Problem{{Message: "give device names or all-pending, not both or neither"}}}
	}
	if len(sel.Devices) > 0 && sel.Site != "" {
		return AcceptResult{}, &ValidationError{Problems: []Problem{{Field: "site", Message: "site only narrows all-pending"}}}
	}
	res := AcceptResult{Accepted: []HostKey{}, Skipped: []Skipped{}}
	var (
		acceptedIDs  []int64
		refusedCands []candidate
	)
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var (
			rows pgx.Rows
			err  error
		)
		// Candidates and the pinned key per device, locked against a racing
		// CheckHostKey or a second accept.
		const q = `
			SELECT h.id, d.id::text, d.name, h.kind, h.state, h.fingerprint, coalesce(p.fingerprint, ''),
				coalesce(d.address_set_by, ''), d.address_set_at, d.address_set_at > d.created_at
			FROM devices d
			JOIN host_keys h ON h.device_id = d.id AND h.state <> 'pinned'
			LEFT JOIN host_keys p ON p.device_id = d.id AND p.state = 'pinned' AND p.kind = h.kind
			WHERE `
		if sel.AllPending {
			rows, err = tx.Query(ctx, q+`h.state = 'pending' AND ($1 = '' OR d.site = $1) ORDER BY d.name, h.kind, h.id FOR UPDATE OF h`, sel.Site)
		} else {
			rows, err = tx.Query(ctx, q+`d.name = ANY($1::text[]) ORDER BY d.name, h.kind, h.id FOR UPDATE OF h`, sel.Devices)
		}
		if err != nil {
			return err
		}
		cands, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (candidate, error) {
			var c candidate
			err := r.Scan(&c.id, &c.deviceID, &c.device, &c.kind, &c.state, &c.fp, &c.pinnedFP, &c.addrSetBy, &c.addrSetAt, &c.addrChangedYet)
			return c, err
		})
		if err != nil {
			return err
		}
		// A device's SSH host key and its REST certificate are decided
		// apart: candidates are grouped by device and kind.
		byDevice := map[string][]candidate{}
		kinds := map[string][]string{}
		var order []string
		for _, c := range cands {
			key := c.device + "/" + c.kind
			if _, seen := byDevice[key]; !seen {
				order = append(order, key)
				kinds[c.device] = append(kinds[c.device], key)
			}
			byDevice[key] = append(byDevice[key], c)
		}

		var chosen []candidate
		if sel.AllPending {
			for _, key := range order {
				cs := byDevice[key]
				name := cs[0].device
				if cs[0].kind != KeyKindSSH {
					name += " (" + cs[0].kind + ")"
				}
				switch {
				case len(cs) > 1:
					res.Skipped = append(res.Skipped, Skipped{Device: name, Reason: fmt.Sprintf("%d different keys pending; accept by name after checking", len(cs))})
				case cs[0].pinnedFP != "":
					res.Skipped = append(res.Skipped, Skipped{Device: name, Reason: "a key is already pinned; accept by name to replace it"})
				case cs[0].addrChangedYet:
					// Never in bulk, whoever asks: the key of a moved device
					// is a decision about that device.
					res.Skipped = append(res.Skipped, Skipped{Device: name, Reason: "the device's address changed since it was added; " +
						"accept by name (needs an approver other than " + orSomeone(cs[0].addrSetBy) + ")"})
				default:
					chosen = append(chosen, cs[0])
				}
			}
		} else {
			var probs []Problem
			known, err := s.existingNames(ctx, tx, sel.Devices)
			if err != nil {
				return err
			}
			for _, name := range sel.Devices {
				switch {
				case !known[name]:
					probs = append(probs, Problem{Field: name, Message: "no such device"})
				case len(kinds[name]) == 0:
					probs = append(probs, Problem{Field: name, Message: "no pending or mismatched key to accept"})
				}
				for _, key := range kinds[name] {
					cs := byDevice[key]
					if len(cs) > 1 {
						fps := make([]string, len(cs))
						for i, c := range cs {
							fps[i] = c.fp
						}
						probs = append(probs, Problem{Field: name, Message: "several different " + kindWord(cs[0].kind) +
							" seen (" + strings.Join(fps, ", ") + "); refusing to guess"})
						continue
					}
					chosen = append(chosen, cs[0])
				}
			}
			if len(probs) > 0 {
				return &ValidationError{Problems: probs}
			}
			var refused []Skipped
			for _, c := range chosen {
				if why := c.twoPersonReason(by); why != "" {
					refused = append(refused, Skipped{Device: c.device, Reason: why})
					refusedCands = append(refusedCands, c)
				}
			}
			if len(refused) > 0 {
				return &AcceptRefusedError{Refused: refused}
			}
		}

		var events []audit.Event
		for _, c := range chosen {
			if c.pinnedFP != "" {
				// The device was re-keyed: the old pin goes (its record stays in the audit trail).
				if _, err := tx.Exec(ctx, `DELETE FROM host_keys WHERE device_id = $1 AND state = 'pinned' AND kind = $2`, c.deviceID, c.kind); err != nil {
					return err
				}
			}
			if _, err := tx.Exec(ctx, `UPDATE host_keys SET state = 'pinned', pinned_by = $2, pinned_at = now() WHERE id = $1`, c.id, actor); err != nil {
				return err
			}
			acceptedIDs = append(acceptedIDs, c.id)
			d := map[string]any{"fingerprint": c.fp, "was": c.state, "kind": c.kind}
			if c.pinnedFP != "" {
				d["replaced"] = c.pinnedFP
			}
			if c.pinnedFP != "" || c.addrChangedYet {
				d["address_set_by"] = c.addrSetBy
				d["two_person"] = true
			}
			events = append(events, audit.Event{Actor: actor, Action: audit.ActionHostKeyAccept, TargetKind: audit.TargetDevice, Target: c.device, Details: d})
		}
		return audit.RecordMany(ctx, tx, events)
	})
	var refusal *AcceptRefusedError
	if errors.As(err, &refusal) {
		// The refusal is audited on its own: the accept's transaction rolled back.
		return AcceptResult{}, errors.Join(err, s.auditRefusals(ctx, actor, refusedCands, refusal))
	}
	if err != nil {
		var ve *ValidationError
		if errors.As(err, &ve) {
			return AcceptResult{}, err
		}
		return AcceptResult{}, fmt.Errorf("inventory: accept host keys: %w", err)
	}
	if len(acceptedIDs) > 0 {
		rows, err := s.pool.Query(ctx, "SELECT "+hostKeyColumns+" FROM host_keys h JOIN devices d ON d.id = h.device_id WHERE h.id = ANY($1) ORDER BY d.name", acceptedIDs)
		if err != nil {
			return AcceptResult{}, fmt.Errorf("inventory: accepted keys: %w", err)
		}
		if res.Accepted, err = pgx.CollectRows(rows, scanHostKey); err != nil {
			return AcceptResult{}, fmt.Errorf("inventory: accepted keys: %w", err)
		}
	}
	return res, nil
}

func (s *Store) auditRefusals(ctx context.Context, actor string, cands []candidate, refusal *AcceptRefusedError) error {
	events := make([]audit.Event, len(cands))
	for i, c := range cands {
		events[i] = audit.Event{Actor: actor, Action: audit.ActionHostKeyAcceptRefused, TargetKind: audit.TargetDevice, Target: c.device,
			Details: map[string]any{"fingerprint": c.fp, "was": c.state, "kind": c.kind, "pinned": c.pinnedFP, "address_set_by": c.addrSetBy,
				"reason": refusal.Refused[i].Reason}}
	}
	if err := audit.RecordMany(ctx, s.pool, events); err != nil {
		return fmt.Errorf("inventory: audit refused host-key accept: %w", err)
	}
	return nil
}

func orSomeone(name string) string {
	if name == "" {
		return "the one who set it"
	}
	return name
}

func (s *Store) existingNames(ctx context.Context, tx pgx.Tx, names []string) (map[string]bool, error) {
	rows, err := tx.Query(ctx, `SELECT name FROM devices WHERE name = ANY($1::text[])`, names)
	if err != nil {
		return nil, err
	}
	found, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(found))
	for _, n := range found {
		out[n] = true
	}
	return out, nil
}

// PinnedHostKey returns the device's pinned key, or nil when none is pinned
// (or the device is unknown), so the runner can prefer the pinned key type.
func (s *Store) PinnedHostKey(ctx context.Context, device string) (ssh.PublicKey, error) {
	wire, err := s.pinned(ctx, device, KeyKindSSH)
	if wire == nil || err != nil {
		return nil, err
	}
	key, err := ssh.ParsePublicKey(wire)
	if err != nil {
		return nil, fmt.Errorf("inventory: pinned host key of %s: %w", device, err)
	}
	return key, nil
}

// errRace means a concurrent CheckHostKey changed the rows between our read
// and our write; the check is simply run again against the new state.
var errRace = errors.New("host key changed concurrently")

// CheckHostKey decides whether key may be trusted for device, recording what
// it saw. It implements the runner's host-key store:
//
//   - a pinned key equal to key: nil;
//   - nothing pinned, policy strict: key recorded as pending (audited once), ErrHostKeyUnknown;
//   - nothing pinned, policy tofu: key pinned (audited), nil;
//   - a different key pinned: key recorded as mismatch (audited once), ErrHostKeyMismatch.
//
// Several workers may present the same or different keys for one device at
// once: unique indexes plus ON CONFLICT decide, and the loser re-reads.
func (s *Store) CheckHostKey(ctx context.Context, device, addr string, key ssh.PublicKey, policy string) error {
	if key == nil {
		return errors.New("inventory: check host key: nil key")
	}
	return s.checkKey(ctx, seenKey{device: device, addr: addr, kind: KeyKindSSH, keyType: key.Type(), wire: key.Marshal(),
		fp: ssh.FingerprintSHA256(key)}, policy)
}

// CheckCertificate is CheckHostKey for an FMC's REST API certificate (DER):
// the same states, policies, audit events and accept workflow, kind tls.
func (s *Store) CheckCertificate(ctx context.Context, device, addr string, der []byte, policy string) error {
	if len(der) == 0 {
		return errors.New("inventory: check certificate: no certificate")
	}
	return s.checkKey(ctx, seenKey{device: device, addr: addr, kind: KeyKindTLS, keyType: certKeyType(der), wire: der,
		fp: CertificateFingerprint(der)}, policy)
}

// PinnedCertificate returns the device's pinned REST certificate (DER), nil
// when none is pinned.
func (s *Store) PinnedCertificate(ctx context.Context, device string) ([]byte, error) {
	return s.pinned(ctx, device, KeyKindTLS)
}

// pinned returns the stored form of the device's pinned key of kind, nil
// when none is pinned (or the device is unknown).
func (s *Store) pinned(ctx context.Context, device, kind string) ([]byte, error) {
	var wire []byte
	err := s.pool.QueryRow(ctx, `
		SELECT h.public_key FROM host_keys h JOIN devices d ON d.id = h.device_id
		WHERE d.name = $1 AND h.state = 'pinned' AND h.kind = $2`, device, kind).Scan(&wire)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("inventory: pinned %s key of %s: %w", kind, device, err)
	}
	return wire, nil
}

func (s *Store) checkKey(ctx context.Context, seen seenKey, policy string) error {
	device, addr, fp := seen.device, seen.addr, seen.fp
	switch policy {
	case "", PolicyStrict, PolicyTOFU:
	default:
		return fmt.Errorf("inventory: check host key: unknown policy %q", policy)
	}
	// Fast path, the common case of every sweep: the pinned key, one round trip.
	tag, err := s.pool.Exec(ctx, `
		UPDATE host_keys h SET last_seen = now(), seen_count = h.seen_count + 1, address = $3
		FROM devices d
		WHERE d.name = $1 AND h.device_id = d.id AND h.state = 'pinned' AND h.fingerprint = $2 AND h.kind = $4`,
		device, fp, addr, seen.kind)
	if err != nil {
		return fmt.Errorf("inventory: check host key of %s: %w", device, err)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}

	var deviceID string
	err = s.pool.QueryRow(ctx, `SELECT id::text FROM devices WHERE name = $1`, device).Scan(&deviceID)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("device %q: %w", device, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("inventory: check host key of %s: %w", device, err)
	}
	seen.deviceID = deviceID
	for range 5 {
		var verdict error
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			var err error
			verdict, err = s.checkOnce(ctx, tx, seen, policy == PolicyTOFU)
			return err
		})
		var pgErr *pgconn.PgError
		if errors.Is(err, errRace) || (errors.As(err, &pgErr) && pgErr.Code == "23505") {
			continue
		}
		if err != nil {
			return fmt.Errorf("inventory: check host key of %s: %w", device, err)
		}
		return verdict
	}
	return fmt.Errorf("inventory: check host key of %s: %w (gave up after retries)", device, errRace)
}

type seenKey struct {
	deviceID, device, addr, kind, keyType, fp string
	wire                                      []byte
}

// checkOnce runs one attempt inside tx. It returns the verdict for the
// caller (nil, ErrHostKeyUnknown, ErrHostKeyMismatch) separately from err,
// so the transaction commits what it recorded even when the verdict is "no".
func (s *Store) checkOnce(ctx context.Context, tx pgx.Tx, k seenKey, tofu bool) (verdict, err error) {
	var pinnedFP string
	err = tx.QueryRow(ctx, `SELECT fingerprint FROM host_keys WHERE device_id = $1 AND state = 'pinned' AND kind = $2`, k.deviceID, k.kind).Scan(&pinnedFP)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return nil, err
	}
	pinned := err == nil

	// This key's own row, if any, locked.
	var prev string
	err = tx.QueryRow(ctx, `SELECT state FROM host_keys WHERE device_id = $1 AND fingerprint = $2 FOR UPDATE`, k.deviceID, k.fp).Scan(&prev)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return nil, err
	}
	exists := err == nil

	touch := func(state string) error {
		_, err := tx.Exec(ctx, `
			UPDATE host_keys SET last_seen = now(), seen_count = seen_count + 1, address = $3, state = $4
			WHERE device_id = $1 AND fingerprint = $2`, k.deviceID, k.fp, k.addr, state)
		return err
	}
	insert := func(state string, pinnedBy any) (bool, error) {
		var id int64
		err := tx.QueryRow(ctx, `
			INSERT INTO host_keys (device_id, kind, key_type, public_key, fingerprint, state, address, pinned_by, pinned_at)
			VALUES ($1, $8, $2, $3, $4, $5, $6, $7, CASE WHEN $5 = 'pinned' THEN now() END)
			ON CONFLICT DO NOTHING RETURNING id`,
			k.deviceID, k.keyType, k.wire, k.fp, state, k.addr, pinnedBy, k.kind).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return false, nil // someone else inserted first
		}
		return err == nil, err
	}
	record := func(action string, details map[string]any) error {
		details["fingerprint"] = k.fp
		details["key_type"] = k.keyType
		details["kind"] = k.kind
		details["address"] = k.addr
		return audit.Record(ctx, tx, audit.Event{Actor: SystemActor, Action: action, TargetKind: audit.TargetDevice, Target: k.device, Details: details})
	}

	switch {
	case exists && prev == string(StatePinned):
		// Pinned and equal (possibly pinned by a racer since our first read).
		return nil, touch(string(StatePinned))

	case pinned:
		s.log.Warn("host key mismatch: refusing device", zap.String("device", k.device), zap.String("address", k.addr),
			zap.String("presented", k.fp), zap.String("pinned", pinnedFP))
		if exists {
			if err := touch(string(StateMismatch)); err != nil {
				return nil, err
			}
			if prev != string(StateMismatch) {
				if err := record(audit.ActionHostKeyMismatch, map[string]any{"pinned": pinnedFP}); err != nil {
					return nil, err
				}
			}
		} else {
			ok, err := insert(string(StateMismatch), nil)
			if err != nil || !ok {
				return nil, orRace(err)
			}
			if err := record(audit.ActionHostKeyMismatch, map[string]any{"pinned": pinnedFP}); err != nil {
				return nil, err
			}
		}
		return fmt.Errorf("device %s presented %s, pinned %s: %w", k.device, k.fp, pinnedFP, ErrHostKeyMismatch), nil

	case tofu:
		if exists {
			// A candidate recorded earlier (e.g. while the site was strict):
			// promoting it fails on host_keys_one_pinned_idx if a racer pinned another key.
			_, err := tx.Exec(ctx, `
				UPDATE host_keys SET state = 'pinned', pinned_by = 'tofu', pinned_at = now(), last_seen = now(),
					seen_count = seen_count + 1, address = $3
				WHERE device_id = $1 AND fingerprint = $2`, k.deviceID, k.fp, k.addr)
			if err != nil {
				return nil, err
			}
		} else {
			ok, err := insert(string(StatePinned), "tofu")
			if err != nil || !ok {
				return nil, orRace(err)
			}
		}
		s.log.Info("host key pinned on first use", zap.String("device", k.device), zap.String("fingerprint", k.fp))
		return nil, record(audit.ActionHostKeyPin, map[string]any{"policy": PolicyTOFU})

	default: // strict, nothing pinned
		if exists {
			return fmt.Errorf("device %s presented %s: %w", k.device, k.fp, ErrHostKeyUnknown), touch(string(StatePending))
		}
		ok, err := insert(string(StatePending), nil)
		if err != nil || !ok {
			return nil, orRace(err)
		}
		if err := record(audit.ActionHostKeyPending, map[string]any{}); err != nil {
			return nil, err
		}
		return fmt.Errorf("device %s presented %s: %w", k.device, k.fp, ErrHostKeyUnknown), nil
	}
}

func orRace(err error) error {
	if err != nil {
		return err
	}
	return errRace
}

// CertificateFingerprint is a certificate's fingerprint in the form of SSH
// host keys ("SHA256:" + unpadded base64 of the DER's SHA-256), as pkg/fmc
// and ftdsim print it.
func CertificateFingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	return "SHA256:" + base64.RawStdEncoding.EncodeToString(sum[:])
}

// certKeyType names a certificate's key like SSH key types: x509-ed25519,
// x509-ecdsa, x509-rsa.
func certKeyType(der []byte) string {
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return "x509"
	}
	return "x509-" + strings.ToLower(c.PublicKeyAlgorithm.String())
}

// describeCertificate is what `hostkey list` shows of a certificate: its
// subject, issuer when not self-signed, and validity.
func describeCertificate(der []byte) string {
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return "unparsable certificate"
	}
	s := "subject " + c.Subject.String()
	if c.Issuer.String() == c.Subject.String() {
		s += " (self-signed)"
	} else {
		s += ", issuer " + c.Issuer.String()
	}
	return s + ", valid " + c.NotBefore.UTC().Format("2006-01-02") + " to " + c.NotAfter.UTC().Format("2006-01-02")
}

func kindWord(kind string) string {
	if kind == KeyKindTLS {
		return "certificates"
	}
	return "keys"
}
