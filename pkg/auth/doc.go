// Package auth owns API tokens and roles: token generation, hashing (only a
// SHA-256 of a token is stored, so a database dump holds no usable token),
// authentication and revocation.
//
// Roles are ordered (RoleViewer < RoleOperator < RoleApprover < RoleAdmin)
// and marshal as their names; a route names the least role it needs and
// checks it with Role.AtLeast. A Store creates a token (the plaintext is
// returned once, never again), authenticates a bearer token into an
// Identity, lists and revokes tokens. GenerateToken and HashToken are the
// token format ("fleetd_" and 256 random bits) and its hash.
//
// A token's name is an identity: it is the actor of audit events and the
// requester or approver of remediations. Names are compared without regard
// to case (SameName, and a unique index on lower(name)), so "Lead1" cannot
// approve what "lead1" requested; ReservedNames ("fleetd", "system") are the
// actors fleetd records for itself and cannot be taken.
//
// ErrInvalidToken covers a missing, malformed, unknown or revoked token
// alike: callers answer 401 without saying which.
package auth
