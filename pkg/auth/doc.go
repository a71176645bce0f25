// Package auth owns API tokens and roles: token generation, hashing (only a
// SHA-256 of a token is stored), authentication and revocation.
//
// API:
//
//	type Role int; RoleViewer < RoleOperator < RoleApprover < RoleAdmin
//	ParseRole(s string) (Role, error); (Role) String(); (Role) AtLeast(min Role) bool; AllRoles() []Role
//	Role marshals to/from JSON and YAML as its name ("viewer", ...).
//	type Identity struct {TokenID, Name string; Role Role}     // Name is the actor recorded in audit events
//	type Token struct {ID, Name string; Role Role; CreatedBy string; CreatedAt time.Time; LastUsedAt, RevokedAt *time.Time}
//	NewStore(pool *pgxpool.Pool) *Store
//	(*Store) Create(ctx, actor, name string, role Role) (plaintext string, Token, error)  // plaintext shown once
//	(*Store) Authenticate(ctx, plaintext string) (Identity, error)                       // ErrInvalidToken
//	(*Store) Revoke(ctx, actor, name string) error                                        // ErrNotFound
//	(*Store) List(ctx) ([]Token, error)                                                   // active and revoked
//	GenerateToken() (string, error)   // "fleetd_" + 43 chars of base64url (32 random bytes)
//	HashToken(plaintext string) []byte
//	ValidateName(name string) error; SameName(a, b string) bool   // names are identities, case-insensitive
//	ReservedNames ("fleetd", "system": the actors fleetd records for itself)
//
// Errors: ErrInvalidToken (missing, malformed, unknown or revoked: callers answer
// 401 without saying which), ErrNameTaken (in any letter case), ErrNameReserved, ErrNotFound.
package auth
