package main

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
)

// fleetctl is a client: it talks to fleetd through pkg/api (wire types and
// the Go client) and links nothing of the server, its stores or its queue.
// A new import that drags in pgx, River or a server package fails here, not
// in a binary-size review.
func TestFleetctlLinksNoServerPackage(t *testing.T) {
	t.Parallel()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go tool is not on PATH")
	}
	const module = "github.com/fleetd/fleetd/"
	out, err := exec.Command(goTool, "list", "-deps", "-f", "{{.ImportPath}}", module+"cmd/fleetctl").Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("go list -deps: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("go list -deps: %v", err)
	}

	// The only fleetd packages fleetctl may link.
	allowed := func(pkg string) bool {
		return pkg == module+"pkg/api" || pkg == module+"cmd/fleetctl" ||
			strings.HasPrefix(pkg, module+"cmd/fleetctl/")
	}
	// Named so the failure says why, not only that a package is not allowed.
	forbidden := []string{
		"github.com/jackc/pgx", "github.com/riverqueue",
		module + "internal/", // wiring and the server (internal/apiserver, internal/app, internal/config, ...)
		module + "pkg/runs", module + "pkg/remediate", module + "pkg/inventory", module + "pkg/runner",
		module + "pkg/sweep", module + "pkg/notify", module + "pkg/audit", module + "pkg/auth",
		module + "pkg/metrics", module + "pkg/sim",
	}

	deps := strings.Fields(string(out))
	sawAPI := false
	for _, pkg := range deps {
		sawAPI = sawAPI || pkg == module+"pkg/api"
		for _, f := range forbidden {
			if pkg == strings.TrimSuffix(f, "/") || strings.HasPrefix(pkg, strings.TrimSuffix(f, "/")+"/") {
				t.Errorf("fleetctl links %s (forbidden: %s)", pkg, f)
			}
		}
		if strings.HasPrefix(pkg, module) && !allowed(pkg) {
			t.Errorf("fleetctl links %s; of fleetd it may link only pkg/api and cmd/fleetctl/...", pkg)
		}
	}
	if !sawAPI {
		t.Fatalf("go list -deps did not list pkg/api; is this the fleetctl module?\n%s", out)
	}
}
