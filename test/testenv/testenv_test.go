package testenv

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The Capsule CRDs the suites install must be those of the Capsule module tenantgen
// imports, or the suites would test against another API than the one compiled in.
func TestCapsuleVersionMatchesGoMod(t *testing.T) {
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	var got string
	for line := range strings.Lines(string(b)) {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == CapsuleModule {
			got = f[1]
		}
	}
	if got != CapsuleVersion {
		t.Fatalf("go.mod requires %s %q, testenv installs the CRDs of %q", CapsuleModule, got, CapsuleVersion)
	}
}

func TestTenantStatusSatisfiesCapsulesRequiredFields(t *testing.T) {
	s := TenantStatus(map[string]any{"namespaces": []any{"a", "b"}})
	for _, k := range []string{"conditions", "size", "state", "namespaces"} {
		if _, ok := s[k]; !ok {
			t.Errorf("status has no %s", k)
		}
	}
	if s["size"] != int64(2) {
		t.Errorf("size = %v, want 2", s["size"])
	}
	kept := TenantStatus(map[string]any{"state": "Cordoned", "size": int64(5)})
	if kept["state"] != "Cordoned" || kept["size"] != int64(5) {
		t.Errorf("fields already set were changed: %v", kept)
	}
}
