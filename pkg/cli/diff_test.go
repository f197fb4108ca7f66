package cli

import "testing"

// kubectl runs a plugin with its path as argv[0]; help then names the
// program as it was typed.
func TestDisplayName(t *testing.T) {
	for argv0, want := range map[string]string{
		"tenantgen":                      "tenantgen",
		"/usr/local/bin/tenantgen":       "tenantgen",
		"cli.test":                       "tenantgen",
		"/home/me/bin/kubectl-tenantgen": "kubectl tenantgen",
		"kubectl-tenantgen.exe":          "kubectl tenantgen",
		"kubectl-tenant_gen":             "kubectl tenant-gen",
		"kubectl-":                       "tenantgen",
	} {
		if got := displayName(argv0); got != want {
			t.Errorf("displayName(%q) = %q, want %q", argv0, got, want)
		}
	}
}
