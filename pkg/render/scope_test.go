package render_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/projectcapsule/tenantgen/pkg/api/v1alpha1"
	"github.com/projectcapsule/tenantgen/pkg/render"
)

// listRoutes is a generator printing the routes its context sees into a
// ConfigMap "seen" in the namespace rendered for (platform outside scope Namespace).
const listRoutes = `
    generators:
      - missingKey: zero
        template: |
          apiVersion: v1
          kind: ConfigMap
          metadata:
            name: seen
            namespace: {{ with $.namespace }}{{ .metadata.name }}{{ else }}platform{{ end }}
          data:
            routes: "{{ range $.routes }}{{ .metadata.namespace }}/{{ .metadata.name }} {{ end }}"
`

// seen maps the namespace of each ConfigMap "seen" to the routes it lists.
func seen(t *testing.T, objs []render.Object) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, o := range objs {
		out[o.GetNamespace()] = strings.TrimSpace(str(t, o, "data.routes"))
	}
	return out
}

func TestContextIsolation(t *testing.T) {
	s := baseWorld(t, tenantObj("empty"))
	w := reversed{World: s}
	for _, tc := range []struct {
		name   string
		scope  v1alpha1.Scope
		tenant string
		ref    string // the context entry's extra fields
		want   map[string]string
	}{{
		// wind-prod/sneaky carries solar's label but lives in wind's namespace.
		name: "scope Tenant lists only the tenant's namespaces", scope: v1alpha1.ScopeTenant, tenant: "solar",
		ref:  `selector: {matchLabels: {projectcapsule.dev/tenant: "{{tenant.name}}"}}`,
		want: map[string]string{"platform": "solar-dev/api solar-prod/shop"},
	}, {
		name: "scope Tenant, the other tenant", scope: v1alpha1.ScopeTenant, tenant: "wind",
		ref:  `selector: {matchLabels: {projectcapsule.dev/tenant: "{{tenant.name}}"}}`,
		want: map[string]string{"platform": "wind-prod/blog"},
	}, {
		name: "scope Tenant, a tenant without namespaces sees nothing", scope: v1alpha1.ScopeTenant, tenant: "empty",
		want: map[string]string{"platform": ""},
	}, {
		name: "an explicit namespace may point anywhere", scope: v1alpha1.ScopeTenant, tenant: "solar",
		ref:  `namespace: wind-prod`,
		want: map[string]string{"platform": "wind-prod/blog wind-prod/sneaky"},
	}, {
		name: "scope Namespace defaults to the iterated namespace", scope: v1alpha1.ScopeNamespace, tenant: "solar",
		want: map[string]string{"solar-dev": "solar-dev/api", "solar-prod": "solar-prod/shop"},
	}, {
		name: "scope Namespace, explicit namespace", scope: v1alpha1.ScopeNamespace, tenant: "solar",
		ref:  `namespace: wind-prod`,
		want: map[string]string{"solar-dev": "wind-prod/blog wind-prod/sneaky", "solar-prod": "wind-prod/blog wind-prod/sneaky"},
	}, {
		name: "scope None lists cluster-wide", scope: v1alpha1.ScopeNone,
		ref:  `selector: {matchLabels: {projectcapsule.dev/tenant: solar}}`,
		want: map[string]string{"platform": "solar-dev/api solar-prod/shop wind-prod/sneaky"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			p := compile(t, `
scope: `+string(tc.scope)+`
resources:
  - context:
      resources:
        - {index: routes, apiVersion: gateway.networking.k8s.io/v1, kind: HTTPRoute, `+strings.TrimSpace(tc.ref)+`}`+listRoutes)
			var objs []render.Object
			if tc.scope == v1alpha1.ScopeNone {
				out, err := p.Cluster(w, s.Tenants.Tenants())
				if err != nil {
					t.Fatal(err)
				}
				objs = out.Objects
			} else {
				objs = renderTenant(t, p, w, tenantOf(t, s, tc.tenant))
			}
			if diff := cmp.Diff(tc.want, seen(t, objs)); diff != "" {
				t.Errorf("routes seen per namespace (-want +got):\n%s", diff)
			}
		})
	}
}

// allowClusterRoles is the policy that lets scopes Tenant and Namespace write ClusterRoles.
const allowClusterRoles = "policy: {allowedKinds: [{group: rbac.authorization.k8s.io, kind: ClusterRole}, {group: '', kind: '*'}]}\n"

func TestScopes(t *testing.T) {
	s := baseWorld(t)
	solar := tenantOf(t, s, "solar")
	const items = `
    rawItems:
      - {apiVersion: v1, kind: ConfigMap, metadata: {name: raw, namespace: platform}}
      - {apiVersion: rbac.authorization.k8s.io/v1, kind: ClusterRole, metadata: {name: "cr-{{ID}}", namespace: ignored}}
    generators:
      - missingKey: zero
        template: |
          apiVersion: v1
          kind: ConfigMap
          metadata: {name: gen, namespace: platform}
          data:
            tenant: "{{ with $.tenant }}{{ .metadata.name }}{{ end }}"
            namespace: "{{ with $.namespace }}{{ .metadata.name }}{{ end }}"
            tenants: "{{ range $.tenants }}{{ .metadata.name }} {{ end }}"
`
	for _, tc := range []struct {
		name, spec, id string
		want           []string          // objects rendered, in apply order
		data           map[string]string // ns -> data of gen
	}{{
		name: "Tenant renders once per tenant",
		spec: "scope: Tenant\n" + allowClusterRoles + "resources:\n  - ", id: "{{tenant.name}}",
		want: []string{"ClusterRole cr-solar", "ConfigMap platform/raw", "ConfigMap platform/gen"},
		data: map[string]string{"platform": "solar||"},
	}, {
		name: "Namespace is the default, renders per namespace and forces namespaced objects into it",
		spec: allowClusterRoles + "resources:\n  - ", id: "{{namespace}}",
		want: []string{"ClusterRole cr-solar-dev", "ClusterRole cr-solar-prod",
			"ConfigMap solar-dev/raw", "ConfigMap solar-dev/gen", "ConfigMap solar-prod/raw", "ConfigMap solar-prod/gen"},
		data: map[string]string{"solar-dev": "solar|solar-dev|", "solar-prod": "solar|solar-prod|"},
	}, {
		name: "namespaceSelector narrows the namespaces",
		spec: "scope: Namespace\n" + allowClusterRoles + "resources:\n  - namespaceSelector: {matchLabels: {stage: prod}}\n    ", id: "{{namespace}}",
		want: []string{"ClusterRole cr-solar-prod", "ConfigMap solar-prod/raw", "ConfigMap solar-prod/gen"},
		data: map[string]string{"solar-prod": "solar|solar-prod|"},
	}, {
		name: "None renders once with every tenant",
		spec: "scope: None\nresources:\n  - ", id: "cluster",
		want: []string{"ClusterRole cr-cluster", "ConfigMap platform/raw", "ConfigMap platform/gen"},
		data: map[string]string{"platform": "||solar wind "},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			p := compile(t, tc.spec+strings.Replace(strings.TrimPrefix(items, "\n    "), "{{ID}}", tc.id, 1))
			var objs []render.Object
			var outTenant string
			if p.Scope() == v1alpha1.ScopeNone {
				out, err := p.Cluster(s, s.Tenants.Tenants())
				if err != nil {
					t.Fatal(err)
				}
				objs, outTenant = out.Objects, out.Tenant
			} else {
				objs, outTenant = renderTenant(t, p, s, solar), "solar"
			}
			if diff := cmp.Diff(tc.want, refs(objs)); diff != "" {
				t.Fatalf("objects (-want +got):\n%s", diff)
			}
			data := map[string]string{}
			for _, o := range objs {
				if o.GetName() == "gen" {
					data[o.GetNamespace()] = str(t, o, "data.tenant") + "|" + str(t, o, "data.namespace") + "|" + str(t, o, "data.tenants")
				}
				if got := o.GetLabels()[v1alpha1.LabelGlobalTenantResource]; got != "test" {
					t.Errorf("%s: label %s = %q", o.Ref(), v1alpha1.LabelGlobalTenantResource, got)
				}
				if got, ok := o.GetLabels()[v1alpha1.LabelTenant]; got != outTenant || ok != (outTenant != "") {
					t.Errorf("%s: label %s = %q, want %q", o.Ref(), v1alpha1.LabelTenant, got, outTenant)
				}
				if o.Tenant != outTenant {
					t.Errorf("%s: Tenant = %q, want %q", o.Ref(), o.Tenant, outTenant)
				}
			}
			if diff := cmp.Diff(tc.data, data); diff != "" {
				t.Errorf("data of gen: tenant|namespace|tenants (-want +got):\n%s", diff)
			}
		})
	}
}

func TestScopeMismatch(t *testing.T) {
	s := baseWorld(t)
	tenantScope := compile(t, "scope: Tenant\nresources: []")
	if _, err := tenantScope.Cluster(s, nil); err == nil || !strings.Contains(err.Error(), "renders per tenant") {
		t.Errorf("Cluster on scope Tenant: %v", err)
	}
	noneScope := compile(t, "scope: None\nresources: []")
	if e := renderError(t, noneScope, s, tenantOf(t, s, "solar")); !strings.Contains(e.Msg, "renders once for the cluster") {
		t.Errorf("Tenant on scope None: %v", e)
	}
	// A namespaced object rendered per tenant must say where it goes.
	p := compile(t, "scope: Tenant\nresources:\n  - rawItems: [{apiVersion: v1, kind: ConfigMap, metadata: {name: a}}]")
	e := renderError(t, p, s, tenantOf(t, s, "solar"))
	if e.Origin != "resources[0].rawItems[0]" || e.Object != "ConfigMap a" || e.Msg != "metadata.namespace is required for a namespaced kind in scope Tenant" {
		t.Errorf("got %+v", *e)
	}
}

func TestScopeNoneDropsATenantMark(t *testing.T) {
	s := baseWorld(t)
	p := compile(t, `
scope: None
resources:
  - rawItems: [{apiVersion: v1, kind: ConfigMap, metadata: {name: a, namespace: platform, labels: {addons.projectcapsule.dev/tenant: solar}}}]`)
	out, err := p.Cluster(s, nil)
	if err != nil {
		t.Fatal(err)
	}
	if l := out.Objects[0].GetLabels(); l[v1alpha1.LabelTenant] != "" || l[v1alpha1.LabelGlobalTenantResource] != "test" || out.Tenant != "" {
		t.Errorf("labels %v, Output.Tenant %q", l, out.Tenant)
	}
}

func TestCrossTenantGuard(t *testing.T) {
	s := baseWorld(t, tenantObj("oil", "oil-listed")) // oil-listed: known only from status
	solar := tenantOf(t, s, "solar")
	for _, tc := range []struct {
		name, item, object, msg string
	}{
		{"namespaced object in another tenant's namespace", `{apiVersion: v1, kind: ConfigMap, metadata: {name: x, namespace: wind-prod}}`,
			"ConfigMap wind-prod/x", `namespace "wind-prod" belongs to tenant "wind"; an object rendered for tenant "solar" may not land there`},
		{"namespace listed only in another tenant's status", `{apiVersion: v1, kind: ConfigMap, metadata: {name: x, namespace: oil-listed}}`,
			"ConfigMap oil-listed/x", `namespace "oil-listed" belongs to tenant "oil"`},
		{"Namespace named like another tenant's", `{apiVersion: v1, kind: Namespace, metadata: {name: wind-prod}}`,
			"Namespace wind-prod", `namespace "wind-prod" belongs to tenant "wind"`},
		{"Namespace labelled for another tenant", `{apiVersion: v1, kind: Namespace, metadata: {name: new, labels: {capsule.clastix.io/tenant: wind}}}`,
			"Namespace new", `a Namespace rendered for tenant "solar" must not be labelled capsule.clastix.io/tenant=wind`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := compile(t, "scope: Tenant\npolicy: {allowedKinds: [{group: '', kind: '*'}]}\nresources:\n  - rawItems: ["+tc.item+"]")
			e := renderError(t, p, s, solar)
			if e.Tenant != "solar" || e.Origin != "resources[0].rawItems[0]" || e.Object != tc.object || !strings.Contains(e.Msg, tc.msg) {
				t.Errorf("got %+v\nwant object %q, msg %q", *e, tc.object, tc.msg)
			}
		})
	}
	// Its own namespaces, a new namespace of its own and unowned namespaces are fine.
	p := compile(t, `
scope: Tenant
policy: {allowedKinds: [{group: '', kind: ConfigMap}, {group: '', kind: Namespace}]}
resources:
  - rawItems:
      - {apiVersion: v1, kind: ConfigMap, metadata: {name: x, namespace: solar-prod}}
      - {apiVersion: v1, kind: ConfigMap, metadata: {name: x, namespace: platform}}
      - {apiVersion: v1, kind: Namespace, metadata: {name: solar-new, labels: {capsule.clastix.io/tenant: solar}}}
      - {apiVersion: v1, kind: Namespace, metadata: {name: solar-prod}}`)
	if got := renderTenant(t, p, s, solar); len(got) != 4 {
		t.Errorf("rendered %v", refs(got))
	}
}

func TestAdditionalMetadataAndMarks(t *testing.T) {
	s := baseWorld(t)
	p := compile(t, `
scope: Namespace
resources:
  - additionalMetadata:
      labels: {team: "{{tenant.name}}", "ns-{{namespace}}": "yes", keep: from-gtr}
      annotations: {"owner.example.com/{{tenant.name}}": "{{namespace}}"}
    rawItems:
      - apiVersion: v1
        kind: ConfigMap
        metadata:
          name: a
          labels: {keep: from-object, addons.projectcapsule.dev/globaltenantresource: other, addons.projectcapsule.dev/tenant: wind}
          annotations: {own: "1"}
    namespaceSelector: {matchLabels: {stage: dev}}`)
	o := renderTenant(t, p, s, tenantOf(t, s, "solar"))[0]
	wantLabels := map[string]string{
		"team": "solar", "ns-solar-dev": "yes", "keep": "from-object",
		v1alpha1.LabelGlobalTenantResource: "test", v1alpha1.LabelTenant: "solar",
	}
	if diff := cmp.Diff(wantLabels, o.GetLabels()); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{"own": "1", "owner.example.com/solar": "solar-dev"}, o.GetAnnotations()); diff != "" {
		t.Errorf("annotations (-want +got):\n%s", diff)
	}
}

func TestNamespacedItems(t *testing.T) {
	source := func(name string, labels ...string) *unstructured.Unstructured {
		u := object("v1", "Secret", "platform", name, labels...)
		u.SetUID("1234")
		u.SetResourceVersion("99")
		u.SetGeneration(3)
		u.SetAnnotations(map[string]string{"keep": "me", "kubectl.kubernetes.io/last-applied-configuration": "{}"})
		with(u, "metadata.managedFields", []any{map[string]any{"manager": "kubectl"}})
		with(u, "metadata.creationTimestamp", "2024-01-01T00:00:00Z")
		with(u, "metadata.ownerReferences", []any{map[string]any{"kind": "X", "name": "y"}})
		with(u, "status", map[string]any{"phase": "x"})
		return with(u, "data", map[string]any{"k": "dg=="})
	}
	s := baseWorld(t, source("registry", "app", "pull"), source("cred-solar"), source("cred-wind"))
	solar := tenantOf(t, s, "solar")
	p := compile(t, `
resources:
  - namespacedItems:
      - {apiVersion: v1, kind: Secret, namespace: platform, name: "cred-{{tenant.name}}"}
      - {apiVersion: v1, kind: Secret, namespace: platform, selector: {matchLabels: {app: pull}}}
      - {apiVersion: v1, kind: Secret, namespace: platform, name: absent, optional: true}`)
	objs := renderTenant(t, p, s, solar)
	want := []string{"Secret solar-dev/cred-solar", "Secret solar-dev/registry", "Secret solar-prod/cred-solar", "Secret solar-prod/registry"}
	if diff := cmp.Diff(want, refs(objs)); diff != "" {
		t.Fatalf("objects (-want +got):\n%s", diff)
	}
	got := find(t, objs, "Secret solar-prod/registry").Object
	wantObj := map[string]any{
		"apiVersion": "v1", "kind": "Secret", "data": map[string]any{"k": "dg=="},
		"metadata": map[string]any{
			"name": "registry", "namespace": "solar-prod",
			"labels":      map[string]any{"app": "pull", v1alpha1.LabelGlobalTenantResource: "test", v1alpha1.LabelTenant: "solar"},
			"annotations": map[string]any{"keep": "me"},
		},
	}
	if diff := cmp.Diff(wantObj, got); diff != "" {
		t.Errorf("copy (-want +got):\n%s", diff)
	}
	// The source is untouched.
	src, _ := s.List(object("v1", "Secret", "", "").GroupVersionKind(), "platform", labels.Everything())
	if src[0].GetUID() != "1234" || len(src[0].GetAnnotations()) != 2 || src[0].GetNamespace() != "platform" {
		t.Errorf("source modified: %v", src[0].Object)
	}

	missing := compile(t, "resources:\n  - namespaceSelector: {matchLabels: {stage: dev}}\n    namespacedItems: [{apiVersion: v1, kind: Secret, namespace: platform, name: absent}]")
	if e := renderError(t, missing, s, solar); e.Origin != "resources[0].namespacedItems[0]" || e.Namespace != "solar-dev" ||
		e.Msg != `Secret "absent" not found in namespace platform (set optional: true if it may be absent)` {
		t.Errorf("missing source: %+v", *e)
	}
	for spec, msg := range map[string]string{
		"scope: Tenant\nresources:\n  - namespacedItems: [{apiVersion: v1, kind: Secret, namespace: platform}]": "namespacedItems are only allowed with scope Namespace",
		"resources:\n  - namespacedItems: [{apiVersion: v1, kind: Secret, name: x}]":                            "namespace is required",
	} {
		if e := compileError(t, spec); !strings.Contains(e.Msg, msg) {
			t.Errorf("%s: %v", spec, e)
		}
	}
}

func TestProgramAccessors(t *testing.T) {
	s := baseWorld(t)
	p := compile(t, `
scope: Namespace
tenantSelector: {matchLabels: {env: test}}
resources:
  - context: {resources: [{index: a, apiVersion: v1, kind: ConfigMap, name: x, namespace: platform}]}
    namespacedItems: [{apiVersion: v1, kind: Secret, namespace: platform}]
  - context: {resources: [{index: b, apiVersion: gateway.networking.k8s.io/v1, kind: HTTPRoute, optional: true}]}`)
	if p.Name() != "test" || p.Scope() != v1alpha1.ScopeNamespace {
		t.Errorf("Name %q, Scope %q", p.Name(), p.Scope())
	}
	if p.Selects(tenantOf(t, s, "solar")) || !p.Selects(tenantOf(t, s, "wind")) {
		t.Error("tenantSelector env=test must select wind only")
	}
	var got []string
	for _, r := range p.References() {
		got = append(got, r.Kind+" "+r.Namespace+"/"+r.Name)
	}
	if diff := cmp.Diff([]string{"ConfigMap platform/x", "Secret platform/", "HTTPRoute /"}, got); diff != "" {
		t.Errorf("References (-want +got):\n%s", diff)
	}
	if all := compile(t, "scope: Tenant\nresources: []"); !all.Selects(tenantOf(t, s, "solar")) {
		t.Error("an empty tenantSelector must select every tenant")
	}
}
