package api_test

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
)

// pkg/api is the contract a client links: the standard library, uuid and
// itself, nothing of fleetd's server (internal/apiserver maps onto it).
func TestAPIImportsNothingOfFleetd(t *testing.T) {
	t.Parallel()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go tool is not on PATH")
	}
	const self = "github.com/fleetd/fleetd/pkg/api"
	out, err := exec.Command(goTool, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", self).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("go list -deps: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("go list -deps: %v", err)
	}
	allowed := map[string]bool{self: true, "github.com/google/uuid": true}
	for _, pkg := range strings.Fields(string(out)) {
		if !allowed[pkg] {
			t.Errorf("pkg/api links %s; it may link only the standard library and github.com/google/uuid", pkg)
		}
	}
}
