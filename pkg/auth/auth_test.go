package auth_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fleetd/fleetd/internal/testdb"
	"github.com/fleetd/fleetd/pkg/audit"
	"github.com/fleetd/fleetd/pkg/auth"
)

func TestRoles(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want auth.Role
	}{
		{"viewer", auth.RoleViewer}, {"operator", auth.RoleOperator}, {"approver", auth.RoleApprover},
		{"admin", auth.RoleAdmin}, {" Admin ", auth.RoleAdmin},
	}
	for _, tt := range tests {
		r, err := auth.ParseRole(tt.in)
		require.NoError(t, err)
		require.Equal(t, tt.want, r)
	}
	_, err := auth.ParseRole("root")
	require.EqualError(t, err, `unknown role "root" (known: viewer, operator, approver, admin)`)

	// The order is the whole authorisation model: check every pair.
	all := auth.AllRoles()
	for i, r := range all {
		for j, min := range all {
			require.Equal(t, i >= j, r.AtLeast(min), "%s.AtLeast(%s)", r, min)
		}
	}
	require.False(t, auth.Role(0).AtLeast(auth.RoleViewer), "the zero role has no rights")
	require.False(t, auth.Role(99).AtLeast(auth.RoleViewer))

	b, err := json.Marshal(map[string]auth.Role{"role": auth.RoleApprover})
	require.NoError(t, err)
	require.JSONEq(t, `{"role":"approver"}`, string(b))
	var back struct{ Role auth.Role }
	require.NoError(t, json.Unmarshal([]byte(`{"Role":"operator"}`), &back))
	require.Equal(t, auth.RoleOperator, back.Role)
	require.Error(t, json.Unmarshal([]byte(`{"Role":"god"}`), &back))
}

func TestGenerateToken(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 100 {
		tok, err := auth.GenerateToken()
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(tok, "fleetd_"))
		require.Len(t, tok, 50)
		require.False(t, seen[tok])
		seen[tok] = true
		require.Len(t, auth.HashToken(tok), 32)
	}
}

func TestTokenLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.New(t)
	s := auth.NewStore(pool)

	plain, tok, err := s.Create(ctx, "bootstrap", "ops-emea", auth.RoleOperator)
	require.NoError(t, err)
	require.Equal(t, "ops-emea", tok.Name)
	require.Equal(t, auth.RoleOperator, tok.Role)

	// Only the hash is stored: the plaintext appears nowhere in the database.
	var n int
	require.NoError(t, pool.QueryRow(ctx, `
		SELECT count(*) FROM api_tokens t
		WHERE t::text LIKE '%' || $1 || '%' OR encode(token_hash, 'escape') LIKE '%' || $1 || '%'`, plain[7:]).Scan(&n))
	require.Zero(t, n)
	var stored []byte
	require.NoError(t, pool.QueryRow(ctx, `SELECT token_hash FROM api_tokens WHERE name = 'ops-emea'`).Scan(&stored))
	require.Equal(t, auth.HashToken(plain), stored)

	id, err := s.Authenticate(ctx, plain)
	require.NoError(t, err)
	require.Equal(t, auth.Identity{TokenID: tok.ID, Name: "ops-emea", Role: auth.RoleOperator}, id)

	toks, err := s.List(ctx)
	require.NoError(t, err)
	require.Len(t, toks, 1)
	require.NotNil(t, toks[0].LastUsedAt, "authenticate records use")
	require.WithinDuration(t, time.Now(), *toks[0].LastUsedAt, time.Minute)

	for _, bad := range []string{"", "fleetd_", plain[:len(plain)-1], plain + "x", "Bearer " + plain,
		"fleetd_" + strings.Repeat("A", 43)} {
		_, err := s.Authenticate(ctx, bad)
		require.ErrorIs(t, err, auth.ErrInvalidToken, "%q", bad)
	}

	_, _, err = s.Create(ctx, "bootstrap", "ops-emea", auth.RoleAdmin)
	require.ErrorIs(t, err, auth.ErrNameTaken)
	_, _, err = s.Create(ctx, "bootstrap", "bad name;rm", auth.RoleAdmin)
	require.ErrorContains(t, err, "bad token name")

	require.NoError(t, s.Revoke(ctx, "admin-1", "ops-emea"))
	_, err = s.Authenticate(ctx, plain)
	require.ErrorIs(t, err, auth.ErrInvalidToken)
	require.ErrorIs(t, s.Revoke(ctx, "admin-1", "ops-emea"), auth.ErrNotFound)

	// A revoked token's name can be reused; the new token is a different secret.
	plain2, _, err := s.Create(ctx, "admin-1", "ops-emea", auth.RoleViewer)
	require.NoError(t, err)
	require.NotEqual(t, plain, plain2)
	id, err = s.Authenticate(ctx, plain2)
	require.NoError(t, err)
	require.Equal(t, auth.RoleViewer, id.Role)

	events, err := audit.List(ctx, pool, audit.Filter{TargetKind: audit.TargetToken})
	require.NoError(t, err)
	var got []string
	for _, e := range events {
		got = append(got, e.Actor+" "+e.Action+" "+e.Target)
		require.NotContains(t, e.Details, "token", "no token material in audit")
	}
	require.Equal(t, []string{"admin-1 token.create ops-emea", "admin-1 token.revoke ops-emea", "bootstrap token.create ops-emea"}, got)
}

// TestTokenNamesAreIdentities replays issue 10's finding: "Lead1" could be
// created beside "lead1" and then approve lead1's requests. A live name is
// unique in any letter case, the names fleetd acts under are reserved, and
// both rules hold in the database too (a direct INSERT is refused).
func TestTokenNamesAreIdentities(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.New(t)
	s := auth.NewStore(pool)

	_, _, err := s.Create(ctx, "admin-1", "lead1", auth.RoleApprover)
	require.NoError(t, err)
	for _, dup := range []string{"Lead1", "LEAD1", "lEaD1"} {
		_, _, err = s.Create(ctx, "admin-1", dup, auth.RoleApprover)
		require.ErrorIs(t, err, auth.ErrNameTaken, dup)
	}
	for _, reserved := range []string{"fleetd", "FleetD", "system", "SYSTEM"} {
		_, _, err = s.Create(ctx, "admin-1", reserved, auth.RoleAdmin)
		require.ErrorIs(t, err, auth.ErrNameReserved, reserved)
		require.ErrorContains(t, err, reserved)
	}
	// The database enforces both, whatever code writes the row.
	_, err = pool.Exec(ctx, `INSERT INTO api_tokens (name, role, token_hash) VALUES ('LEAD1', 'approver', $1)`, auth.HashToken("x"))
	require.ErrorContains(t, err, "api_tokens_live_name_idx")
	_, err = pool.Exec(ctx, `INSERT INTO api_tokens (name, role, token_hash) VALUES ('System', 'admin', $1)`, auth.HashToken("y"))
	require.ErrorContains(t, err, "api_tokens_name_not_reserved")

	// Revoking by name finds the token in any case; afterwards the name
	// (in any case) is free again.
	require.NoError(t, s.Revoke(ctx, "admin-1", "LEAD1"))
	_, _, err = s.Create(ctx, "admin-1", "Lead1", auth.RoleApprover)
	require.NoError(t, err)

	require.True(t, auth.SameName("Lead1", "lead1"))
	require.False(t, auth.SameName("lead1", "lead2"))
}
