package render_test

import (
	"strings"
	"testing"
)

// The attack the issue measured: a template prints a tenant's annotation
// without quoting it, and the tenant's value carries YAML of its own. The
// write policy refuses what the injected documents would write, and the
// whole render fails: nothing of it is applied, nothing pruned.
func TestWritePolicyStopsInjectedObjects(t *testing.T) {
	injected := "x\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: pwn}\n" +
		"roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}\n" +
		"subjects: [{kind: Group, name: 'system:authenticated'}]\n" +
		"---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: pwn, namespace: kube-system}\n" +
		"---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: pwn, namespace: tenant-wind-system}"
	s := baseWorld(t, with(tenantObj("mallory", "mallory-prod"), "metadata.annotations", map[string]any{"route": injected}))
	mallory := tenantOf(t, s, "mallory")
	const unquoted = `
scope: Tenant
%s
resources:
  - generators:
      - template: |
          apiVersion: v1
          kind: ConfigMap
          metadata:
            name: routes
            namespace: tenant-{{ $.tenant.metadata.name }}-system
          data:
            route: {{ index $.tenant.metadata.annotations "route" }}
`
	// Without a policy, the defaults refuse the ClusterRoleBinding and kube-system.
	_, err := compile(t, strings.Replace(unquoted, "%s", "", 1)).Tenant(s, mallory)
	for _, want := range []string{
		`ClusterRoleBinding pwn: refused by the write policy: rbac.authorization.k8s.io/ClusterRoleBinding is cluster-scoped`,
		`ConfigMap kube-system/pwn: refused by the write policy: namespace "kube-system" belongs to the cluster`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("without a policy: want %q in %v", want, err)
		}
	}
	// With the policy the catalog declares, the foreign -system namespace is refused too.
	out, err := compile(t, strings.Replace(unquoted, "%s", "policy: {allowedKinds: [{group: '', kind: ConfigMap}], allowedNamespaces: ['tenant-{{tenant.name}}-system']}", 1)).Tenant(s, mallory)
	if out != nil {
		t.Errorf("a refused render returned objects: %v", refs(out.Objects))
	}
	for _, want := range []string{
		`ClusterRoleBinding pwn: refused by the write policy: kind rbac.authorization.k8s.io/ClusterRoleBinding is not in spec.policy.allowedKinds`,
		`ConfigMap tenant-wind-system/pwn: refused by the write policy: namespace "tenant-wind-system" matches no pattern`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("with a policy: want %q in %v", want, err)
		}
	}
	// The same template, fixed with quote, renders its one ConfigMap.
	fixed := strings.Replace(strings.Replace(unquoted, "%s", "policy: {allowedKinds: [{group: '', kind: ConfigMap}], allowedNamespaces: ['tenant-{{tenant.name}}-system']}", 1),
		`"route" }}`, `"route" | quote }}`, 1)
	objs := renderTenant(t, compile(t, fixed), s, mallory)
	if len(objs) != 1 || str(t, objs[0], "data.route") != injected {
		t.Errorf("quoted: %v", refs(objs))
	}
}

// A policy error in the spec is a compile error naming the field.
func TestWritePolicyCompileErrors(t *testing.T) {
	e := compileError(t, "scope: Tenant\npolicy: {allowedNamespaces: ['{{namespace}}']}\nresources: [{rawItems: []}]")
	if e.Origin != "spec.policy" || !strings.Contains(e.Msg, "{{namespace}} is only available in scope Namespace") {
		t.Errorf("got %+v", *e)
	}
}

// spec.healthChecks are compiled with the templates, so render, test and the
// controller refuse a bad expression alike, naming the field.
func TestHealthChecksCompileWithTheProgram(t *testing.T) {
	e := compileError(t, `
scope: Tenant
healthChecks:
  - {apiVersion: v1, kind: ConfigMap, current: "data.ready == 'yes'", failed: "data.ready ="}
resources:
  - rawItems: [{apiVersion: v1, kind: ConfigMap, metadata: {name: c, namespace: x}}]
`)
	if e.Origin != "spec.healthChecks[0].failed" || !strings.Contains(e.Msg, "Syntax error") {
		t.Fatalf("got origin %q, message %q", e.Origin, e.Msg)
	}
	p := compile(t, `
scope: Tenant
healthChecks:
  - {apiVersion: v1, kind: ConfigMap, current: "data.ready == 'yes'"}
resources:
  - rawItems: [{apiVersion: v1, kind: ConfigMap, metadata: {name: c, namespace: x}}]
`)
	if p.Health() == nil {
		t.Fatal("the program carries its health rules")
	}
}
