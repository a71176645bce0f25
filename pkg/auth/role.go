package auth

import (
	"fmt"
	"strings"
)

// Role is what a token may do. Roles are ordered: each includes the ones below.
type Role int

// Roles, lowest first. The zero value is no role at all.
const (
	RoleViewer Role = iota + 1
	RoleOperator
	RoleApprover
	RoleAdmin
)

var roleNames = map[Role]string{
	RoleViewer:   "viewer",
	RoleOperator: "operator",
	RoleApprover: "approver",
	RoleAdmin:    "admin",
}

// AllRoles returns every role, lowest first.
func AllRoles() []Role { return []Role{RoleViewer, RoleOperator, RoleApprover, RoleAdmin} }

// ParseRole parses a role name ("viewer", "operator", "approver", "admin").
func ParseRole(s string) (Role, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	for r, name := range roleNames {
		if s == name {
			return r, nil
		}
	}
	return 0, fmt.Errorf("unknown role %q (known: viewer, operator, approver, admin)", s)
}

func (r Role) String() string {
	if name, ok := roleNames[r]; ok {
		return name
	}
	return fmt.Sprintf("role(%d)", int(r))
}

// Valid reports whether r is one of the four roles.
func (r Role) Valid() bool { _, ok := roleNames[r]; return ok }

// AtLeast reports whether r includes min (admin includes everything).
func (r Role) AtLeast(min Role) bool { return r.Valid() && r >= min }

// MarshalText makes a Role a name in JSON and YAML.
func (r Role) MarshalText() ([]byte, error) {
	if !r.Valid() {
		return nil, fmt.Errorf("invalid role %d", int(r))
	}
	return []byte(r.String()), nil
}

// UnmarshalText parses a role name.
func (r *Role) UnmarshalText(b []byte) error {
	p, err := ParseRole(string(b))
	if err != nil {
		return err
	}
	*r = p
	return nil
}
