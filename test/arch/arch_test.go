// Package arch checks the dependency rules of ../shared/DESIGN.md with
// `go list`: domain packages never reach net/http, database/sql or an
// implementation; only the composition root picks implementations; every
// package says what it is for.
package arch

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"

	"github.com/sigilhq/sigil/internal/sigiltest"
)

const mod = "github.com/sigilhq/sigil/"

type pkg struct {
	ImportPath string
	GoFiles    []string
	Doc        string
	Imports    []string
	Deps       []string
}

func list(t *testing.T) map[string]*pkg {
	cmd := exec.Command("go", "list", "-deps=false", "-json", "./...")
	cmd.Dir = sigiltest.ModuleRoot()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	pkgs := map[string]*pkg{}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs[strings.TrimPrefix(p.ImportPath, mod)] = &p
	}
	return pkgs
}

// Domain packages: business rules only.
var domain = []string{"internal/audit", "internal/ca", "internal/certmgr", "internal/deploy", "internal/events", "internal/iam", "internal/kms", "internal/scheduler", "internal/secrets"}

// Ports and pure helpers: below the domain.
var ports = []string{"internal/pki", "internal/keys", "internal/store", "internal/seal", "internal/errs", "internal/clock", "internal/tagging", "internal/telemetry"}

// Implementations of ports, chosen only by the composition root.
var implementations = []string{"internal/store/sqlstore", "internal/keys/soft", "internal/lint", "internal/objects"}

// The composition root and test harnesses may import anything.
// internal/agent is the agent program: a composition root of its own.
var roots = []string{"cmd/sigil", "internal/server", "internal/sigiltest", "internal/agent"}

func has(list []string, path string) bool {
	for _, l := range list {
		if l == path || strings.HasPrefix(path, l+"/") {
			return true
		}
	}
	return false
}

func TestDependencyDirection(t *testing.T) {
	pkgs := list(t)
	for name, p := range pkgs {
		deps := map[string]bool{}
		for _, d := range p.Deps {
			deps[strings.TrimPrefix(d, mod)] = true
		}
		forbidden := func(why string, bad ...string) {
			for _, b := range bad {
				for d := range deps {
					// database/sql/driver holds only interfaces (google/uuid
					// implements driver.Valuer); database/sql itself is the
					// SQL access the rule forbids.
					sub := strings.HasPrefix(d, b+"/") && b != "database/sql"
					if d == b || sub {
						t.Errorf("%s depends on %s: %s", name, d, why)
					}
				}
			}
		}
		switch {
		case has(domain, name):
			forbidden("domain code must not reach HTTP or SQL", "net/http", "database/sql")
			forbidden("domain code must not use adapters or implementations",
				append(append([]string{"internal/api", "internal/server", "internal/config"}, implementations...), roots...)...)
		case has(ports, name) && !has(implementations, name):
			forbidden("ports must not reach HTTP or SQL", "net/http", "database/sql")
			forbidden("ports sit below the domain and adapters", append(append([]string{"internal/api", "internal/server"}, domain...), implementations...)...)
		case strings.HasPrefix(name, "internal/api/"):
			forbidden("adapters call the domain, not implementations", append([]string{"internal/server"}, implementations...)...)
		case has(implementations, name):
			forbidden("implementations must not depend on the domain or adapters", append([]string{"internal/api", "internal/server"}, domain...)...)
		}
	}
	if len(pkgs) < 10 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
}

func TestImplementationsOnlyInRoots(t *testing.T) {
	for name, p := range list(t) {
		if has(roots, name) || has(implementations, name) {
			continue
		}
		for _, imp := range p.Imports {
			if has(implementations, strings.TrimPrefix(imp, mod)) {
				t.Errorf("%s imports the implementation %s; only %v may", name, imp, roots)
			}
		}
	}
}

func TestPackageComments(t *testing.T) {
	for name, p := range list(t) {
		if len(p.GoFiles) == 0 {
			continue // test-only packages document themselves in their test files
		}
		if strings.TrimSpace(p.Doc) == "" {
			t.Errorf("package %s has no package comment saying what it is for", name)
		}
	}
}

// TestEveryPackageClassified keeps the rules above complete: a new internal
// package must be placed in a layer before it can be built on.
func TestEveryPackageClassified(t *testing.T) {
	for name := range list(t) {
		if !strings.HasPrefix(name, "internal/") || strings.HasPrefix(name, "internal/api/") {
			continue
		}
		if !has(domain, name) && !has(ports, name) && !has(implementations, name) && !has(roots, name) &&
			name != "internal/config" {
			t.Errorf("%s is in no layer: add it to domain, ports, implementations or roots", name)
		}
	}
}
