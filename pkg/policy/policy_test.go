package policy_test

import (
	"strings"
	"testing"

	"github.com/projectcapsule/tenantgen/pkg/api/v1alpha1"
	"github.com/projectcapsule/tenantgen/pkg/policy"
)

// owners: solar owns solar-prod, wind owns wind-prod; platform and
// tenant-wind-system belong to no tenant.
func owner(ns string) string {
	switch ns {
	case "solar-prod":
		return "solar"
	case "wind-prod":
		return "wind"
	}
	return ""
}

var (
	configMap = func(ns string) policy.Object {
		return policy.Object{Kind: "ConfigMap", Namespace: ns, Name: "x", Namespaced: true}
	}
	crb       = policy.Object{Group: "rbac.authorization.k8s.io", Kind: "ClusterRoleBinding", Name: "pwn"}
	namespace = func(name string) policy.Object { return policy.Object{Kind: "Namespace", Name: name} }
	gateway   = policy.Object{Group: "gateway.networking.k8s.io", Kind: "Gateway", Namespace: "tenant-solar-system", Name: "gw", Namespaced: true}
)

func TestPolicy(t *testing.T) {
	for _, tc := range []struct {
		name   string
		scope  v1alpha1.Scope
		spec   *v1alpha1.Policy
		tenant string
		obj    policy.Object
		rule   string // "" allowed, else a substring of the refusal
	}{
		// rule 1: kinds
		{"defaults: a namespaced kind", v1alpha1.ScopeTenant, nil, "solar", configMap("solar-prod"), ""},
		{"defaults: a cluster-scoped kind in scope Tenant", v1alpha1.ScopeTenant, nil, "solar", crb, "rbac.authorization.k8s.io/ClusterRoleBinding is cluster-scoped: in scope Tenant a cluster-scoped kind needs an entry in spec.policy.allowedKinds"},
		{"defaults: a Namespace in scope Namespace", v1alpha1.ScopeNamespace, nil, "solar", namespace("solar-new"), "Namespace is cluster-scoped"},
		{"defaults: a cluster-scoped kind in scope None", v1alpha1.ScopeNone, nil, "", crb, ""},
		{"listed cluster-scoped kind", v1alpha1.ScopeTenant, &v1alpha1.Policy{AllowedKinds: []v1alpha1.GroupKind{{Group: "rbac.authorization.k8s.io", Kind: "ClusterRoleBinding"}}}, "solar", crb, ""},
		{"a whole group", v1alpha1.ScopeTenant, &v1alpha1.Policy{AllowedKinds: []v1alpha1.GroupKind{{Group: "gateway.networking.k8s.io", Kind: "*"}}}, "solar", gateway, ""},
		{"kind not listed", v1alpha1.ScopeTenant, &v1alpha1.Policy{AllowedKinds: []v1alpha1.GroupKind{{Group: "gateway.networking.k8s.io", Kind: "HTTPRoute"}}}, "solar", gateway, "kind gateway.networking.k8s.io/Gateway is not in spec.policy.allowedKinds"},
		{"the core group is not every group", v1alpha1.ScopeTenant, &v1alpha1.Policy{AllowedKinds: []v1alpha1.GroupKind{{Group: "", Kind: "*"}}}, "solar", gateway, "not in spec.policy.allowedKinds"},
		{"allowedKinds restricts scope None too", v1alpha1.ScopeNone, &v1alpha1.Policy{AllowedKinds: []v1alpha1.GroupKind{{Kind: "ConfigMap"}}}, "", crb, "not in spec.policy.allowedKinds"},
		// rule 2: other tenants
		{"its own namespace", v1alpha1.ScopeTenant, nil, "solar", configMap("solar-prod"), ""},
		{"a namespace of no tenant", v1alpha1.ScopeTenant, nil, "solar", configMap("tenant-wind-system"), ""},
		{"another tenant's namespace", v1alpha1.ScopeTenant, nil, "solar", configMap("wind-prod"), `namespace "wind-prod" belongs to tenant "wind"; an object rendered for tenant "solar" may not land there`},
		{"another tenant's namespace even when allowed by pattern", v1alpha1.ScopeTenant, &v1alpha1.Policy{AllowedNamespaces: []string{"*"}}, "solar", configMap("wind-prod"), `belongs to tenant "wind"`},
		{"a Namespace another tenant owns", v1alpha1.ScopeTenant, &v1alpha1.Policy{AllowedKinds: []v1alpha1.GroupKind{{Kind: "Namespace"}}}, "solar", namespace("wind-prod"), `belongs to tenant "wind"`},
		// rule 3: namespaces
		{"defaults: kube-system", v1alpha1.ScopeTenant, nil, "solar", configMap("kube-system"), `namespace "kube-system" belongs to the cluster`},
		{"defaults: kube-system in scope None", v1alpha1.ScopeNone, nil, "", configMap("kube-system"), "belongs to the cluster"},
		{"kube-system listed", v1alpha1.ScopeNone, &v1alpha1.Policy{AllowedNamespaces: []string{"kube-system"}}, "", configMap("kube-system"), ""},
		{"pattern with the tenant", v1alpha1.ScopeTenant, &v1alpha1.Policy{AllowedNamespaces: []string{"tenant-{{tenant.name}}-system"}}, "solar", gateway, ""},
		{"pattern with a spaced placeholder", v1alpha1.ScopeTenant, &v1alpha1.Policy{AllowedNamespaces: []string{"tenant-{{ tenant.name }}-system"}}, "solar", gateway, ""},
		{"pattern of another tenant", v1alpha1.ScopeTenant, &v1alpha1.Policy{AllowedNamespaces: []string{"tenant-{{tenant.name}}-system"}}, "solar", configMap("tenant-wind-system"), `namespace "tenant-wind-system" matches no pattern of spec.policy.allowedNamespaces [tenant-{{tenant.name}}-system]`},
		{"glob", v1alpha1.ScopeTenant, &v1alpha1.Policy{AllowedNamespaces: []string{"{{tenant.name}}-*"}}, "solar", configMap("solar-prod"), ""},
		{"glob does not match", v1alpha1.ScopeTenant, &v1alpha1.Policy{AllowedNamespaces: []string{"{{tenant.name}}-*"}}, "solar", configMap("platform"), "matches no pattern"},
		{"the target namespace", v1alpha1.ScopeNamespace, &v1alpha1.Policy{AllowedNamespaces: []string{"{{namespace}}"}}, "solar", policy.Object{Kind: "ConfigMap", Namespace: "solar-prod", Name: "x", Namespaced: true, Target: "solar-prod"}, ""},
		{"a Namespace by its name", v1alpha1.ScopeTenant, &v1alpha1.Policy{AllowedKinds: []v1alpha1.GroupKind{{Kind: "Namespace"}}, AllowedNamespaces: []string{"{{tenant.name}}-*"}}, "solar", namespace("other"), `namespace "other" matches no pattern`},
		{"a cluster-scoped object has no namespace to check", v1alpha1.ScopeTenant, &v1alpha1.Policy{AllowedKinds: []v1alpha1.GroupKind{{Group: "rbac.authorization.k8s.io", Kind: "*"}}, AllowedNamespaces: []string{"x"}}, "solar", crb, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := policy.Compile(tc.scope, tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			vs := p.Check(policy.Input{Tenant: tc.tenant, Owner: owner, Objects: []policy.Object{tc.obj}})
			switch {
			case tc.rule == "" && len(vs) != 0:
				t.Errorf("refused: %+v", vs)
			case tc.rule != "" && (len(vs) != 1 || vs[0].Index != 0 || !strings.Contains(vs[0].Rule, tc.rule)):
				t.Errorf("got %+v, want it refused with %q", vs, tc.rule)
			}
		})
	}
}

func TestCompileRejects(t *testing.T) {
	for _, tc := range []struct {
		scope v1alpha1.Scope
		spec  v1alpha1.Policy
		msg   string
	}{
		{v1alpha1.ScopeNone, v1alpha1.Policy{AllowedNamespaces: []string{"a", "tenant-{{tenant.name}}"}}, "spec.policy.allowedNamespaces[1]: {{tenant.name}} is not available in scope None"},
		{v1alpha1.ScopeTenant, v1alpha1.Policy{AllowedNamespaces: []string{"{{namespace}}"}}, "{{namespace}} is only available in scope Namespace"},
		{v1alpha1.ScopeTenant, v1alpha1.Policy{AllowedNamespaces: []string{"{{tenant.nam}}"}}, "unknown placeholder {{tenant.nam}}"},
		{v1alpha1.ScopeTenant, v1alpha1.Policy{AllowedNamespaces: []string{"a[b"}}, "is not a pattern"},
		{v1alpha1.ScopeTenant, v1alpha1.Policy{AllowedKinds: []v1alpha1.GroupKind{{Group: "apps"}}}, "spec.policy.allowedKinds[0]: kind is required"},
	} {
		if _, err := policy.Compile(tc.scope, &tc.spec); err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%+v: got %v, want %q", tc.spec, err, tc.msg)
		}
	}
}
